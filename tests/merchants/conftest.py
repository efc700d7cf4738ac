"""Builders for merchant tests: a shop (an active merchant of `world`'s region, paired
with station X, with an owner, a cashier and a signing terminal), funded wallets and codes.

Builders write through models and commit; tests act through HTTP — the terminal
through `bench.terminal_client`, which signs as a real terminal does.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.core import clock
from app.identity.models import StaffKind, StaffUser
from app.ledger import service as ledger
from app.ledger.verify import verify
from app.merchants.codes import hash_code, new_online_code
from app.merchants.models import (
    CodeStatus,
    Merchant,
    MerchantCategory,
    MerchantMember,
    MerchantRole,
    MerchantStation,
    MerchantStatus,
    Offer,
    OfferStatus,
    Redemption,
    RedemptionCode,
    Terminal,
    TerminalStatus,
)
from app.orgs.models import OrgUnit
from app.volunteers.models import Volunteer
from bench.terminal_client import TerminalClient, TerminalSigner, new_key_pair
from tests.builders import World, make_staff, staff_auth, volunteer_auth


def server_clock() -> float:
    """Terminals in tests keep the server's (travelling) time."""
    return clock.now().timestamp()


async def make_merchant(
    session: AsyncSession,
    world: World,
    *,
    station: OrgUnit | None = None,
    status: MerchantStatus = MerchantStatus.active,
    name: str = "文明面馆",
    category: MerchantCategory = MerchantCategory.food,
    latitude: float = 31.16,
    longitude: float = 120.64,
    region_id: uuid.UUID | None = None,
) -> Merchant:
    merchant = Merchant(
        region_id=region_id or world.region.id,
        name=name,
        address="松陵镇中山路1号",
        latitude=latitude,
        longitude=longitude,
        category=category,
        contact_name="店主",
        contact_phone="13800000000",
        status=status,
    )
    session.add(merchant)
    await session.flush()
    if station is not None:
        session.add(
            MerchantStation(
                region_id=merchant.region_id, merchant_id=merchant.id, org_unit_id=station.id
            )
        )
    await session.commit()
    return merchant


async def make_member(
    session: AsyncSession, world: World, merchant: Merchant, role: MerchantRole
) -> StaffUser:
    region = world.region if merchant.region_id == world.region.id else world.other_region
    user = await make_staff(session, region, kind=StaffKind.merchant)
    session.add(
        MerchantMember(
            region_id=merchant.region_id, merchant_id=merchant.id, staff_user_id=user.id, role=role
        )
    )
    await session.commit()
    return user


async def make_terminal(
    session: AsyncSession, merchant: Merchant, *, status: TerminalStatus = TerminalStatus.active
) -> tuple[Terminal, TerminalSigner]:
    key, public = new_key_pair()
    terminal = Terminal(
        region_id=merchant.region_id,
        merchant_id=merchant.id,
        name="收银台1",
        public_key=public,
        status=status,
        created_by="test",
    )
    session.add(terminal)
    await session.commit()
    return terminal, TerminalSigner(key_id=str(terminal.id), private_key=key, clock=server_clock)


async def make_offer(session: AsyncSession, merchant: Merchant, **fields: Any) -> Offer:
    values: dict[str, Any] = {
        "title": "一碗阳春面",
        "price": 10,
        "status": OfferStatus.active,
        "min_star_level": 0,
    }
    values.update(fields)
    offer = Offer(region_id=merchant.region_id, merchant_id=merchant.id, **values)
    session.add(offer)
    await session.commit()
    return offer


async def fund(session: AsyncSession, volunteer: Volunteer, amount: int) -> None:
    await ledger.issue_to_wallet(
        session,
        region_id=volunteer.region_id,
        volunteer_id=volunteer.id,
        amount=amount,
        reference_type="test",
        reference_id=uuid.uuid4().hex,
        actor="test",
    )
    await session.commit()


async def wallet_balance(session: AsyncSession, volunteer: Volunteer) -> int:
    region_id, volunteer_id = volunteer.region_id, volunteer.id
    summary = await ledger.wallet_summary(session, region_id=region_id, volunteer_id=volunteer_id)
    # End the read: on SQLite every transaction holds the write lock.
    await session.commit()
    return summary.balance.available


async def merchant_balance(session: AsyncSession, merchant: Merchant) -> int:
    region_id, merchant_id = merchant.region_id, merchant.id
    account = await ledger.merchant_account(session, region_id=region_id, merchant_id=merchant_id)
    await session.refresh(account)
    await session.commit()
    return account.posted


async def fetch_all(session: AsyncSession, statement: Any) -> list[Any]:
    """Rows read fresh from the database, in a transaction that ends at once."""
    rows = list(
        (await session.execute(statement.execution_options(populate_existing=True))).scalars()
    )
    await session.commit()
    return rows


async def fetch_one(session: AsyncSession, statement: Any) -> Any:
    rows = await fetch_all(session, statement)
    assert len(rows) <= 1, rows
    return rows[0] if rows else None


async def redemptions(session: AsyncSession) -> list[Redemption]:
    return await fetch_all(session, select(Redemption).order_by(Redemption.created_at))


async def live_codes(session: AsyncSession, volunteer: Volunteer, n: int) -> list[str]:
    """`n` live codes of one wallet at once (as if from several devices)."""
    codes = [new_online_code() for _ in range(n)]
    now = clock.now()
    session.add_all(
        RedemptionCode(
            region_id=volunteer.region_id,
            volunteer_id=volunteer.id,
            code_hash=hash_code(code),
            status=CodeStatus.active,
            created_at=now,
            expires_at=now + timedelta(seconds=60),
        )
        for code in codes
    )
    await session.commit()
    return codes


async def ledger_verifies(session: AsyncSession) -> None:
    """The ledger verifies, read in a transaction that ends at once."""
    report = await verify(session)
    await session.commit()
    assert report.ok, report.problems


async def offer_stock(session: AsyncSession, offer: Offer) -> int | None:
    """The offer's stock as the database holds it now."""
    return await fetch_one(
        session,
        select(Offer.stock).where(Offer.id == offer.id).execution_options(populate_existing=True),
    )


@dataclass
class Shop:
    world: World
    merchant: Merchant
    owner: StaffUser
    cashier: StaffUser
    terminal: Terminal
    signer: TerminalSigner
    client: TerminalClient
    app: Any

    def auth(self, name: str) -> dict[str, str]:
        """A fresh bearer token (tests travel in time) for `owner`, `cashier` or any
        staff member or volunteer of the world."""
        if name in ("owner", "cashier"):
            return staff_auth(self.app, getattr(self, name))
        person = getattr(self.world, name)
        if isinstance(person, Volunteer):
            return volunteer_auth(self.app, person)
        return staff_auth(self.app, person)

    async def code(self, http: httpx.AsyncClient, volunteer: str = "volunteer_a") -> str:
        response = await http.post("/v1/me/redemption-codes", headers=self.auth(volunteer))
        assert response.status_code == 201, response.text
        return str(response.json()["code"])


@pytest.fixture
async def shop(session: AsyncSession, world: World, app: Any, client: httpx.AsyncClient) -> Shop:
    merchant = await make_merchant(session, world, station=world.station_x)
    owner = await make_member(session, world, merchant, MerchantRole.merchant_owner)
    cashier = await make_member(session, world, merchant, MerchantRole.cashier)
    terminal, signer = await make_terminal(session, merchant)
    return Shop(
        world=world,
        merchant=merchant,
        owner=owner,
        cashier=cashier,
        terminal=terminal,
        signer=signer,
        client=TerminalClient(client, signer),
        app=app,
    )
