"""The region's reward policy, and the issuance of 良票 for approved hours.

Issuance follows `hours.approved` events: one `RewardIssuance` per hours
record (a unique constraint), so a second delivery changes nothing. A
correction that supersedes a record issues, or claws back, the difference
between what the new record is worth and what the volunteer holds from the
old one. Caps and the budget let through what fits; every shortfall is
recorded with its reason on the issuance row.

Issuances of one region take turns on the region's policy row (locked for
update), so two events for one volunteer cannot both fit under one cap.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any, TypeVar

from sqlalchemy.ext.asyncio import AsyncSession

from app.core import clock
from app.identity.principals import StaffContext
from app.integrations import outbox
from app.ledger import service as ledger
from app.orgs.authz import require_center_admin_of
from app.orgs.service import get_region
from app.rewards import repository
from app.rewards.models import (
    DEFAULT_ADJUSTMENT_THRESHOLD,
    DEFAULT_EARNING_SOURCES,
    DEFAULT_RATE_PER_HOUR,
    EarningSource,
    IssuanceReason,
    RewardIssuance,
    RewardPolicy,
)
from app.rewards.repository import Scope
from app.rewards.schemas import RewardPolicyOut, RewardPolicyUpdate

log = logging.getLogger("liangpiao.rewards")
T = TypeVar("T")

HOURS_APPROVED = "hours.approved"
REFERENCE_TYPE = "hours_record"
ACTOR = "system:rewards"


# --- the policy -------------------------------------------------------------------------


def _policy_out(region_id: uuid.UUID, policy: RewardPolicy | None) -> RewardPolicyOut:
    if policy is None:
        return RewardPolicyOut(
            region_id=region_id,
            rate_per_hour=DEFAULT_RATE_PER_HOUR,
            earning_sources=list(DEFAULT_EARNING_SOURCES),
            activity_cap=None,
            daily_cap=None,
            yearly_cap=None,
            yearly_budget=None,
            adjustment_threshold=DEFAULT_ADJUSTMENT_THRESHOLD,
            is_default=True,
            updated_at=None,
            updated_by_id=None,
        )
    return RewardPolicyOut(
        region_id=region_id,
        rate_per_hour=policy.rate_per_hour,
        earning_sources=[EarningSource(s) for s in policy.earning_sources],
        activity_cap=policy.activity_cap,
        daily_cap=policy.daily_cap,
        yearly_cap=policy.yearly_cap,
        yearly_budget=policy.yearly_budget,
        adjustment_threshold=policy.adjustment_threshold,
        is_default=policy.updated_by_id is None,
        updated_at=policy.updated_at if policy.updated_by_id is not None else None,
        updated_by_id=policy.updated_by_id,
    )


async def open_policy(session: AsyncSession, *, region_id: uuid.UUID) -> None:
    """Give a new region its policy row, with the defaults (still reported as the default):
    the row its issuances lock."""
    await repository.lock_policy(session, region_id)


async def get_policy(
    session: AsyncSession, *, staff: StaffContext, region_id: uuid.UUID
) -> RewardPolicyOut:
    require_center_admin_of(staff, region_id)
    return _policy_out(region_id, await repository.find_policy(session, region_id))


async def set_policy(
    session: AsyncSession,
    *,
    staff: StaffContext,
    region_id: uuid.UUID,
    update: RewardPolicyUpdate,
) -> RewardPolicyOut:
    require_center_admin_of(staff, region_id)
    policy = await repository.lock_policy(session, region_id)
    policy.rate_per_hour = update.rate_per_hour
    policy.earning_sources = [s.value for s in update.earning_sources]
    policy.activity_cap = update.activity_cap
    policy.daily_cap = update.daily_cap
    policy.yearly_cap = update.yearly_cap
    policy.yearly_budget = update.yearly_budget
    policy.adjustment_threshold = update.adjustment_threshold
    policy.updated_at = clock.now()
    policy.updated_by_id = staff.id
    await session.flush()
    log.info(
        "reward policy set",
        extra={"region_id": str(region_id), "staff_id": str(staff.id)},
    )
    return _policy_out(region_id, policy)


# --- issuance ---------------------------------------------------------------------------


@dataclass(frozen=True)
class HoursApproved:
    """The payload of an `hours.approved` event (see the activities contract)."""

    region_id: uuid.UUID
    hours_record_id: uuid.UUID
    volunteer_id: uuid.UUID
    activity_id: uuid.UUID | None
    minutes: int
    source: str
    supersedes_id: uuid.UUID | None
    service_date: date
    approved_at: datetime | None
    approved_by: str | None

    @classmethod
    def parse(cls, region_id: uuid.UUID, payload: dict[str, Any]) -> HoursApproved:
        """Read an event payload; a malformed one raises, so the event waits for a fix."""

        def need(key: str, convert: Callable[[Any], T]) -> T:
            try:
                return convert(payload[key])
            except (KeyError, TypeError, ValueError) as exc:
                raise ValueError(f"malformed {HOURS_APPROVED} payload: {key}: {exc!r}") from exc

        def maybe(key: str, convert: Callable[[Any], T]) -> T | None:
            return None if payload.get(key) is None else need(key, convert)

        def as_uuid(value: Any) -> uuid.UUID:
            return uuid.UUID(str(value))

        def as_minutes(value: Any) -> int:
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise ValueError(f"{value!r} is not a whole number of minutes")
            return value

        def as_instant(value: Any) -> datetime:
            instant = datetime.fromisoformat(str(value))
            return instant if instant.tzinfo else instant.replace(tzinfo=UTC)

        return cls(
            region_id=region_id,
            hours_record_id=need("hours_record_id", as_uuid),
            volunteer_id=need("volunteer_id", as_uuid),
            activity_id=maybe("activity_id", as_uuid),
            minutes=need("minutes", as_minutes),
            source=need("source", str),
            supersedes_id=maybe("supersedes_id", as_uuid),
            service_date=need("service_date", lambda v: date.fromisoformat(str(v))),
            approved_at=maybe("approved_at", as_instant),
            approved_by=maybe("approved_by", str),
        )


def entitlement(policy: RewardPolicy, *, source: str, minutes: int) -> int:
    """Whole 良票 for the minutes, rounded down; zero when the source does not earn."""
    if source not in policy.earning_sources:
        return 0
    return minutes * policy.rate_per_hour // 60


async def net_issued(session: AsyncSession, *, region_id: uuid.UUID, year: int) -> int:
    """What the region put into circulation in a budget year: issuance for hours net of
    claw-backs, plus manual adjustments out of its issuance account net of those back.

    Callers that compare it with the budget hold the policy row's lock, so that two
    issuances cannot both fit into the same room."""
    issued = await repository.issued_for_hours(session, region_id=region_id, year=year)
    adjusted = await repository.issued_by_adjustments(session, region_id=region_id, year=year)
    return issued + adjusted


async def _apply_caps(
    session: AsyncSession,
    *,
    policy: RewardPolicy,
    approval: HoursApproved,
    replacing: RewardIssuance | None,
    amount: int,
    reasons: list[str],
) -> int:
    """`amount` reduced to what the volunteer's caps still allow, not counting `replacing`."""
    caps: list[tuple[int | None, IssuanceReason, Scope, uuid.UUID | date | int | None]] = [
        (
            policy.activity_cap,
            IssuanceReason.activity_cap,
            Scope.activity,
            approval.activity_id,
        ),
        (policy.daily_cap, IssuanceReason.daily_cap, Scope.day, approval.service_date),
        (
            policy.yearly_cap,
            IssuanceReason.yearly_cap,
            Scope.year,
            approval.service_date.year,
        ),
    ]
    applying = [
        (cap, reason, (scope, value))
        for cap, reason, scope, value in caps
        if cap is not None and value is not None
    ]
    if amount == 0 or not applying:
        return amount
    held = await repository.held_in_scopes(
        session,
        region_id=approval.region_id,
        volunteer_id=approval.volunteer_id,
        excluding_id=replacing.id if replacing is not None else None,
        scopes=[scope for _, _, scope in applying],
    )
    for (cap, reason, _), already in zip(applying, held, strict=True):
        room = max(0, cap - already)
        if amount > room:
            amount = room
            reasons.append(reason.value)
        if amount == 0:
            break
    return amount


async def issue_for_hours(session: AsyncSession, *, approval: HoursApproved) -> RewardIssuance:
    """Issue (or claw back) 良票 for one approved hours record, exactly once."""
    policy = await repository.lock_policy(session, approval.region_id)
    existing = await repository.issuance_of(
        session, region_id=approval.region_id, hours_record_id=approval.hours_record_id
    )
    if existing is not None:
        return existing

    region = await get_region(session, approval.region_id)
    budget_year = clock.today_in(region.timezone).year
    entitled = entitlement(policy, source=approval.source, minutes=approval.minutes)
    issuance = RewardIssuance(
        id=uuid.uuid4(),
        region_id=approval.region_id,
        hours_record_id=approval.hours_record_id,
        supersedes_hours_record_id=approval.supersedes_id,
        volunteer_id=approval.volunteer_id,
        activity_id=approval.activity_id,
        source=approval.source,
        minutes=approval.minutes,
        service_date=approval.service_date,
        service_year=approval.service_date.year,
        budget_year=budget_year,
        rate_per_hour=policy.rate_per_hour,
        entitled=entitled,
        granted=0,
        issued=0,
        clawed_back=0,
        shortfall=0,
        reasons=[],
        approved_by=approval.approved_by,
        approved_at=approval.approved_at,
        created_at=clock.now(),
    )
    reasons: list[str] = []
    if entitled == 0 and approval.source not in policy.earning_sources:
        reasons.append(IssuanceReason.source_not_earning.value)

    # A correction of this record may have been delivered first: it already counts
    # for the whole chain, so this older record is worth nothing now.
    replaced_by = await repository.issuance_superseding(
        session, region_id=approval.region_id, hours_record_id=approval.hours_record_id
    )
    replacing: RewardIssuance | None = None
    if approval.supersedes_id is not None:
        replacing = await repository.issuance_of(
            session, region_id=approval.region_id, hours_record_id=approval.supersedes_id
        )

    session.add(issuance)
    await session.flush()

    if replaced_by is not None:
        issuance.superseded_by_id = replaced_by.id
        reasons.append(IssuanceReason.superseded.value)
        target = 0
    else:
        target = await _apply_caps(
            session,
            policy=policy,
            approval=approval,
            replacing=replacing,
            amount=entitled,
            reasons=reasons,
        )
    # What the volunteer holds from the record this one replaces is counted against it.
    already = replacing.held if replacing is not None else 0
    delta = target - already
    if delta > 0 and policy.yearly_budget is not None:
        spent = await net_issued(session, region_id=approval.region_id, year=budget_year)
        room = max(0, policy.yearly_budget - spent)
        if delta > room:
            delta = room
            reasons.append(IssuanceReason.budget_exhausted.value)
    if delta > 0:
        await _issue(session, issuance=issuance, amount=delta)
    elif delta < 0:
        await _claw_back(session, issuance=issuance, amount=-delta, reasons=reasons)
    issuance.granted = already + delta
    if replacing is not None:
        replacing.superseded_by_id = issuance.id

    issuance.reasons = reasons
    await session.flush()
    if issuance.issued > 0:
        await _emit_issued(session, issuance)
    log.info(
        "reward issuance",
        extra={
            "hours_record_id": str(approval.hours_record_id),
            "issued": issuance.issued,
            "clawed_back": issuance.clawed_back,
            "reasons": reasons,
        },
    )
    return issuance


REWARDS_ISSUED = "rewards.issued"


async def _emit_issued(session: AsyncSession, issuance: RewardIssuance) -> None:
    assert issuance.transaction_id is not None
    await outbox.emit(
        session,
        region_id=issuance.region_id,
        topic=REWARDS_ISSUED,
        payload={
            "issuance_id": str(issuance.id),
            "volunteer_id": str(issuance.volunteer_id),
            "hours_record_id": str(issuance.hours_record_id),
            "activity_id": str(issuance.activity_id) if issuance.activity_id else None,
            "amount": issuance.issued,
            "transaction_id": str(issuance.transaction_id),
            "issued_at": issuance.created_at.isoformat(),
        },
    )


def _ledger_metadata(issuance: RewardIssuance) -> dict[str, Any]:
    return {
        "hours_record_id": str(issuance.hours_record_id),
        "supersedes_id": (
            str(issuance.supersedes_hours_record_id)
            if issuance.supersedes_hours_record_id
            else None
        ),
        "minutes": issuance.minutes,
        "source": issuance.source,
        "approved_by": issuance.approved_by,
        "issuance_id": str(issuance.id),
    }


async def _issue(session: AsyncSession, *, issuance: RewardIssuance, amount: int) -> None:
    tx = await ledger.issue_to_wallet(
        session,
        region_id=issuance.region_id,
        volunteer_id=issuance.volunteer_id,
        amount=amount,
        reference_type=REFERENCE_TYPE,
        reference_id=str(issuance.hours_record_id),
        actor=ACTOR,
        metadata=_ledger_metadata(issuance),
    )
    issuance.issued = amount
    issuance.transaction_id = tx.id


async def _claw_back(
    session: AsyncSession, *, issuance: RewardIssuance, amount: int, reasons: list[str]
) -> None:
    """Take `amount` back to the issuance account, or what the wallet still has of it."""
    # Read without the wallet's lock: a spend that slips in between makes the ledger
    # refuse, the handler fails, and the outbox delivers the event again later.
    wallet = await ledger.wallet_summary(
        session, region_id=issuance.region_id, volunteer_id=issuance.volunteer_id
    )
    take = max(0, min(amount, wallet.spendable, wallet.balance.available))
    if take > 0:
        source = await ledger.system_account(
            session, region_id=issuance.region_id, kind=ledger.AccountKind.issuance
        )
        spent = await ledger.spend_from_wallet(
            session,
            region_id=issuance.region_id,
            volunteer_id=issuance.volunteer_id,
            to_account_id=source.id,
            amount=take,
            kind=ledger.TxKind.adjust,
            reference_type=REFERENCE_TYPE,
            reference_id=str(issuance.hours_record_id),
            actor=ACTOR,
            metadata=_ledger_metadata(issuance),
        )
        issuance.transaction_id = spent.transaction.id
    issuance.clawed_back = take
    issuance.shortfall = amount - take
    if take < amount:
        reasons.append(IssuanceReason.clawback_shortfall.value)
