"""SQL of reservations for pick-up: the row under its lock, the lists of the volunteer
and of the merchant, the held reservation a pick-up code names, and those past their
timeout."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import Row, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.pagination import PageParams, S, keyset_window
from app.merchants.models import Merchant, Offer, OfferReservation, ReservationStatus


async def lock_reservation(
    session: AsyncSession, reservation_id: uuid.UUID
) -> OfferReservation | None:
    return await session.get(OfferReservation, reservation_id, with_for_update=True)


def _newest_first(query: S, page: PageParams) -> S:
    return keyset_window(
        query,
        page,
        time_column=OfferReservation.created_at,
        id_column=OfferReservation.id,
        newest_first=True,
    )


async def reservations_of_volunteer(
    session: AsyncSession,
    *,
    volunteer_id: uuid.UUID,
    status: ReservationStatus | None,
    page: PageParams,
) -> list[Row[OfferReservation, Offer, Merchant]]:
    """A page of the volunteer's reservations with their offer and merchant, newest first."""
    query = (
        select(OfferReservation, Offer, Merchant)
        .join(Offer, Offer.id == OfferReservation.offer_id)
        .join(Merchant, Merchant.id == OfferReservation.merchant_id)
        .where(OfferReservation.volunteer_id == volunteer_id)
    )
    if status is not None:
        query = query.where(OfferReservation.status == status)
    return list(await session.execute(_newest_first(query, page)))


async def reservations_of_merchant(
    session: AsyncSession,
    *,
    merchant_id: uuid.UUID,
    status: ReservationStatus | None,
    page: PageParams,
) -> list[Row[OfferReservation, Offer]]:
    """A page of the merchant's reservations with their offer, newest first."""
    query = (
        select(OfferReservation, Offer)
        .join(Offer, Offer.id == OfferReservation.offer_id)
        .where(OfferReservation.merchant_id == merchant_id)
    )
    if status is not None:
        query = query.where(OfferReservation.status == status)
    return list(await session.execute(_newest_first(query, page)))


async def lock_held_by_code(
    session: AsyncSession, *, merchant_id: uuid.UUID, pickup_code: str
) -> OfferReservation | None:
    """The merchant's held reservation with this pick-up code, locked."""
    return await session.scalar(
        select(OfferReservation)
        .where(
            OfferReservation.merchant_id == merchant_id,
            OfferReservation.pickup_code == pickup_code,
            OfferReservation.status == ReservationStatus.held,
        )
        .with_for_update()
    )


async def reservations_due(session: AsyncSession, *, now: datetime, limit: int) -> list[uuid.UUID]:
    """Held reservations past their timeout, oldest first."""
    rows = await session.scalars(
        select(OfferReservation.id)
        .where(
            OfferReservation.status == ReservationStatus.held,
            OfferReservation.expires_at <= now,
        )
        .order_by(OfferReservation.expires_at)
        .limit(limit)
    )
    return list(rows)
