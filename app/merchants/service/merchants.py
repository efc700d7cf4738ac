"""Merchants: onboarding, status, their paired stations and their receipts account."""

from __future__ import annotations

import uuid

from sqlalchemy.ext.asyncio import AsyncSession

from app.core import clock
from app.core.pagination import Page, PageParams, decode_keyset, keyset_page
from app.identity.principals import StaffContext
from app.ledger import service as ledger
from app.merchants import repository, schemas
from app.merchants.access import MerchantActor, merchant_for
from app.merchants.errors import MerchantStatusTransitionInvalid, NotMerchantManager, StationInvalid
from app.merchants.models import MERCHANT_TRANSITIONS, Merchant, MerchantStation, MerchantStatus
from app.orgs.models import OrgUnit, UnitKind
from app.orgs.service import unit_in_region

# Merchants


async def _station_ids(session: AsyncSession, merchant: Merchant) -> list[uuid.UUID]:
    return (await repository.stations_of(session, [merchant.id]))[merchant.id]


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
    station_paths = None
    member_of = None
    if actor.staff is not None:
        if not actor.staff.is_center_admin:
            station_paths = [g.unit_path for g in actor.staff.grants if g.role.endswith("_admin")]
    else:
        member_of = actor.member.merchant_id if actor.member is not None else None
    rows = await repository.merchants_page(
        session,
        region_id=actor.region_id,
        station_paths=station_paths,
        member_of=member_of,
        as_member=actor.staff is None,
        status=status,
        after=decode_keyset(page.cursor),
        limit=page.limit + 1,
    )
    stations = await repository.stations_of(session, [m.id for m in rows[: page.limit]])
    return keyset_page(
        rows,
        page,
        key=lambda m: (m.created_at, m.id),
        out=lambda m: _merchant_out(m, stations[m.id]),
    )


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
            await repository.end_pairings(
                session,
                merchant_id=merchant.id,
                unit_ids=current - wanted,
                at=clock.now(),
                by=staff.id,
                reason=data.pairing_reason,
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
    await repository.remember_ledger_account(
        session, merchant_id=merchant_id, account_id=account.id
    )
    return account.id
