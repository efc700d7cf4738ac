"""Merchants: onboarding, status, their paired stations and their receipts account."""

from __future__ import annotations

import uuid
from collections import defaultdict

from sqlalchemy import false, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from app.core import clock
from app.core.pagination import (
    Page,
    PageParams,
    after_keyset,
    decode_keyset,
    keyset_cursor,
)
from app.identity.principals import StaffContext
from app.ledger import service as ledger
from app.merchants import schemas
from app.merchants.access import (
    MerchantActor,
    merchant_for,
)
from app.merchants.errors import (
    MerchantStatusTransitionInvalid,
    NotMerchantManager,
    StationInvalid,
)
from app.merchants.models import (
    MERCHANT_TRANSITIONS,
    Merchant,
    MerchantStation,
    MerchantStatus,
)
from app.orgs.models import OrgUnit, UnitKind
from app.orgs.service import unit_in_region

# Merchants


async def _station_ids(session: AsyncSession, merchant: Merchant) -> list[uuid.UUID]:
    return (await _stations_of(session, [merchant.id]))[merchant.id]


async def _stations_of(
    session: AsyncSession, merchant_ids: list[uuid.UUID]
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


def _merchant_out(merchant: Merchant, station_ids: list[uuid.UUID]) -> schemas.Merchant:
    return schemas.Merchant(
        id=merchant.id,
        region_id=merchant.region_id,
        name=merchant.name,
        address=merchant.address,
        latitude=merchant.latitude,
        longitude=merchant.longitude,
        category=merchant.category,
        contact_name=merchant.contact_name,
        contact_phone=merchant.contact_phone,
        status=merchant.status,
        station_ids=station_ids,
        created_at=merchant.created_at,
        updated_at=merchant.updated_at,
    )


async def _stations(
    session: AsyncSession, *, staff: StaffContext, station_ids: set[uuid.UUID]
) -> list[OrgUnit]:
    """The stations, each of the staff's region and administered by them; another
    region's unit is not found, as anywhere else."""
    units = []
    for station_id in sorted(station_ids):
        unit = await unit_in_region(session, region_id=staff.region_id, unit_id=station_id)
        if unit.kind != UnitKind.station:
            raise StationInvalid(f"{station_id} is not a station")
        if not staff.is_admin_of(unit):
            raise NotMerchantManager(f"You do not administer station {station_id}")
        units.append(unit)
    return units


async def create_merchant(
    session: AsyncSession, *, staff: StaffContext, data: schemas.MerchantCreate
) -> schemas.Merchant:
    """Onboard a merchant (pending); by a center admin, or an admin of every paired station."""
    stations = await _stations(session, staff=staff, station_ids=set(data.station_ids))
    if not stations and not staff.is_center_admin:
        raise NotMerchantManager("Pair the merchant with a station you administer")
    merchant = Merchant(
        region_id=staff.region_id,
        name=data.name,
        address=data.address,
        latitude=data.latitude,
        longitude=data.longitude,
        category=data.category,
        contact_name=data.contact_name,
        contact_phone=data.contact_phone,
        status=MerchantStatus.pending,
        created_by_id=staff.id,
    )
    session.add(merchant)
    await session.flush()
    account = await ledger.merchant_account(
        session, region_id=merchant.region_id, merchant_id=merchant.id
    )
    merchant.ledger_account_id = account.id
    for unit in stations:
        session.add(
            MerchantStation(region_id=staff.region_id, merchant_id=merchant.id, org_unit_id=unit.id)
        )
    await session.flush()
    return _merchant_out(merchant, sorted(u.id for u in stations))


async def get_merchant(
    session: AsyncSession, *, actor: MerchantActor, merchant_id: uuid.UUID
) -> schemas.Merchant:
    merchant = await merchant_for(session, actor=actor, merchant_id=merchant_id)
    return _merchant_out(merchant, await _station_ids(session, merchant))


async def list_merchants(
    session: AsyncSession,
    *,
    actor: MerchantActor,
    status: MerchantStatus | None,
    page: PageParams,
) -> Page[schemas.Merchant]:
    """The merchants the actor may see: all of the region for its center admins, those
    paired with a station in reach for other admins, their own for merchant staff."""
    query = select(Merchant).where(Merchant.region_id == actor.region_id)
    if actor.staff is not None:
        if not actor.staff.is_center_admin:
            paths = [g.unit_path for g in actor.staff.grants if g.role.endswith("_admin")]
            in_reach = (
                select(MerchantStation.merchant_id)
                .join(OrgUnit, OrgUnit.id == MerchantStation.org_unit_id)
                .where(
                    MerchantStation.revoked_at.is_(None),
                    or_(false(), *(OrgUnit.path.startswith(p) for p in paths)),
                )
            )
            query = query.where(Merchant.id.in_(in_reach))
    else:
        member_of = actor.member.merchant_id if actor.member is not None else None
        query = query.where(Merchant.id == member_of)
    if status is not None:
        query = query.where(Merchant.status == status)
    after = decode_keyset(page.cursor)
    if after is not None:
        query = query.where(after_keyset(Merchant.created_at, Merchant.id, after))
    rows = list(
        await session.scalars(
            query.order_by(Merchant.created_at, Merchant.id).limit(page.limit + 1)
        )
    )
    more = len(rows) > page.limit
    rows = rows[: page.limit]
    stations = await _stations_of(session, [m.id for m in rows])
    items = [_merchant_out(m, stations[m.id]) for m in rows]
    next_cursor = keyset_cursor(rows[-1].created_at, rows[-1].id) if more else None
    return Page(items=items, next_cursor=next_cursor)


async def update_merchant(
    session: AsyncSession,
    *,
    staff: StaffContext,
    merchant_id: uuid.UUID,
    data: schemas.MerchantUpdate,
) -> schemas.Merchant:
    merchant = await merchant_for(
        session, actor=MerchantActor(staff=staff), merchant_id=merchant_id
    )
    fields = data.model_dump(exclude_unset=True, exclude={"station_ids", "pairing_reason"})
    for name in ("name", "address", "latitude", "longitude", "category"):
        if name in fields and fields[name] is None:
            del fields[name]
    for name, value in fields.items():
        setattr(merchant, name, value)
    if data.station_ids is not None:
        current = set(await _station_ids(session, merchant))
        wanted = set(data.station_ids)
        await _stations(session, staff=staff, station_ids=current ^ wanted)
        if current - wanted:
            # The pairings end and stay: who ended them, when and why.
            await session.execute(
                update(MerchantStation)
                .where(
                    MerchantStation.merchant_id == merchant.id,
                    MerchantStation.org_unit_id.in_(current - wanted),
                    MerchantStation.revoked_at.is_(None),
                )
                .values(
                    revoked_at=clock.now(),
                    revoked_by=staff.id,
                    revoked_reason=data.pairing_reason,
                )
                .execution_options(synchronize_session=False)
            )
        for unit_id in sorted(wanted - current):
            session.add(
                MerchantStation(
                    region_id=merchant.region_id, merchant_id=merchant.id, org_unit_id=unit_id
                )
            )
    merchant.updated_at = clock.now()
    await session.flush()
    if data.station_ids is not None:
        return _merchant_out(merchant, sorted(set(data.station_ids)))
    return _merchant_out(merchant, await _station_ids(session, merchant))


async def change_status(
    session: AsyncSession,
    *,
    staff: StaffContext,
    merchant_id: uuid.UUID,
    status: MerchantStatus,
) -> schemas.Merchant:
    """pending → active → suspended → active; a suspended merchant's terminals are refused."""
    merchant = await merchant_for(
        session, actor=MerchantActor(staff=staff), merchant_id=merchant_id
    )
    if status != merchant.status and status not in MERCHANT_TRANSITIONS[merchant.status]:
        raise MerchantStatusTransitionInvalid(
            f"A {merchant.status} merchant cannot become {status}"
        )
    merchant.status = status
    merchant.updated_at = clock.now()
    await session.flush()
    return _merchant_out(merchant, await _station_ids(session, merchant))


async def merchant_account_id(
    session: AsyncSession, *, region_id: uuid.UUID, merchant_id: uuid.UUID
) -> uuid.UUID:
    """The merchant's receipts account, opened in the ledger on first use and remembered."""
    account = await ledger.merchant_account(session, region_id=region_id, merchant_id=merchant_id)
    await session.execute(
        update(Merchant)
        .where(Merchant.id == merchant_id, Merchant.ledger_account_id.is_(None))
        .values(ledger_account_id=account.id)
        .execution_options(synchronize_session=False)
    )
    return account.id
