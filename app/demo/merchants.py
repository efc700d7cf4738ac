"""The demo's 文明商户 and what happened at their counters: onboarded by the centre admin,
staffed, stocked with offers and given a terminal by their owners; redemptions,
a void, a refund, a refused attempt and a reservation, each through the service a
terminal, an owner or a volunteer calls."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.db import Database
from app.core.errors import AppError
from app.demo import cast
from app.demo.timeline import scene, staff, unit, volunteer
from app.identity.models import StaffUser
from app.merchants import codes, reservations, schemas
from app.merchants import redemption as counter
from app.merchants import service as merchants
from app.merchants.access import MerchantActor
from app.merchants.models import (
    Merchant,
    MerchantMember,
    MerchantRole,
    MerchantStatus,
    Offer,
    OfferReservation,
    ReservationStatus,
    Terminal,
    TerminalStatus,
)
from app.merchants.terminal_auth import TerminalContext
from app.orgs.models import Region

TERMINAL_NAME = "收银台1"


async def onboard(
    db: Database, when: datetime, region: Region, passwords: dict[str, str]
) -> dict[str, str]:
    """Every merchant of `cast.MERCHANTS`, active, with its owner, cashier, offers and a
    terminal whose key pair the server generates; returns each private key (PEM) by slug,
    which the server does not keep."""
    keys: dict[str, str] = {}
    for spec in cast.MERCHANTS:
        async with scene(db, when) as session:
            admin = await staff(session, "admin")
            station = await unit(session, region.id, spec.station)
            created = await merchants.create_merchant(
                session,
                staff=admin,
                data=schemas.MerchantCreate(
                    name=spec.name,
                    address=spec.address,
                    latitude=spec.latitude,
                    longitude=spec.longitude,
                    category=spec.category,
                    contact_name=spec.owner,
                    contact_phone=spec.phone,
                    station_ids=[station.id],
                ),
            )
            await merchants.change_status(
                session, staff=admin, merchant_id=created.id, status=MerchantStatus.active
            )
            manager = MerchantActor(staff=admin)
            for username, name, role in (
                (spec.owner_username, spec.owner, MerchantRole.merchant_owner),
                (spec.cashier_username, spec.cashier, MerchantRole.cashier),
            ):
                await merchants.create_merchant_staff(
                    session,
                    actor=manager,
                    merchant_id=created.id,
                    data=schemas.MerchantStaffCreate(
                        username=username,
                        display_name=name,
                        password=passwords[username],
                        role=role,
                    ),
                )
            owner = await owner_of(session, spec)
            for offer in spec.offers:
                await merchants.create_offer(
                    session,
                    actor=owner,
                    merchant_id=created.id,
                    data=schemas.OfferCreate(
                        title=offer.title,
                        description=offer.description,
                        price=offer.price,
                        stock=offer.stock,
                        limit_count=offer.limit_count,
                        limit_period=offer.limit_period,
                        min_star_level=offer.min_star_level,
                    ),
                )
            registered = await merchants.register_terminal(
                session,
                actor=owner,
                merchant_id=created.id,
                data=schemas.TerminalCreate(name=TERMINAL_NAME),
            )
            assert registered.private_key is not None
            keys[spec.slug] = registered.private_key
    return keys


async def merchant_of(
    session: AsyncSession, region_id: uuid.UUID, spec: cast.MerchantSpec
) -> Merchant:
    found = await session.scalar(
        select(Merchant).where(Merchant.region_id == region_id, Merchant.name == spec.name)
    )
    if found is None:
        raise RuntimeError(f"the demo has no merchant {spec.name!r}")
    return found


async def owner_of(session: AsyncSession, spec: cast.MerchantSpec) -> MerchantActor:
    user = await session.scalar(select(StaffUser).where(StaffUser.username == spec.owner_username))
    assert user is not None
    member = await session.scalar(
        select(MerchantMember).where(MerchantMember.staff_user_id == user.id)
    )
    return MerchantActor(user=user, member=member)


async def offer_of(session: AsyncSession, merchant: Merchant, title: str) -> Offer:
    found = await session.scalar(
        select(Offer).where(Offer.merchant_id == merchant.id, Offer.title == title)
    )
    if found is None:
        raise RuntimeError(f"{merchant.name} has no offer {title!r}")
    return found


async def terminal_of(session: AsyncSession, merchant: Merchant) -> Terminal:
    found = await session.scalar(
        select(Terminal)
        .where(Terminal.merchant_id == merchant.id, Terminal.status == TerminalStatus.active)
        .order_by(Terminal.created_at)
        .limit(1)
    )
    assert found is not None
    return found


async def _counter(session: AsyncSession, merchant: Merchant) -> TerminalContext:
    """The terminal as its signed request names it (app.merchants.terminal_auth)."""
    terminal = await terminal_of(session, merchant)
    region = await session.get(Region, merchant.region_id)
    assert region is not None
    return TerminalContext(
        id=terminal.id,
        region_id=terminal.region_id,
        merchant_id=merchant.id,
        merchant_name=merchant.name,
        merchant_status=merchant.status,
        merchant_account_id=merchant.ledger_account_id,
        timezone=region.timezone,
    )


@dataclass(frozen=True)
class Sale:
    """A redemption at a counter: the volunteer shows a fresh code, the cashier scans it."""

    merchant: cast.MerchantSpec
    login_code: str
    offer: str
    request_no: str


async def redeem(db: Database, when: datetime, region: Region, sale: Sale) -> str:
    """Redeem; returns "succeeded" or the refusal's code, which the attempt keeps."""
    async with scene(db, when) as session:
        person = await volunteer(session, sale.login_code)
        shown = await codes.new_code_for(session, volunteer=person)
    async with scene(db, when) as session:
        merchant = await merchant_of(session, region.id, sale.merchant)
        offer = await offer_of(session, merchant, sale.offer)
        try:
            receipt = await counter.redeem(
                session,
                terminal=await _counter(session, merchant),
                data=schemas.RedemptionRequest(
                    code=shown.code, offer_id=offer.id, request_no=sale.request_no
                ),
            )
        except AppError as refusal:
            if not refusal.commit:
                raise
            # A refusal is an outcome the terminal can query: it commits with its code spent.
            return refusal.code
        return str(receipt.status)


async def void(
    db: Database, when: datetime, region: Region, spec: cast.MerchantSpec, request_no: str
) -> None:
    async with scene(db, when) as session:
        merchant = await merchant_of(session, region.id, spec)
        await counter.void(
            session, terminal=await _counter(session, merchant), request_no=request_no
        )


async def refund(
    db: Database,
    when: datetime,
    region: Region,
    spec: cast.MerchantSpec,
    *,
    request_no: str,
    refund_no: str,
    amount: int,
) -> None:
    """The owner gives back part or all of a redemption, within the refund window."""
    async with scene(db, when) as session:
        merchant = await merchant_of(session, region.id, spec)
        terminal = await terminal_of(session, merchant)
        sold = await counter.attempt(session, terminal_id=terminal.id, request_no=request_no)
        await counter.refund(
            session,
            actor=await owner_of(session, spec),
            merchant_id=merchant.id,
            redemption_id=sold.id,
            data=schemas.RefundRequest(refund_no=refund_no, amount=amount),
        )


async def held_reservation(
    session: AsyncSession, region_id: uuid.UUID, login_code: str
) -> OfferReservation | None:
    """The volunteer's reservation still waiting for pick-up, if any."""
    person = await volunteer(session, login_code)
    return await session.scalar(
        select(OfferReservation)
        .where(
            OfferReservation.region_id == region_id,
            OfferReservation.volunteer_id == person.id,
            OfferReservation.status == ReservationStatus.held,
        )
        .order_by(OfferReservation.created_at.desc())
        .limit(1)
    )


async def reserve(
    db: Database, region: Region, spec: cast.MerchantSpec, *, login_code: str, offer: str
) -> None:
    async with scene(db) as session:
        merchant = await merchant_of(session, region.id, spec)
        wanted = await offer_of(session, merchant, offer)
        await reservations.reserve(
            session,
            volunteer=await volunteer(session, login_code),
            data=schemas.ReservationCreate(offer_id=wanted.id),
        )
