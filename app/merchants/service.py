"""Merchants: onboarding, status, paired stations, merchant staff, the region's merchant
policy, offers (managed and browsed), and terminal registration."""

from __future__ import annotations

import base64
import math
import uuid
from collections import defaultdict
from datetime import date
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import ColumnElement, false, null, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from app.core import clock
from app.core.errors import NotFound
from app.core.pagination import (
    Page,
    PageParams,
    after_keyset,
    before_keyset,
    decode_cursor,
    decode_keyset,
    encode_cursor,
    keyset_cursor,
    keyset_page,
    keyset_window,
    parse_cursor_id,
    parse_cursor_number,
)
from app.core.security import hash_password
from app.identity import revocation
from app.identity.models import StaffKind, StaffUser
from app.identity.principals import StaffContext
from app.ledger import service as ledger
from app.merchants import schemas, signing
from app.merchants.access import (
    MerchantActor,
    merchant_for,
)
from app.merchants.errors import (
    LocationRequired,
    MerchantStaffNotFound,
    MerchantStatusTransitionInvalid,
    MerchantUsernameTaken,
    NotMerchantManager,
    OfferDatesInvalid,
    OfferLimitIncomplete,
    OfferNotFound,
    StationInvalid,
    TerminalNotFound,
    TerminalStatusTransitionInvalid,
)
from app.merchants.models import (
    DEFAULT_REFUND_WINDOW_DAYS,
    MERCHANT_TRANSITIONS,
    Merchant,
    MerchantCategory,
    MerchantMember,
    MerchantPolicy,
    MerchantRole,
    MerchantStation,
    MerchantStatus,
    Offer,
    OfferStatus,
    Terminal,
    TerminalStatus,
)
from app.orgs.authz import require_center_admin
from app.orgs.models import OrgUnit, Region, UnitKind
from app.orgs.service import unit_in_region
from app.volunteers.models import Volunteer

# Metres per degree of latitude; distances use an equirectangular approximation,
# accurate to well under 1 % within a district.
_METRES_PER_DEGREE = 111_195.0


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


# Merchant staff


def _staff_out(user: StaffUser, member: MerchantMember) -> schemas.MerchantStaff:
    return schemas.MerchantStaff(
        id=user.id,
        username=user.username,
        display_name=user.display_name,
        role=member.role,
        is_active=user.is_active,
        created_at=user.created_at,
    )


async def create_merchant_staff(
    session: AsyncSession,
    *,
    actor: MerchantActor,
    merchant_id: uuid.UUID,
    data: schemas.MerchantStaffCreate,
) -> schemas.MerchantStaff:
    """A login for the merchant: its managers create owners and cashiers, its owner cashiers."""
    merchant = await merchant_for(session, actor=actor, merchant_id=merchant_id, owner=True)
    if actor.staff is None and data.role != MerchantRole.cashier:
        raise NotMerchantManager("Owners are created by the merchant's managers")
    taken = await session.scalar(select(StaffUser.id).where(StaffUser.username == data.username))
    if taken is not None:
        raise MerchantUsernameTaken()
    user = StaffUser(
        region_id=merchant.region_id,
        kind=StaffKind.merchant,
        username=data.username,
        display_name=data.display_name,
        password_hash=await hash_password(data.password),
    )
    session.add(user)
    await session.flush()
    member = MerchantMember(
        region_id=merchant.region_id, merchant_id=merchant.id, staff_user_id=user.id, role=data.role
    )
    session.add(member)
    await session.flush()
    return _staff_out(user, member)


async def list_merchant_staff(
    session: AsyncSession, *, actor: MerchantActor, merchant_id: uuid.UUID
) -> list[schemas.MerchantStaff]:
    merchant = await merchant_for(session, actor=actor, merchant_id=merchant_id, owner=True)
    rows = await session.execute(
        select(StaffUser, MerchantMember)
        .join(MerchantMember, MerchantMember.staff_user_id == StaffUser.id)
        .where(MerchantMember.merchant_id == merchant.id, MerchantMember.removed_at.is_(None))
        .order_by(StaffUser.created_at, StaffUser.id)
    )
    return [_staff_out(user, member) for user, member in rows]


async def _member_in_reach(
    session: AsyncSession, *, actor: MerchantActor, merchant_id: uuid.UUID, staff_id: uuid.UUID
) -> tuple[StaffUser, MerchantMember]:
    """A current member of the merchant the actor may manage: its managers manage owners
    and cashiers, its owner cashiers. Anyone else's account is not found."""
    merchant = await merchant_for(session, actor=actor, merchant_id=merchant_id, owner=True)
    row = (
        await session.execute(
            select(StaffUser, MerchantMember)
            .join(MerchantMember, MerchantMember.staff_user_id == StaffUser.id)
            .where(
                MerchantMember.merchant_id == merchant.id,
                MerchantMember.region_id == merchant.region_id,
                MerchantMember.staff_user_id == staff_id,
                MerchantMember.removed_at.is_(None),
            )
            .with_for_update(of=MerchantMember)
        )
    ).first()
    if row is None:
        raise MerchantStaffNotFound()
    user, member = row
    if actor.staff is None and member.role != MerchantRole.cashier:
        raise NotMerchantManager("Owners are managed by the merchant's managers")
    return user, member


async def update_merchant_staff(
    session: AsyncSession,
    *,
    actor: MerchantActor,
    merchant_id: uuid.UUID,
    staff_id: uuid.UUID,
    data: schemas.MerchantStaffUpdate,
) -> schemas.MerchantStaff:
    """Rename, disable, re-enable or give a new password to a merchant staff account.
    Disabling it or changing its password ends its logins at once."""
    user, member = await _member_in_reach(
        session, actor=actor, merchant_id=merchant_id, staff_id=staff_id
    )
    if data.display_name is not None:
        user.display_name = data.display_name
    ends_logins = data.is_active is False or data.password is not None
    if data.is_active is not None:
        user.is_active = data.is_active
    if data.password is not None:
        user.password_hash = await hash_password(data.password)
    await session.flush()
    if ends_logins:
        await revocation.end_staff_logins(session, user=user)
    return _staff_out(user, member)


async def remove_merchant_staff(
    session: AsyncSession, *, actor: MerchantActor, merchant_id: uuid.UUID, staff_id: uuid.UUID
) -> None:
    """Take an account off the merchant: disabled for good, its logins ended at once. The
    account itself is kept, so that what it did stays attributed."""
    user, member = await _member_in_reach(
        session, actor=actor, merchant_id=merchant_id, staff_id=staff_id
    )
    by = actor.staff.user if actor.staff is not None else actor.user
    assert by is not None
    member.removed_at = clock.now()
    member.removed_by_id = by.id
    user.is_active = False
    await session.flush()
    await revocation.end_staff_logins(session, user=user)


# The region's merchant policy


async def refund_window_days(session: AsyncSession, *, region_id: uuid.UUID) -> int:
    days = await session.scalar(
        select(MerchantPolicy.refund_window_days).where(MerchantPolicy.region_id == region_id)
    )
    return DEFAULT_REFUND_WINDOW_DAYS if days is None else days


async def get_policy(
    session: AsyncSession, *, staff: StaffContext, region_id: uuid.UUID
) -> schemas.MerchantPolicy:
    if region_id != staff.region_id:
        raise NotFound("The region does not exist")
    policy = await session.scalar(
        select(MerchantPolicy).where(MerchantPolicy.region_id == region_id)
    )
    return schemas.MerchantPolicy(
        region_id=region_id,
        refund_window_days=(
            policy.refund_window_days if policy is not None else DEFAULT_REFUND_WINDOW_DAYS
        ),
        is_default=policy is None,
    )


async def set_policy(
    session: AsyncSession,
    *,
    staff: StaffContext,
    region_id: uuid.UUID,
    data: schemas.MerchantPolicyUpdate,
) -> schemas.MerchantPolicy:
    if region_id != staff.region_id:
        raise NotFound("The region does not exist")
    require_center_admin(staff)
    policy = await session.scalar(
        select(MerchantPolicy).where(MerchantPolicy.region_id == region_id)
    )
    if policy is None:
        policy = MerchantPolicy(region_id=region_id)
        session.add(policy)
    policy.refund_window_days = data.refund_window_days
    policy.updated_at = clock.now()
    policy.updated_by_id = staff.id
    await session.flush()
    return schemas.MerchantPolicy(
        region_id=region_id, refund_window_days=policy.refund_window_days, is_default=False
    )


# Offers


def _offer_out(offer: Offer) -> schemas.Offer:
    return schemas.Offer(
        id=offer.id,
        merchant_id=offer.merchant_id,
        title=offer.title,
        description=offer.description,
        price=offer.price,
        stock=offer.stock,
        limit_count=offer.limit_count,
        limit_period=offer.limit_period,
        valid_from=offer.valid_from,
        valid_until=offer.valid_until,
        min_star_level=offer.min_star_level,
        status=offer.status,
        created_at=offer.created_at,
        updated_at=offer.updated_at,
    )


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
    offer = await session.get(Offer, offer_id)
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
    query = select(Offer).where(Offer.merchant_id == merchant.id)
    after = decode_keyset(page.cursor)
    if after is not None:
        query = query.where(after_keyset(Offer.created_at, Offer.id, after))
    rows = list(
        await session.scalars(query.order_by(Offer.created_at, Offer.id).limit(page.limit + 1))
    )
    more = len(rows) > page.limit
    rows = rows[: page.limit]
    next_cursor = keyset_cursor(rows[-1].created_at, rows[-1].id) if more else None
    return Page(items=[_offer_out(o) for o in rows], next_cursor=next_cursor)


def active_offer_conditions(*, today: date) -> list[ColumnElement[bool]]:
    """Offers a volunteer can redeem today: active, in date, in stock, at an active merchant."""
    return [
        Offer.status == OfferStatus.active,
        Merchant.status == MerchantStatus.active,
        or_(Offer.valid_from.is_(None), Offer.valid_from <= today),
        or_(Offer.valid_until.is_(None), Offer.valid_until >= today),
        or_(Offer.stock.is_(None), Offer.stock > 0),
    ]


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
    region = await session.get(Region, volunteer.region_id)
    assert region is not None
    near = latitude is not None and longitude is not None
    distance: ColumnElement[Any] = null()
    if latitude is not None and longitude is not None:
        # Squared degrees with longitude scaled to the latitude: orders like true distance.
        scale = math.cos(math.radians(latitude))
        dx = (Merchant.longitude - longitude) * scale
        dy = Merchant.latitude - latitude
        distance = dx * dx + dy * dy
    query = (
        select(Offer, Merchant, distance.label("distance"))
        .join(Merchant, Merchant.id == Offer.merchant_id)
        .where(
            Offer.region_id == region.id,
            Merchant.region_id == region.id,
            *active_offer_conditions(today=clock.today_in(region.timezone)),
        )
    )
    if category is not None:
        query = query.where(Merchant.category == category)
    if merchant_id is not None:
        query = query.where(Offer.merchant_id == merchant_id)
    if near:
        after = decode_cursor(page.cursor, arity=2)
        if after is not None:
            last_distance, last_id = parse_cursor_number(after[0]), parse_cursor_id(after[1])
            query = query.where(
                or_(distance > last_distance, (distance == last_distance) & (Offer.id > last_id))
            )
        query = query.order_by(distance, Offer.id)
    else:
        newer = decode_keyset(page.cursor)
        if newer is not None:
            query = query.where(before_keyset(Offer.created_at, Offer.id, newer))
        query = query.order_by(Offer.created_at.desc(), Offer.id.desc())
    rows = list(await session.execute(query.limit(page.limit + 1)))
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
            if near
            else keyset_cursor(last[0].created_at, last[0].id)
        )
    return Page(items=items, next_cursor=next_cursor)


# Terminals


def _terminal_out(terminal: Terminal) -> schemas.Terminal:
    return schemas.Terminal(
        id=terminal.id,
        key_id=str(terminal.id),
        merchant_id=terminal.merchant_id,
        name=terminal.name,
        public_key=terminal.public_key,
        status=terminal.status,
        created_at=terminal.created_at,
        revoked_at=terminal.revoked_at,
    )


async def register_terminal(
    session: AsyncSession,
    *,
    actor: MerchantActor,
    merchant_id: uuid.UUID,
    data: schemas.TerminalCreate,
) -> schemas.TerminalRegistered:
    """A terminal with the given public key, or with a key pair generated here whose
    private half is returned this once and not kept."""
    merchant = await merchant_for(session, actor=actor, merchant_id=merchant_id, owner=True)
    private_pem: str | None = None
    if data.public_key is not None:
        key = signing.load_public_key(data.public_key)
    else:
        private = Ed25519PrivateKey.generate()
        private_pem = private.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        ).decode()
        key = private.public_key()
    public_raw = key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    terminal = Terminal(
        region_id=merchant.region_id,
        merchant_id=merchant.id,
        name=data.name,
        public_key=base64.b64encode(public_raw).decode(),
        status=TerminalStatus.active,
        created_by=actor.label,
    )
    session.add(terminal)
    await session.flush()
    return schemas.TerminalRegistered(
        **_terminal_out(terminal).model_dump(), private_key=private_pem
    )


async def list_terminals(
    session: AsyncSession, *, actor: MerchantActor, merchant_id: uuid.UUID, page: PageParams
) -> Page[schemas.Terminal]:
    """A merchant's terminals, oldest first, revoked ones included."""
    merchant = await merchant_for(session, actor=actor, merchant_id=merchant_id, owner=True)
    query = keyset_window(
        select(Terminal).where(Terminal.merchant_id == merchant.id),
        page,
        time_column=Terminal.created_at,
        id_column=Terminal.id,
    )
    rows = list(await session.scalars(query))
    return keyset_page(rows, page, key=lambda t: (t.created_at, t.id), out=_terminal_out)


_TERMINAL_TRANSITIONS: dict[TerminalStatus, frozenset[TerminalStatus]] = {
    TerminalStatus.active: frozenset({TerminalStatus.suspended, TerminalStatus.revoked}),
    TerminalStatus.suspended: frozenset({TerminalStatus.active, TerminalStatus.revoked}),
    TerminalStatus.revoked: frozenset(),
}


async def set_terminal_status(
    session: AsyncSession,
    *,
    actor: MerchantActor,
    merchant_id: uuid.UUID,
    terminal_id: uuid.UUID,
    status: TerminalStatus,
) -> schemas.Terminal:
    """Suspend, resume or revoke; the next signed request already sees it."""
    merchant = await merchant_for(session, actor=actor, merchant_id=merchant_id, owner=True)
    terminal = await session.get(Terminal, terminal_id)
    if terminal is None or terminal.merchant_id != merchant.id:
        raise TerminalNotFound()
    if status != terminal.status and status not in _TERMINAL_TRANSITIONS[terminal.status]:
        raise TerminalStatusTransitionInvalid(
            f"A {terminal.status} terminal cannot become {status}"
        )
    if status != terminal.status:
        terminal.status = status
        terminal.updated_at = clock.now()
        if status == TerminalStatus.revoked:
            terminal.revoked_at = terminal.updated_at
        await session.flush()
    return _terminal_out(terminal)
