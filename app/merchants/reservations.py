"""Reservations for pick-up: a volunteer sets an offer aside, the counter hands it over.

Reserving checks the offer as a redemption would (status, dates, stock, star level,
the volunteer's limit), takes one of its stock, counts the use, and holds its price
in the wallet for the merchant's account (a ledger hold): the wallet's available
balance counts it as spent, nobody else can have the item, and nothing has moved
yet. The reservation then ends exactly once, under its row's lock:

- picked up: a terminal enters the volunteer's eight-digit pick-up code; the hold
  is posted as a redemption (a `redemptions` row with `code_kind = pickup`), which
  the merchant's statement, voids and refunds treat like any other;
- cancelled by the volunteer, or expired at `expires_at` (24 hours, or the end of
  the offer's last valid day if sooner) by the `expire-reservations` job: the hold
  is released and the stock and the use are given back.

The ledger's own hold-timeout job may release an expired hold first; the
reservation's job then finds it resolved and only gives the stock back.
"""

from __future__ import annotations

import hashlib
import secrets
import uuid
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from app.core import clock
from app.core.pagination import Page, PageParams, keyset_page
from app.integrations import outbox
from app.ledger import service as ledger
from app.merchants import repository, schemas
from app.merchants.access import MerchantActor, merchant_for
from app.merchants.errors import (
    MerchantNotActive,
    MerchantSuspended,
    OfferNotFound,
    RequestNoReused,
    ReservationExpired,
    ReservationNotFound,
    ReservationNotHeld,
)
from app.merchants.models import (
    CodeKind,
    Merchant,
    MerchantStatus,
    Offer,
    OfferReservation,
    RedemptionStatus,
    ReservationStatus,
)
from app.merchants.redemption import (
    REFERENCE_REDEMPTION,
    attempt,
    check_offer,
    claim,
    count_usage,
    period_key,
    receipt,
    take_stock,
)
from app.merchants.service import merchant_account_id
from app.merchants.terminal_auth import TerminalContext
from app.volunteers.models import Volunteer
from app.volunteers.service import mask_name

RESERVATION_TTL = timedelta(hours=24)
HOLD_REFERENCE = "reservation"
EXPIRY_ACTOR = "system:reservation-timeout"
_CODE_ATTEMPTS = 5


def _volunteer_out(
    reservation: OfferReservation, offer: Offer, merchant: Merchant
) -> schemas.Reservation:
    return schemas.Reservation(
        id=reservation.id,
        status=reservation.status,
        offer_id=offer.id,
        offer_title=offer.title,
        merchant_id=merchant.id,
        merchant_name=merchant.name,
        amount=reservation.amount,
        pickup_code=reservation.pickup_code
        if reservation.status == ReservationStatus.held
        else None,
        expires_at=reservation.expires_at,
        created_at=reservation.created_at,
        resolved_at=reservation.resolved_at,
        redemption_id=reservation.redemption_id,
    )


def _merchant_out(reservation: OfferReservation, offer: Offer) -> schemas.MerchantReservation:
    return schemas.MerchantReservation(
        id=reservation.id,
        status=reservation.status,
        offer_id=offer.id,
        offer_title=offer.title,
        amount=reservation.amount,
        volunteer=reservation.volunteer_display,
        expires_at=reservation.expires_at,
        created_at=reservation.created_at,
        resolved_at=reservation.resolved_at,
        redemption_id=reservation.redemption_id,
    )


def _actor(volunteer: Volunteer) -> str:
    return f"volunteer:{volunteer.id}"


def _end_of(day: date, timezone: str) -> datetime:
    """The instant the region-time day after `day` begins."""
    after = day + timedelta(days=1)
    return datetime(after.year, after.month, after.day, tzinfo=ZoneInfo(timezone))


async def reserve(
    session: AsyncSession, *, volunteer: Volunteer, data: schemas.ReservationCreate
) -> schemas.Reservation:
    """Set the offer aside for the volunteer, its price held in the wallet."""
    offer = await repository.offer(session, data.offer_id)
    if offer is None or offer.region_id != volunteer.region_id:
        raise OfferNotFound()
    merchant = await repository.merchant(session, offer.merchant_id)
    assert merchant is not None
    if merchant.status == MerchantStatus.suspended:
        raise MerchantSuspended()
    if merchant.status != MerchantStatus.active:
        raise MerchantNotActive()
    region = await repository.region(session, volunteer.region_id)
    assert region is not None
    today = clock.today_in(region.timezone)
    # Offer refusals keep what a terminal's attempt keeps; nothing of a refused
    # reservation may stay, so it all runs in a savepoint.
    async with session.begin_nested():
        offer = await check_offer(
            session,
            region_id=volunteer.region_id,
            merchant_id=merchant.id,
            offer_id=offer.id,
            volunteer_id=volunteer.id,
            today=today,
        )
        await take_stock(session, offer)
        usage_key = None
        if offer.limit_period is not None:
            usage_key = period_key(offer.limit_period, today)
            await count_usage(session, offer=offer, volunteer_id=volunteer.id, key=usage_key)
        now = clock.now()
        expires_at = now + RESERVATION_TTL
        if offer.valid_until is not None:
            expires_at = min(expires_at, _end_of(offer.valid_until, region.timezone))
        reservation_id = uuid.uuid4()
        account_id = await merchant_account_id(
            session, region_id=merchant.region_id, merchant_id=merchant.id
        )
        hold = await ledger.hold_from_wallet(
            session,
            region_id=volunteer.region_id,
            volunteer_id=volunteer.id,
            to_account_id=account_id,
            amount=offer.price,
            reference_type=HOLD_REFERENCE,
            reference_id=str(reservation_id),
            actor=_actor(volunteer),
            metadata={
                "merchant_id": str(merchant.id),
                "offer_id": str(offer.id),
                "description": f"{merchant.name} 预约 {offer.title}",
            },
            expires_at=expires_at,
        )
        reservation = await _insert_with_fresh_code(
            session,
            OfferReservation(
                id=reservation_id,
                region_id=volunteer.region_id,
                merchant_id=merchant.id,
                offer_id=offer.id,
                volunteer_id=volunteer.id,
                hold_id=hold.id,
                amount=offer.price,
                status=ReservationStatus.held,
                usage_period_key=usage_key,
                volunteer_display=mask_name(volunteer.name) or "志愿者",
                created_at=now,
                expires_at=expires_at,
            ),
        )
    return _volunteer_out(reservation, offer, merchant)


async def _insert_with_fresh_code(
    session: AsyncSession, reservation: OfferReservation
) -> OfferReservation:
    """Insert with a pick-up code no other open reservation of the merchant has."""
    for _ in range(_CODE_ATTEMPTS):
        reservation.pickup_code = f"{secrets.randbelow(10**8):08d}"
        try:
            async with session.begin_nested():
                session.add(reservation)
                await session.flush()
        except IntegrityError:
            session.expunge(reservation)
            continue
        return reservation
    raise RuntimeError("no free pick-up code after several draws")


async def _locked(
    session: AsyncSession, reservation_id: uuid.UUID, *, volunteer_id: uuid.UUID
) -> OfferReservation:
    reservation = await repository.lock_reservation(session, reservation_id)
    if reservation is None or reservation.volunteer_id != volunteer_id:
        raise ReservationNotFound()
    return reservation


async def _release(
    session: AsyncSession, reservation: OfferReservation, *, status: ReservationStatus, actor: str
) -> None:
    """End a held reservation without a sale: the hold released (unless the ledger's
    timeout already did), the stock and the use given back."""
    if status == ReservationStatus.expired:
        await ledger.time_out_hold(session, hold_id=reservation.hold_id)
    else:
        await ledger.void_hold(session, hold_id=reservation.hold_id, actor=actor)
    await repository.give_back(
        session,
        offer_id=reservation.offer_id,
        volunteer_id=reservation.volunteer_id,
        usage_period_key=reservation.usage_period_key,
    )
    reservation.status = status
    reservation.resolved_at = clock.now()
    reservation.resolved_by = actor
    await session.flush()


async def _with_offer(
    session: AsyncSession, reservation: OfferReservation
) -> tuple[Offer, Merchant]:
    offer = await repository.offer(session, reservation.offer_id)
    merchant = await repository.merchant(session, reservation.merchant_id)
    assert offer is not None
    assert merchant is not None
    return offer, merchant


async def cancel(
    session: AsyncSession, *, volunteer: Volunteer, reservation_id: uuid.UUID
) -> schemas.Reservation:
    """The volunteer gives the reservation up; cancelling twice answers the same."""
    reservation = await _locked(session, reservation_id, volunteer_id=volunteer.id)
    if reservation.status == ReservationStatus.held:
        if reservation.expires_at <= clock.now():
            await _release(
                session, reservation, status=ReservationStatus.expired, actor=EXPIRY_ACTOR
            )
        else:
            await _release(
                session,
                reservation,
                status=ReservationStatus.cancelled,
                actor=_actor(volunteer),
            )
    elif reservation.status != ReservationStatus.cancelled:
        raise ReservationNotHeld(f"The reservation is {reservation.status}")
    offer, merchant = await _with_offer(session, reservation)
    return _volunteer_out(reservation, offer, merchant)


async def mine(
    session: AsyncSession,
    *,
    volunteer: Volunteer,
    status: ReservationStatus | None,
    page: PageParams,
) -> Page[schemas.Reservation]:
    """The volunteer's reservations, newest first."""
    rows = await repository.reservations_of_volunteer(
        session, volunteer_id=volunteer.id, status=status, page=page
    )
    return keyset_page(
        rows,
        page,
        key=lambda row: (row[0].created_at, row[0].id),
        out=lambda row: _volunteer_out(row[0], row[1], row[2]),
    )


async def of_merchant(
    session: AsyncSession,
    *,
    actor: MerchantActor,
    merchant_id: uuid.UUID,
    status: ReservationStatus | None,
    page: PageParams,
) -> Page[schemas.MerchantReservation]:
    """What a merchant has to set aside, newest first; its managers, owner and cashiers."""
    merchant = await merchant_for(session, actor=actor, merchant_id=merchant_id)
    rows = await repository.reservations_of_merchant(
        session, merchant_id=merchant.id, status=status, page=page
    )
    return keyset_page(
        rows,
        page,
        key=lambda row: (row[0].created_at, row[0].id),
        out=lambda row: _merchant_out(*row),
    )


def _pickup_fingerprint(data: schemas.PickupRequest) -> str:
    return hashlib.sha256(f"pickup:{data.pickup_code}".encode()).hexdigest()


async def pick_up(
    session: AsyncSession, *, terminal: TerminalContext, data: schemas.PickupRequest
) -> schemas.Receipt:
    """Hand the reserved item over: the hold is posted as a redemption, once per
    `request_no` (the same number replays the receipt)."""
    fingerprint = _pickup_fingerprint(data)
    replayed = await _replay(session, terminal=terminal, data=data, fingerprint=fingerprint)
    if replayed is not None:
        return replayed
    reservation = await repository.lock_held_by_code(
        session, merchant_id=terminal.merchant_id, pickup_code=data.pickup_code
    )
    if reservation is None:
        # A twin of this request may have picked it up while this one waited for the lock.
        replayed = await _replay(session, terminal=terminal, data=data, fingerprint=fingerprint)
        if replayed is not None:
            return replayed
        raise ReservationNotFound()
    if reservation.expires_at <= clock.now():
        raise ReservationExpired()
    redemption = await claim(
        session, terminal=terminal, request_no=data.request_no, fingerprint=fingerprint
    )
    if redemption is None:
        raise RequestNoReused()
    offer, merchant = await _with_offer(session, reservation)
    tx = await ledger.post_hold(
        session,
        hold_id=reservation.hold_id,
        actor=terminal.label,
        kind=ledger.TxKind.redeem,
        reference_type=REFERENCE_REDEMPTION,
        reference_id=str(redemption.id),
        metadata={
            "merchant_id": str(merchant.id),
            "merchant_name": merchant.name,
            "terminal_id": str(terminal.id),
            "request_no": data.request_no,
            "reservation_id": str(reservation.id),
            "offer_id": str(offer.id),
            "offer_title": offer.title,
            "description": f"{merchant.name} 兑换 {offer.title}",
        },
        region_id=terminal.region_id,
    )
    redemption.status = RedemptionStatus.succeeded
    redemption.volunteer_id = reservation.volunteer_id
    redemption.offer_id = offer.id
    redemption.code_kind = CodeKind.pickup
    redemption.amount = reservation.amount
    redemption.transaction_id = tx.id
    redemption.volunteer_display = reservation.volunteer_display
    redemption.usage_period_key = reservation.usage_period_key
    await repository.finish(session, redemption)
    reservation.status = ReservationStatus.picked_up
    reservation.resolved_at = tx.created_at
    reservation.resolved_by = terminal.label
    reservation.redemption_id = redemption.id
    await session.flush()
    await outbox.emit(
        session,
        region_id=terminal.region_id,
        topic="redemption.succeeded",
        payload={
            "redemption_id": str(redemption.id),
            "request_no": redemption.request_no,
            "merchant_id": str(terminal.merchant_id),
            "terminal_id": str(terminal.id),
            "volunteer_id": str(reservation.volunteer_id),
            "offer_id": str(offer.id),
            "reservation_id": str(reservation.id),
            "amount": reservation.amount,
            "transaction_id": str(tx.id),
            "created_at": redemption.created_at.isoformat(),
        },
    )
    stored = await attempt(session, terminal_id=terminal.id, request_no=data.request_no)
    return receipt(stored)


async def _replay(
    session: AsyncSession,
    *,
    terminal: TerminalContext,
    data: schemas.PickupRequest,
    fingerprint: str,
) -> schemas.Receipt | None:
    """The receipt of an earlier pick-up under this request number, if there is one."""
    existing = await repository.attempt(
        session, terminal_id=terminal.id, request_no=data.request_no
    )
    if existing is None:
        return None
    if existing.fingerprint != fingerprint or existing.code_kind != CodeKind.pickup:
        raise RequestNoReused()
    return receipt(existing)


async def reservations_due(session: AsyncSession, *, limit: int) -> list[uuid.UUID]:
    """Held reservations past their timeout, oldest first."""
    return await repository.reservations_due(session, now=clock.now(), limit=limit)


async def expire(session: AsyncSession, *, reservation_id: uuid.UUID) -> bool:
    """Release one reservation past its timeout; False if it ended meanwhile."""
    reservation = await repository.lock_reservation(session, reservation_id)
    if (
        reservation is None
        or reservation.status != ReservationStatus.held
        or reservation.expires_at > clock.now()
    ):
        return False
    await _release(session, reservation, status=ReservationStatus.expired, actor=EXPIRY_ACTOR)
    return True
