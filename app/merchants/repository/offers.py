"""SQL of offers: one offer, a merchant's list, the volunteers' listing (nearest or
newest first), and the stock and per-period use that redemptions and reservations
take and give back, each in one conditional statement."""

from __future__ import annotations

import math
import uuid
from datetime import date
from typing import Any

from sqlalchemy import ColumnElement, Row, null, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.db import rowcount, session_insert
from app.core.pagination import Keyset, after_keyset, before_keyset
from app.merchants.models import (
    Merchant,
    MerchantCategory,
    MerchantStatus,
    Offer,
    OfferStatus,
    OfferUsage,
)


async def offer(session: AsyncSession, offer_id: uuid.UUID) -> Offer | None:
    return await session.get(Offer, offer_id)


async def offers_of(
    session: AsyncSession,
    *,
    merchant_id: uuid.UUID,
    after: Keyset | None,
    limit: int,
) -> list[Offer]:
    """A merchant's offers, oldest first, after the keyset `after`."""
    query = select(Offer).where(Offer.merchant_id == merchant_id)
    if after is not None:
        query = query.where(after_keyset(Offer.created_at, Offer.id, after))
    return list(await session.scalars(query.order_by(Offer.created_at, Offer.id).limit(limit)))


def active_offer_conditions(*, today: date) -> list[ColumnElement[bool]]:
    """Offers a volunteer can redeem today: active, in date, in stock, at an active merchant."""
    return [
        Offer.status == OfferStatus.active,
        Merchant.status == MerchantStatus.active,
        or_(Offer.valid_from.is_(None), Offer.valid_from <= today),
        or_(Offer.valid_until.is_(None), Offer.valid_until >= today),
        or_(Offer.stock.is_(None), Offer.stock > 0),
    ]


async def active_offers(
    session: AsyncSession,
    *,
    region_id: uuid.UUID,
    today: date,
    category: MerchantCategory | None,
    merchant_id: uuid.UUID | None,
    near: tuple[float, float] | None,
    after_distance: tuple[float, uuid.UUID] | None,
    newer_than: Keyset | None,
    limit: int,
) -> list[Row[Offer, Merchant, Any]]:
    """The region's offers a volunteer can have today with their merchant and, `near` a
    (latitude, longitude), the squared distance in degrees, nearest first (after
    `after_distance`); else newest first (before `newer_than`)."""
    distance: ColumnElement[Any] = null()
    if near is not None:
        latitude, longitude = near
        # Squared degrees with longitude scaled to the latitude: orders like true distance.
        scale = math.cos(math.radians(latitude))
        dx = (Merchant.longitude - longitude) * scale
        dy = Merchant.latitude - latitude
        distance = dx * dx + dy * dy
    query = (
        select(Offer, Merchant, distance.label("distance"))
        .join(Merchant, Merchant.id == Offer.merchant_id)
        .where(
            Offer.region_id == region_id,
            Merchant.region_id == region_id,
            *active_offer_conditions(today=today),
        )
    )
    if category is not None:
        query = query.where(Merchant.category == category)
    if merchant_id is not None:
        query = query.where(Offer.merchant_id == merchant_id)
    if near is not None:
        if after_distance is not None:
            last_distance, last_id = after_distance
            query = query.where(
                or_(distance > last_distance, (distance == last_distance) & (Offer.id > last_id))
            )
        query = query.order_by(distance, Offer.id)
    else:
        if newer_than is not None:
            query = query.where(before_keyset(Offer.created_at, Offer.id, newer_than))
        query = query.order_by(Offer.created_at.desc(), Offer.id.desc())
    return list(await session.execute(query.limit(limit)))


async def take_stock(session: AsyncSession, *, offer_id: uuid.UUID) -> bool:
    """One of the offer's stock taken; False when none is left."""
    result = await session.execute(
        update(Offer)
        .where(Offer.id == offer_id, Offer.stock > 0)
        .values(stock=Offer.stock - 1)
        .execution_options(synchronize_session=False)
    )
    return rowcount(result) == 1


async def count_usage(
    session: AsyncSession, *, offer: Offer, limit: int, volunteer_id: uuid.UUID, key: str
) -> bool:
    """One use counted against the volunteer's limit in the period `key`, atomically;
    False when the limit is reached."""
    table = OfferUsage.__table__
    statement = (
        session_insert(session)(table)
        .values(
            id=uuid.uuid4(),
            region_id=offer.region_id,
            offer_id=offer.id,
            volunteer_id=volunteer_id,
            period_key=key,
            used=1,
        )
        .on_conflict_do_update(
            index_elements=["offer_id", "volunteer_id", "period_key"],
            set_={"used": table.c.used + 1},
            where=table.c.used < limit,
        )
        .returning(table.c.used)
    )
    return (await session.execute(statement)).first() is not None


async def give_back(
    session: AsyncSession,
    *,
    offer_id: uuid.UUID,
    volunteer_id: uuid.UUID | None,
    usage_period_key: str | None,
) -> None:
    """The offer's stock and the volunteer's use in the period returned."""
    await session.execute(
        update(Offer)
        .where(Offer.id == offer_id, Offer.stock.is_not(None))
        .values(stock=Offer.stock + 1)
        .execution_options(synchronize_session=False)
    )
    if usage_period_key is not None and volunteer_id is not None:
        await session.execute(
            update(OfferUsage)
            .where(
                OfferUsage.offer_id == offer_id,
                OfferUsage.volunteer_id == volunteer_id,
                OfferUsage.period_key == usage_period_key,
                OfferUsage.used > 0,
            )
            .values(used=OfferUsage.used - 1)
            .execution_options(synchronize_session=False)
        )


async def offer_in_region(
    session: AsyncSession, *, offer_id: uuid.UUID, region_id: uuid.UUID
) -> bool:
    found = await session.scalar(
        select(Offer.id).where(Offer.id == offer_id, Offer.region_id == region_id)
    )
    return found is not None
