"""Redemption at the counter: redeem, query, void; and refunds by the merchant or region.

A terminal's `request_no` is the idempotency key of an attempt. The attempt's row
is claimed first (INSERT … ON CONFLICT DO NOTHING on `(terminal_id, request_no)`),
so a concurrent twin waits for the first to commit and then replays its outcome;
the same number with another body is refused. Refusals are outcomes too: they
are stored, replayed, and reported by the query. Unlike `core.idempotency`, which
keeps only successes, the counter needs "refused, and why" to be a stable answer
(a new attempt takes a new number, as with WeChat Pay's `out_trade_no`).

A terminal is not the wallet's owner, and learns nothing of the wallet: no
balance on a receipt, no numbers in a refusal ("not enough 良票", never "N
available"). A terminal told the balance could ask for it exactly next.

For the same reason the code is spent before anything else is decided and outside
the savepoint: once it names a volunteer, a refusal (the code's bounds, the offer,
its stock or limits, the star level, the balance) ends the code's life too, and a
terminal cannot probe with one code and then redeem with it. The redemption's
effects — the offer's stock and the volunteer's usage counted, the 良票 moved in one
ledger transaction — run inside the savepoint: a refusal on any of them rolls them
all back, and the refusal and the spent code are what is committed. Locks are taken
in one order (code, offer, usage, then the ledger's wallet and merchant account) by
redemptions and voids alike.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from datetime import date, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncSession

from app.core import clock
from app.core.errors import AppError, catalogue
from app.integrations import outbox
from app.ledger import service as ledger
from app.ledger.errors import InsufficientBalance, RefundExceedsRemainder
from app.merchants import codes, repository, schemas
from app.merchants.access import MerchantActor, merchant_for
from app.merchants.errors import (
    CodeLimitExceeded,
    CodeOfferMismatch,
    MerchantNotActive,
    MerchantSuspended,
    OfferInactive,
    OfferLimitReached,
    OfferNotValidToday,
    OfferOutOfStock,
    OfferUnavailable,
    RedemptionAlreadyRefunded,
    RedemptionNotFound,
    RedemptionNotSucceeded,
    RedemptionRefusal,
    RefundNoReused,
    RefundWindowClosed,
    RequestNoReused,
    StarLevelTooLow,
    VoidWindowClosed,
)
from app.merchants.models import (
    LimitPeriod,
    MerchantStatus,
    Offer,
    OfferStatus,
    Redemption,
    RedemptionRefund,
    RedemptionStatus,
)
from app.merchants.service import merchant_account_id, refund_window_days
from app.merchants.terminal_auth import TerminalContext
from app.volunteers.service import mask_name
from app.volunteers.stars import star_level

REFERENCE_REDEMPTION = "redemption"
REFERENCE_VOID = "redemption_void"
REFERENCE_REFUND = "redemption_refund"


class RedemptionInsufficientBalance(InsufficientBalance):
    """The ledger's refusal as the terminal hears it, recorded as the attempt's outcome:
    short, never by how much. Whatever detail it is given, it says only this."""

    commit = True
    DETAIL = "The volunteer's 良票 are not enough for this redemption"

    def __init__(
        self, detail: str | None = None, *, headers: dict[str, str] | None = None, **_: Any
    ) -> None:
        super().__init__(self.DETAIL, headers=headers)


def _fingerprint(data: schemas.RedemptionRequest) -> str:
    body = {
        "code": data.code,
        "offer_id": str(data.offer_id) if data.offer_id else None,
        "amount": data.amount,
    }
    return hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()


def _refusal_detail(redemption: Redemption) -> str:
    if redemption.refusal_code == RedemptionInsufficientBalance.code:
        return RedemptionInsufficientBalance.DETAIL
    return redemption.refusal_detail or ""


def receipt(redemption: Redemption) -> schemas.Receipt:
    refusal = None
    if redemption.status == RedemptionStatus.refused:
        refusal = schemas.Refusal(
            code=redemption.refusal_code or "",
            status=redemption.refusal_status or 409,
            detail=_refusal_detail(redemption),
        )
    return schemas.Receipt(
        id=redemption.id,
        request_no=redemption.request_no,
        status=redemption.status,
        merchant_id=redemption.merchant_id,
        terminal_id=redemption.terminal_id,
        offer_id=redemption.offer_id,
        amount=redemption.amount,
        volunteer=redemption.volunteer_display,
        code_kind=redemption.code_kind,
        transaction_id=redemption.transaction_id,
        refunded_amount=redemption.refunded_amount,
        created_at=redemption.created_at,
        voided_at=redemption.voided_at,
        refusal=refusal,
    )


def _replay_refusal(redemption: Redemption) -> AppError:
    """The stored refusal, raised again with its original status, code and detail."""
    cls = catalogue().get(redemption.refusal_code or "", RedemptionRefusal)
    if cls is InsufficientBalance:
        cls = RedemptionInsufficientBalance
    return cls(_refusal_detail(redemption), headers={"Idempotent-Replayed": "true"})


def period_key(period: LimitPeriod, day: date) -> str:
    """The key of the limit period that contains `day` (region time)."""
    if period == LimitPeriod.day:
        return day.isoformat()
    if period == LimitPeriod.week:
        year, week, _ = day.isocalendar()
        return f"{year}-W{week:02d}"
    return f"{day.year}-{day.month:02d}"


async def check_offer(
    session: AsyncSession,
    *,
    region_id: uuid.UUID,
    merchant_id: uuid.UUID,
    offer_id: uuid.UUID,
    volunteer_id: uuid.UUID,
    today: date,
) -> Offer:
    """The merchant's offer if the volunteer may have it today (status, dates, stock left,
    star level); the volunteer's limit is counted by `count_usage`."""
    offer = await repository.offer(session, offer_id)
    if offer is None or offer.merchant_id != merchant_id:
        raise OfferUnavailable()
    if offer.status != OfferStatus.active:
        raise OfferInactive()
    if (offer.valid_from is not None and today < offer.valid_from) or (
        offer.valid_until is not None and today > offer.valid_until
    ):
        raise OfferNotValidToday()
    if offer.stock is not None and offer.stock <= 0:
        raise OfferOutOfStock()
    if offer.min_star_level > 0:
        level = await star_level(session, region_id=region_id, volunteer_id=volunteer_id)
        if level < offer.min_star_level:
            # The volunteer's own level is theirs: the terminal hears what the offer needs.
            raise StarLevelTooLow(
                f"The offer needs {offer.min_star_level} stars", required=offer.min_star_level
            )
    return offer


async def take_stock(session: AsyncSession, offer: Offer) -> None:
    if offer.stock is None:
        return
    if not await repository.take_stock(session, offer_id=offer.id):
        raise OfferOutOfStock()


async def count_usage(
    session: AsyncSession, *, offer: Offer, volunteer_id: uuid.UUID, key: str
) -> None:
    """Count one redemption against the volunteer's limit, refusing past it (atomically)."""
    assert offer.limit_count is not None
    counted = await repository.count_usage(
        session, offer=offer, limit=offer.limit_count, volunteer_id=volunteer_id, key=key
    )
    if not counted:
        raise OfferLimitReached(
            f"The volunteer has redeemed this offer {offer.limit_count} times this "
            f"{offer.limit_period}",
            limit=offer.limit_count,
        )


async def claim(
    session: AsyncSession, *, terminal: TerminalContext, request_no: str, fingerprint: str
) -> Redemption | None:
    """Claim the request number for this transaction; None if an attempt already has it.

    The row is written with core statements (no ORM round trip to load it back);
    `repository.finish` writes the outcome.
    """
    redemption = Redemption(
        id=uuid.uuid4(),
        region_id=terminal.region_id,
        merchant_id=terminal.merchant_id,
        terminal_id=terminal.id,
        request_no=request_no,
        fingerprint=fingerprint,
        status=RedemptionStatus.pending,
        refunded_amount=0,
        created_at=clock.now(),
    )
    return redemption if await repository.claim(session, redemption) else None


async def attempt(
    session: AsyncSession, *, terminal_id: uuid.UUID, request_no: str, lock: bool = False
) -> Redemption:
    redemption = await repository.attempt(
        session, terminal_id=terminal_id, request_no=request_no, lock=lock
    )
    if redemption is None:
        raise RedemptionNotFound(f"This terminal has no redemption {request_no!r}")
    return redemption


async def redeem(
    session: AsyncSession, *, terminal: TerminalContext, data: schemas.RedemptionRequest
) -> schemas.Receipt:
    """Redeem once per request number: checks, then one ledger transaction, or a refusal."""
    fingerprint = _fingerprint(data)
    redemption = await claim(
        session, terminal=terminal, request_no=data.request_no, fingerprint=fingerprint
    )
    if redemption is None:
        existing = await attempt(session, terminal_id=terminal.id, request_no=data.request_no)
        if existing.fingerprint != fingerprint:
            raise RequestNoReused()
        if existing.status == RedemptionStatus.refused:
            raise _replay_refusal(existing)
        return receipt(existing)
    try:
        await _redeem(session, terminal=terminal, data=data, redemption=redemption)
    except RedemptionRefusal as refusal:
        await _refuse(session, redemption, refusal)
        raise
    except InsufficientBalance:
        recorded = RedemptionInsufficientBalance()
        await _refuse(session, redemption, recorded)
        # Not chained: the ledger's refusal carries the balance.
        raise recorded from None
    await repository.finish(session, redemption)
    return receipt(redemption)


async def _refuse(session: AsyncSession, redemption: Redemption, refusal: AppError) -> None:
    redemption.status = RedemptionStatus.refused
    redemption.refusal_code = refusal.code
    redemption.refusal_status = refusal.status
    redemption.refusal_detail = refusal.detail[:300]
    # What the savepoint rolled back did not happen; the attempt keeps who and what only.
    redemption.transaction_id = None
    redemption.usage_period_key = None
    await repository.finish(session, redemption)


async def _redeem(
    session: AsyncSession,
    *,
    terminal: TerminalContext,
    data: schemas.RedemptionRequest,
    redemption: Redemption,
) -> None:
    if terminal.merchant_status == MerchantStatus.suspended:
        raise MerchantSuspended()
    if terminal.merchant_status != MerchantStatus.active:
        raise MerchantNotActive()
    codes.kind_of(data.code)  # a malformed code costs no round trip
    # Spent here, outside the savepoint: no refusal from now on gives the code back.
    code = await codes.take(session, code=data.code, region_id=terminal.region_id)
    redemption.volunteer_id = code.volunteer_id
    redemption.code_kind = code.kind
    redemption.volunteer_display = mask_name(code.volunteer_name)
    redemption.amount = data.amount
    async with session.begin_nested():
        if code.offer_id is not None and data.offer_id != code.offer_id:
            raise CodeOfferMismatch()
        offer: Offer | None = None
        usage_key: str | None = None
        amount = data.amount
        if data.offer_id is not None:
            today = clock.today_in(terminal.timezone)
            offer = await check_offer(
                session,
                region_id=terminal.region_id,
                merchant_id=terminal.merchant_id,
                offer_id=data.offer_id,
                volunteer_id=code.volunteer_id,
                today=today,
            )
            redemption.offer_id = offer.id
            amount = offer.price
            if offer.limit_period is not None:
                usage_key = period_key(offer.limit_period, today)
        assert amount is not None
        redemption.amount = amount
        if code.max_amount is not None and amount > code.max_amount:
            raise CodeLimitExceeded()
        if offer is not None:
            await take_stock(session, offer)
            if usage_key is not None:
                await count_usage(
                    session, offer=offer, volunteer_id=code.volunteer_id, key=usage_key
                )
        account_id = terminal.merchant_account_id or await merchant_account_id(
            session, region_id=terminal.region_id, merchant_id=terminal.merchant_id
        )
        # `description` is the line the volunteer's wallet history shows.
        metadata: dict[str, Any] = {
            "merchant_id": str(terminal.merchant_id),
            "merchant_name": terminal.merchant_name,
            "terminal_id": str(terminal.id),
            "request_no": data.request_no,
            "description": f"{terminal.merchant_name} 兑换",
        }
        if offer is not None:
            metadata.update(
                offer_id=str(offer.id),
                offer_title=offer.title,
                description=f"{terminal.merchant_name} 兑换 {offer.title}",
            )
        spent = await ledger.spend_from_wallet(
            session,
            region_id=terminal.region_id,
            volunteer_id=code.volunteer_id,
            to_account_id=account_id,
            amount=amount,
            kind=ledger.TxKind.redeem,
            reference_type=REFERENCE_REDEMPTION,
            reference_id=str(redemption.id),
            actor=terminal.label,
            metadata=metadata,
        )
    tx = spent.transaction
    redemption.status = RedemptionStatus.succeeded
    redemption.transaction_id = tx.id
    redemption.usage_period_key = usage_key
    await outbox.emit(
        session,
        region_id=terminal.region_id,
        topic="redemption.succeeded",
        payload={
            "redemption_id": str(redemption.id),
            "request_no": redemption.request_no,
            "merchant_id": str(terminal.merchant_id),
            "terminal_id": str(terminal.id),
            "volunteer_id": str(code.volunteer_id),
            "offer_id": str(offer.id) if offer else None,
            "amount": amount,
            "transaction_id": str(tx.id),
            "created_at": redemption.created_at.isoformat(),
        },
    )


async def get_attempt(
    session: AsyncSession, *, terminal: TerminalContext, request_no: str
) -> schemas.Receipt:
    """What became of an attempt: succeeded (maybe voided since), refused and why, or 404."""
    return receipt(await attempt(session, terminal_id=terminal.id, request_no=request_no))


async def _give_back_offer(session: AsyncSession, redemption: Redemption) -> None:
    """A voided sale never happened: its stock and the volunteer's usage return."""
    if redemption.offer_id is None:
        return
    await repository.give_back(
        session,
        offer_id=redemption.offer_id,
        volunteer_id=redemption.volunteer_id,
        usage_period_key=redemption.usage_period_key,
    )


async def void(
    session: AsyncSession, *, terminal: TerminalContext, request_no: str
) -> schemas.Receipt:
    """Undo a redemption on its business day (region time); voiding twice is a no-op."""
    redemption = await attempt(session, terminal_id=terminal.id, request_no=request_no, lock=True)
    if redemption.status == RedemptionStatus.voided:
        return receipt(redemption)
    if redemption.status != RedemptionStatus.succeeded:
        raise RedemptionNotSucceeded()
    if redemption.refunded_amount > 0:
        raise RedemptionAlreadyRefunded()
    tz = terminal.timezone
    if redemption.created_at.astimezone(ZoneInfo(tz)).date() != clock.today_in(tz):
        raise VoidWindowClosed()
    assert redemption.transaction_id is not None
    assert redemption.amount is not None
    await _give_back_offer(session, redemption)
    try:
        tx = await ledger.refund_spend(
            session,
            original_transaction_id=redemption.transaction_id,
            amount=redemption.amount,
            kind=ledger.TxKind.void,
            reference_type=REFERENCE_VOID,
            reference_id=str(redemption.id),
            actor=terminal.label,
            metadata={
                "request_no": request_no,
                "merchant_id": str(terminal.merchant_id),
                "description": f"{terminal.merchant_name} 撤销兑换",
            },
        )
    except InsufficientBalance:
        # The ledger would name the merchant account's balance; a terminal sees none.
        raise InsufficientBalance(
            "The merchant's account no longer holds this redemption's 良票"
        ) from None
    redemption.status = RedemptionStatus.voided
    redemption.voided_at = tx.created_at
    redemption.void_transaction_id = tx.id
    await outbox.emit(
        session,
        region_id=terminal.region_id,
        topic="redemption.voided",
        payload={
            "redemption_id": str(redemption.id),
            "request_no": request_no,
            "merchant_id": str(terminal.merchant_id),
            "volunteer_id": str(redemption.volunteer_id),
            "amount": redemption.amount,
            "transaction_id": str(tx.id),
            "voided_at": tx.created_at.isoformat(),
        },
    )
    await session.flush()
    return receipt(redemption)


def _refund_out(refund: RedemptionRefund, redemption: Redemption) -> schemas.Refund:
    assert redemption.amount is not None
    return schemas.Refund(
        id=refund.id,
        refund_no=refund.refund_no,
        redemption_id=redemption.id,
        amount=refund.amount,
        remaining=redemption.amount - redemption.refunded_amount,
        transaction_id=refund.transaction_id,
        refunded_by=refund.refunded_by,
        created_at=refund.created_at,
    )


async def refund(
    session: AsyncSession,
    *,
    actor: MerchantActor,
    merchant_id: uuid.UUID,
    redemption_id: uuid.UUID,
    data: schemas.RefundRequest,
) -> schemas.Refund:
    """Give back part or all of a redemption: its owner within the region's refund window,
    its region's managers at any time; once per refund number."""
    merchant = await merchant_for(session, actor=actor, merchant_id=merchant_id, owner=True)
    redemption = await repository.lock_redemption(
        session, redemption_id=redemption_id, merchant_id=merchant.id
    )
    if redemption is None:
        raise RedemptionNotFound()
    existing = await repository.refund_by_no(
        session, redemption_id=redemption.id, refund_no=data.refund_no
    )
    if existing is not None:
        if existing.amount != data.amount:
            raise RefundNoReused()
        return _refund_out(existing, redemption)
    if redemption.status != RedemptionStatus.succeeded:
        raise RedemptionNotSucceeded()
    if actor.staff is None:
        days = await refund_window_days(session, region_id=merchant.region_id)
        if clock.now() > redemption.created_at + timedelta(days=days):
            raise RefundWindowClosed(
                f"The merchant may refund for {days} days after a redemption", days=days
            )
    assert redemption.amount is not None
    assert redemption.transaction_id is not None
    remaining = redemption.amount - redemption.refunded_amount
    if data.amount > remaining:
        raise RefundExceedsRemainder(
            f"{remaining} 良票 of this redemption remain to refund; {data.amount} asked",
            remaining=remaining,
            requested=data.amount,
        )
    tx = await ledger.refund_spend(
        session,
        original_transaction_id=redemption.transaction_id,
        amount=data.amount,
        kind=ledger.TxKind.refund,
        reference_type=REFERENCE_REFUND,
        reference_id=f"{redemption.id}:{data.refund_no}",
        actor=actor.label,
        metadata={
            "refund_no": data.refund_no,
            "merchant_id": str(merchant.id),
            "description": f"{merchant.name} 退还",
        },
    )
    row = RedemptionRefund(
        region_id=merchant.region_id,
        merchant_id=merchant.id,
        redemption_id=redemption.id,
        refund_no=data.refund_no,
        amount=data.amount,
        transaction_id=tx.id,
        refunded_by=actor.label,
        created_at=tx.created_at,
    )
    session.add(row)
    redemption.refunded_amount += data.amount
    await outbox.emit(
        session,
        region_id=merchant.region_id,
        topic="redemption.refunded",
        payload={
            "redemption_id": str(redemption.id),
            "refund_no": data.refund_no,
            "merchant_id": str(merchant.id),
            "volunteer_id": str(redemption.volunteer_id),
            "amount": data.amount,
            "transaction_id": str(tx.id),
            "refunded_at": tx.created_at.isoformat(),
        },
    )
    await session.flush()
    return _refund_out(row, redemption)
