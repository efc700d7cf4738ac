"""SQL of merchants: the merchant rows and their lists, station pairings, the merchant's
own staff and memberships, the region's merchant policy, and the region row the
merchants' use cases read their time zone from."""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import Row, false, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.pagination import Keyset, after_keyset
from app.identity.models import StaffUser
from app.merchants.models import (
    Merchant,
    MerchantMember,
    MerchantPolicy,
    MerchantStation,
    MerchantStatus,
)
from app.orgs.models import OrgUnit, Region


async def region(session: AsyncSession, region_id: uuid.UUID) -> Region | None:
    return await session.get(Region, region_id)


# Merchants and their stations


async def merchant(session: AsyncSession, merchant_id: uuid.UUID) -> Merchant | None:
    return await session.get(Merchant, merchant_id)


async def merchants_page(
    session: AsyncSession,
    *,
    region_id: uuid.UUID,
    station_paths: Sequence[str] | None,
    member_of: uuid.UUID | None,
    as_member: bool,
    status: MerchantStatus | None,
    after: Keyset | None,
    limit: int,
) -> list[Merchant]:
    """The region's merchants, oldest first after `after`: those paired with a station
    under one of `station_paths` when given; as a merchant's member (`as_member`), the
    one it belongs to (`member_of`, none if None)."""
    query = select(Merchant).where(Merchant.region_id == region_id)
    if station_paths is not None:
        in_reach = (
            select(MerchantStation.merchant_id)
            .join(OrgUnit, OrgUnit.id == MerchantStation.org_unit_id)
            .where(
                MerchantStation.revoked_at.is_(None),
                or_(false(), *(OrgUnit.path.startswith(p) for p in station_paths)),
            )
        )
        query = query.where(Merchant.id.in_(in_reach))
    if as_member:
        query = query.where(Merchant.id == member_of)
    if status is not None:
        query = query.where(Merchant.status == status)
    if after is not None:
        query = query.where(after_keyset(Merchant.created_at, Merchant.id, after))
    return list(
        await session.scalars(query.order_by(Merchant.created_at, Merchant.id).limit(limit))
    )


async def merchants_by_id(
    session: AsyncSession, *, region_id: uuid.UUID, merchant_ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, Merchant]:
    found = await session.scalars(
        select(Merchant).where(Merchant.region_id == region_id, Merchant.id.in_(merchant_ids))
    )
    return {m.id: m for m in found}


async def remember_ledger_account(
    session: AsyncSession, *, merchant_id: uuid.UUID, account_id: uuid.UUID
) -> None:
    """The receipts account set on the merchant, unless it has one already."""
    await session.execute(
        update(Merchant)
        .where(Merchant.id == merchant_id, Merchant.ledger_account_id.is_(None))
        .values(ledger_account_id=account_id)
        .execution_options(synchronize_session=False)
    )


async def stations_of(
    session: AsyncSession, merchant_ids: Sequence[uuid.UUID]
) -> defaultdict[uuid.UUID, list[uuid.UUID]]:
    """The paired stations of each merchant, in one query (ended pairings are history)."""
    rows = await session.execute(
        select(MerchantStation.merchant_id, MerchantStation.org_unit_id)
        .where(MerchantStation.merchant_id.in_(merchant_ids), MerchantStation.revoked_at.is_(None))
        .order_by(MerchantStation.org_unit_id)
    )
    stations: defaultdict[uuid.UUID, list[uuid.UUID]] = defaultdict(list)
    for merchant_id, unit_id in rows:
        stations[merchant_id].append(unit_id)
    return stations


async def paired_units(
    session: AsyncSession, *, merchant_id: uuid.UUID, region_id: uuid.UUID
) -> list[OrgUnit]:
    rows = await session.scalars(
        select(OrgUnit)
        .join(MerchantStation, MerchantStation.org_unit_id == OrgUnit.id)
        .where(
            MerchantStation.merchant_id == merchant_id,
            MerchantStation.region_id == region_id,
            MerchantStation.revoked_at.is_(None),
        )
        .order_by(OrgUnit.id)
    )
    return list(rows)


async def end_pairings(
    session: AsyncSession,
    *,
    merchant_id: uuid.UUID,
    unit_ids: set[uuid.UUID],
    at: datetime,
    by: uuid.UUID,
    reason: str | None,
) -> None:
    """The pairings end and stay: who ended them, when and why."""
    await session.execute(
        update(MerchantStation)
        .where(
            MerchantStation.merchant_id == merchant_id,
            MerchantStation.org_unit_id.in_(unit_ids),
            MerchantStation.revoked_at.is_(None),
        )
        .values(revoked_at=at, revoked_by=by, revoked_reason=reason)
        .execution_options(synchronize_session=False)
    )


# The merchant's staff


async def membership_of(
    session: AsyncSession, *, staff_user_id: uuid.UUID, region_id: uuid.UUID
) -> MerchantMember | None:
    return await session.scalar(
        select(MerchantMember).where(
            MerchantMember.staff_user_id == staff_user_id,
            MerchantMember.region_id == region_id,
        )
    )


async def username_taken(session: AsyncSession, username: str) -> bool:
    taken = await session.scalar(select(StaffUser.id).where(StaffUser.username == username))
    return taken is not None


async def members_of(
    session: AsyncSession, *, merchant_id: uuid.UUID
) -> list[Row[StaffUser, MerchantMember]]:
    """The merchant's current staff with their membership, oldest account first."""
    rows = await session.execute(
        select(StaffUser, MerchantMember)
        .join(MerchantMember, MerchantMember.staff_user_id == StaffUser.id)
        .where(MerchantMember.merchant_id == merchant_id, MerchantMember.removed_at.is_(None))
        .order_by(StaffUser.created_at, StaffUser.id)
    )
    return list(rows)


async def lock_member(
    session: AsyncSession, *, merchant_id: uuid.UUID, region_id: uuid.UUID, staff_id: uuid.UUID
) -> Row[StaffUser, MerchantMember] | None:
    """A current member of the merchant with their account, the membership locked."""
    return (
        await session.execute(
            select(StaffUser, MerchantMember)
            .join(MerchantMember, MerchantMember.staff_user_id == StaffUser.id)
            .where(
                MerchantMember.merchant_id == merchant_id,
                MerchantMember.region_id == region_id,
                MerchantMember.staff_user_id == staff_id,
                MerchantMember.removed_at.is_(None),
            )
            .with_for_update(of=MerchantMember)
        )
    ).first()


# The region's merchant policy


async def policy(session: AsyncSession, *, region_id: uuid.UUID) -> MerchantPolicy | None:
    return await session.scalar(select(MerchantPolicy).where(MerchantPolicy.region_id == region_id))


async def refund_window_days(session: AsyncSession, *, region_id: uuid.UUID) -> int | None:
    """The region's refund window, None when it keeps the default."""
    return await session.scalar(
        select(MerchantPolicy.refund_window_days).where(MerchantPolicy.region_id == region_id)
    )
