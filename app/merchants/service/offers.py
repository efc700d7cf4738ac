"""Offers: managed by their merchant, browsed by the region's volunteers."""

from __future__ import annotations

import math
import uuid
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from app.core import clock
from app.core.pagination import (
    Page,
    PageParams,
    decode_cursor,
    decode_keyset,
    encode_cursor,
    keyset_cursor,
    keyset_page,
    parse_cursor_id,
    parse_cursor_number,
)
from app.merchants import repository, schemas
from app.merchants.access import MerchantActor, merchant_for
from app.merchants.errors import (
    LocationRequired,
    OfferDatesInvalid,
    OfferLimitIncomplete,
    OfferNotFound,
)
from app.merchants.models import Merchant, MerchantCategory, Offer, OfferStatus
from app.volunteers.models import Volunteer

# Metres per degree of latitude; distances use an equirectangular approximation,
# accurate to well under 1 % within a district.
_METRES_PER_DEGREE = 111_195.0


# Offers


def _offer_out(offer: Offer) -> schemas.Offer:
    return schemas.Offer.model_validate(offer)


def _check_offer(offer: Offer) -> None:
    if (offer.limit_count is None) != (offer.limit_period is None):
        raise OfferLimitIncomplete()
    if (
        offer.valid_from is not None
        and offer.valid_until is not None
        and offer.valid_until < offer.valid_from
    ):
        raise OfferDatesInvalid()


async def create_offer(
    session: AsyncSession,
    *,
    actor: MerchantActor,
    merchant_id: uuid.UUID,
    data: schemas.OfferCreate,
) -> schemas.Offer:
    merchant = await merchant_for(session, actor=actor, merchant_id=merchant_id, owner=True)
    offer = Offer(
        region_id=merchant.region_id,
        merchant_id=merchant.id,
        status=OfferStatus.active,
        **data.model_dump(),
    )
    _check_offer(offer)
    session.add(offer)
    await session.flush()
    return _offer_out(offer)


async def _offer_of(session: AsyncSession, merchant: Merchant, offer_id: uuid.UUID) -> Offer:
    offer = await repository.offer(session, offer_id)
    if offer is None or offer.merchant_id != merchant.id:
        raise OfferNotFound()
    return offer


async def update_offer(
    session: AsyncSession,
    *,
    actor: MerchantActor,
    merchant_id: uuid.UUID,
    offer_id: uuid.UUID,
    data: schemas.OfferUpdate,
) -> schemas.Offer:
    """Change an offer; null clears stock, the limit and the dates (title, price, star level
    and status cannot be cleared)."""
    merchant = await merchant_for(session, actor=actor, merchant_id=merchant_id, owner=True)
    offer = await _offer_of(session, merchant, offer_id)
    fields: dict[str, Any] = data.model_dump(exclude_unset=True)
    for name in ("title", "price", "min_star_level", "status"):
        if name in fields and fields[name] is None:
            del fields[name]
    for name, value in fields.items():
        setattr(offer, name, value)
    _check_offer(offer)
    offer.updated_at = clock.now()
    await session.flush()
    return _offer_out(offer)


async def list_offers(
    session: AsyncSession,
    *,
    actor: MerchantActor,
    merchant_id: uuid.UUID,
    page: PageParams,
) -> Page[schemas.Offer]:
    merchant = await merchant_for(session, actor=actor, merchant_id=merchant_id)
    rows = await repository.offers_of(
        session,
        merchant_id=merchant.id,
        after=decode_keyset(page.cursor),
        limit=page.limit + 1,
    )
    return keyset_page(rows, page, key=lambda o: (o.created_at, o.id), out=_offer_out)


async def browse_offers(
    session: AsyncSession,
    *,
    volunteer: Volunteer,
    category: MerchantCategory | None,
    merchant_id: uuid.UUID | None,
    latitude: float | None,
    longitude: float | None,
    page: PageParams,
) -> Page[schemas.OfferListing]:
    """Active offers of the volunteer's region, nearest first when a position is given,
    else newest first."""
    if (latitude is None) != (longitude is None):
        raise LocationRequired()
    region = await repository.region(session, volunteer.region_id)
    assert region is not None
    near = (latitude, longitude) if latitude is not None and longitude is not None else None
    after_distance = None
    newer_than = None
    if near is not None:
        after = decode_cursor(page.cursor, arity=2)
        if after is not None:
            after_distance = parse_cursor_number(after[0]), parse_cursor_id(after[1])
    else:
        newer_than = decode_keyset(page.cursor)
    rows = await repository.active_offers(
        session,
        region_id=region.id,
        today=clock.today_in(region.timezone),
        category=category,
        merchant_id=merchant_id,
        near=near,
        after_distance=after_distance,
        newer_than=newer_than,
        limit=page.limit + 1,
    )
    more = len(rows) > page.limit
    rows = rows[: page.limit]
    items = [
        schemas.OfferListing(
            id=offer.id,
            title=offer.title,
            description=offer.description,
            price=offer.price,
            stock=offer.stock,
            limit_count=offer.limit_count,
            limit_period=offer.limit_period,
            valid_until=offer.valid_until,
            min_star_level=offer.min_star_level,
            merchant=schemas.OfferMerchant(
                id=merchant.id,
                name=merchant.name,
                address=merchant.address,
                latitude=merchant.latitude,
                longitude=merchant.longitude,
                category=merchant.category,
            ),
            distance_m=(
                round(math.sqrt(squared) * _METRES_PER_DEGREE) if squared is not None else None
            ),
        )
        for offer, merchant, squared in rows
    ]
    next_cursor = None
    if more:
        last = rows[-1]
        next_cursor = (
            encode_cursor(float(last[2]), last[0].id)
            if near is not None
            else keyset_cursor(last[0].created_at, last[0].id)
        )
    return Page(items=items, next_cursor=next_cursor)
