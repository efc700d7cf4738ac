"""Manual adjustments: asked by one center admin, posted at once within the region's
threshold, otherwise approved (or refused) by a second one.

The threshold holds per call and per (requesting admin, account, region-local day):
an adjustment is posted alone only if it, added to what the same admin already
adjusted alone of each of its accounts that day, stays within the threshold. So
splitting a large credit into pieces just under the threshold makes the piece that
crosses it wait for a second admin, as the whole would have; the tally rows are
locked while they are weighed, so concurrent pieces are counted one at a time.
The region's issuance account is left out of the tally: every credit to a wallet
comes from it, and counting it would lump all of one admin's work together.
Adjustments a second admin approved do not count: two people agreed to them.

Both kinds of posting count against the region's yearly issuance budget the way
reward issuance does (net 良票 out of the issuance account in the region-local
year), under the same lock on the region's policy row; one that does not fit is
refused with `budget_exhausted`, at request and again at approval.
"""

from __future__ import annotations

import logging
import uuid

from sqlalchemy.ext.asyncio import AsyncSession

from app.core import clock
from app.core.pagination import Page, PageParams, decode_keyset, keyset_page
from app.identity.principals import StaffContext
from app.ledger import schemas as ledger_schemas
from app.ledger import service as ledger
from app.ledger.models import Account
from app.orgs.authz import require_center_admin
from app.orgs.service import get_region
from app.rewards import repository as rewards_repository
from app.rewards import service as rewards
from app.rewards.adjustments import repository
from app.rewards.adjustments.errors import (
    AdjustmentAlreadyDecided,
    AdjustmentNotFound,
    OwnAdjustmentApproval,
)
from app.rewards.adjustments.models import Adjustment, AdjustmentStatus, ApprovalCause
from app.rewards.adjustments.schemas import Adjustment as AdjustmentOut
from app.rewards.adjustments.schemas import AdjustmentCreate
from app.rewards.errors import BudgetExhausted
from app.rewards.models import DEFAULT_ADJUSTMENT_THRESHOLD

log = logging.getLogger("liangpiao.rewards.adjustments")


def _issuance_delta(debit: Account, credit_to: Account, amount: int) -> int:
    if debit.kind == ledger.AccountKind.issuance:
        return amount
    if credit_to.kind == ledger.AccountKind.issuance:
        return -amount
    return 0


def _tallied(debit: Account, credit_to: Account) -> list[uuid.UUID]:
    return [a.id for a in (debit, credit_to) if a.kind != ledger.AccountKind.issuance]


async def _require_budget(
    session: AsyncSession, *, region_id: uuid.UUID, delta: int, year: int, lock: bool
) -> None:
    """Refuse what would take the year's issuance past the budget; with `lock`, under
    the policy row's lock, which the posting then holds until it commits."""
    if delta <= 0:
        return
    policy = await rewards_repository.find_policy(session, region_id)
    if policy is None or policy.yearly_budget is None:
        return
    if lock:
        policy = await rewards_repository.lock_policy(session, region_id)
    budget = policy.yearly_budget
    if budget is None:
        return
    issued = await rewards.net_issued(session, region_id=region_id, year=year)
    if issued + delta > budget:
        raise BudgetExhausted(
            f"{year}'s budget is {budget} 良票 and {issued} are issued",
            budget=budget,
            issued=issued,
            amount=delta,
        )


def _out(row: Adjustment) -> AdjustmentOut:
    return AdjustmentOut.model_validate(row)


async def request(
    session: AsyncSession, *, staff: StaffContext, data: AdjustmentCreate
) -> ledger_schemas.Transaction | AdjustmentOut:
    """Post the adjustment (its transaction) or, past the threshold, keep it pending
    (the adjustment, nothing posted)."""
    require_center_admin(staff)
    debit, credit_to = await ledger.adjustment_accounts(
        session,
        region_id=staff.region_id,
        debit_account_id=data.debit_account_id,
        credit_account_id=data.credit_account_id,
    )
    policy = await rewards_repository.find_policy(session, staff.region_id)
    threshold = policy.adjustment_threshold if policy else DEFAULT_ADJUSTMENT_THRESHOLD
    region = await get_region(session, staff.region_id)
    today = clock.today_in(region.timezone)
    row = Adjustment(
        id=uuid.uuid4(),
        region_id=staff.region_id,
        debit_account_id=debit.id,
        credit_account_id=credit_to.id,
        amount=data.amount,
        reason=data.reason,
        reference=data.reference,
        threshold=threshold,
        issuance_delta=_issuance_delta(debit, credit_to, data.amount),
        requested_by_id=staff.id,
        requested_at=clock.now(),
    )
    tallied = _tallied(debit, credit_to)
    cause: ApprovalCause | None = None
    if data.amount > threshold:
        cause = ApprovalCause.amount
    else:
        totals = await repository.lock_tallies(
            session, region_id=staff.region_id, staff_id=staff.id, account_ids=tallied, day=today
        )
        if any(total + data.amount > threshold for total in totals.values()):
            cause = ApprovalCause.daily_total

    if cause is not None:
        # Refused now if it could not be approved today either.
        await _require_budget(
            session,
            region_id=staff.region_id,
            delta=row.issuance_delta,
            year=today.year,
            lock=False,
        )
        row.status = AdjustmentStatus.pending
        row.approval_cause = cause
        session.add(row)
        await session.flush()
        log.info(
            "adjustment awaits a second admin",
            extra={"adjustment_id": str(row.id), "staff_id": str(staff.id), "cause": cause},
        )
        return _out(row)

    await _require_budget(
        session, region_id=staff.region_id, delta=row.issuance_delta, year=today.year, lock=True
    )
    tx = await ledger.post_adjustment(
        session,
        debit=debit,
        credit_to=credit_to,
        amount=data.amount,
        reference_id=data.reference or str(row.id),
        actor=staff.scope_key,
        metadata={"reason": data.reason, "adjusted_by": str(staff.id)},
    )
    row.status = AdjustmentStatus.posted
    row.transaction_id = tx.id
    row.budget_year = today.year
    session.add(row)
    await repository.add_to_tallies(
        session, staff_id=staff.id, account_ids=tallied, day=today, amount=data.amount
    )
    await session.flush()
    return tx


async def _pending(
    session: AsyncSession, *, staff: StaffContext, adjustment_id: uuid.UUID
) -> Adjustment:
    require_center_admin(staff)
    row = await repository.get(
        session, region_id=staff.region_id, adjustment_id=adjustment_id, lock=True
    )
    if row is None:
        raise AdjustmentNotFound()
    if row.status != AdjustmentStatus.pending:
        raise AdjustmentAlreadyDecided(
            f"The adjustment is {row.status}", adjustment_status=row.status
        )
    return row


async def approve(
    session: AsyncSession, *, staff: StaffContext, adjustment_id: uuid.UUID, reason: str | None
) -> AdjustmentOut:
    """Post a pending adjustment, as a center admin other than its requester.

    Its transaction's id is the adjustment's: the ledger itself refuses a second
    posting, whatever happens above it."""
    row = await _pending(session, staff=staff, adjustment_id=adjustment_id)
    if row.requested_by_id == staff.id:
        raise OwnAdjustmentApproval("You asked for this adjustment: another center admin approves")
    debit, credit_to = await ledger.adjustment_accounts(
        session,
        region_id=row.region_id,
        debit_account_id=row.debit_account_id,
        credit_account_id=row.credit_account_id,
    )
    region = await get_region(session, row.region_id)
    today = clock.today_in(region.timezone)
    await _require_budget(
        session, region_id=row.region_id, delta=row.issuance_delta, year=today.year, lock=True
    )
    tx = await ledger.post_adjustment(
        session,
        debit=debit,
        credit_to=credit_to,
        amount=row.amount,
        reference_id=row.reference or str(row.id),
        actor=staff.scope_key,
        metadata={
            "reason": row.reason,
            "adjusted_by": str(row.requested_by_id),
            "approved_by": str(staff.id),
            "adjustment_id": str(row.id),
        },
        transaction_id=row.id,
    )
    row.status = AdjustmentStatus.approved
    row.decided_by_id = staff.id
    row.decided_at = clock.now()
    row.decision_reason = reason
    row.transaction_id = tx.id
    row.budget_year = today.year
    await session.flush()
    log.info(
        "adjustment approved",
        extra={"adjustment_id": str(row.id), "staff_id": str(staff.id)},
    )
    return _out(row)


async def refuse(
    session: AsyncSession, *, staff: StaffContext, adjustment_id: uuid.UUID, reason: str
) -> AdjustmentOut:
    """Refuse a pending adjustment, with a reason. Its requester may withdraw it this
    way too: a refusal moves nothing."""
    row = await _pending(session, staff=staff, adjustment_id=adjustment_id)
    row.status = AdjustmentStatus.refused
    row.decided_by_id = staff.id
    row.decided_at = clock.now()
    row.decision_reason = reason
    await session.flush()
    log.info(
        "adjustment refused",
        extra={"adjustment_id": str(row.id), "staff_id": str(staff.id)},
    )
    return _out(row)


async def get(
    session: AsyncSession, *, staff: StaffContext, adjustment_id: uuid.UUID
) -> AdjustmentOut:
    require_center_admin(staff)
    row = await repository.get(session, region_id=staff.region_id, adjustment_id=adjustment_id)
    if row is None:
        raise AdjustmentNotFound()
    return _out(row)


async def list_for_staff(
    session: AsyncSession,
    *,
    staff: StaffContext,
    status: AdjustmentStatus | None,
    page: PageParams,
) -> Page[AdjustmentOut]:
    """The region's adjustments, newest first; `status=pending` is the approvers' queue."""
    require_center_admin(staff)
    rows = await repository.newest_first(
        session,
        region_id=staff.region_id,
        status=status,
        after=decode_keyset(page.cursor),
        limit=page.limit + 1,
    )
    return keyset_page(rows, page, key=lambda r: (r.requested_at, r.id), out=_out)
