"""Reservations under real concurrency (PostgreSQL, parallel connections): the stock, the
wallet and each reservation's single ending hold, and the ledger verifies."""

from __future__ import annotations

import asyncio
import uuid
from collections import Counter
from typing import Any

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.config import Settings
from app.ledger import service as ledger
from app.merchants.models import Offer, OfferReservation
from tests.builders import make_volunteer, volunteer_auth
from tests.merchants.conftest import (
    Shop,
    fetch_all,
    fund,
    ledger_verifies,
    live_codes,
    make_offer,
    merchant_balance,
    offer_stock,
)

pytestmark = pytest.mark.postgres_only


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """Lift the per-caller limits: these bursts are about the database, not the limiter."""
    lifted = {
        name: "10000/minute"
        for name in (
            "reservation.principal",
            "reservation.ip",
            "pickup.principal",
            "pickup.ip",
            "redemption.principal",
            "redemption.ip",
        )
    }
    return settings.model_copy(
        update={
            "rate_limits": {**settings.rate_limits, **lifted},
            "db_pool_size": 20,
            "db_max_overflow": 10,
        }
    )


def _reserve(client: httpx.AsyncClient, auth: dict[str, str], offer: Offer) -> Any:
    return client.post(
        "/v1/me/reservations",
        json={"offer_id": str(offer.id)},
        headers={**auth, "Idempotency-Key": uuid.uuid4().hex},
    )


async def test_twelve_volunteers_reserving_the_last_three_items_get_three(
    client: httpx.AsyncClient, session: AsyncSession, shop: Shop, app: Any
) -> None:
    offer = await make_offer(session, shop.merchant, price=10, stock=3)
    volunteers = [await make_volunteer(session, shop.world.region) for _ in range(12)]
    for volunteer in volunteers:
        await fund(session, volunteer, 10)

    responses = await asyncio.gather(
        *(_reserve(client, volunteer_auth(app, v), offer) for v in volunteers)
    )

    outcomes = Counter(
        r.status_code if r.status_code == 201 else r.json()["code"] for r in responses
    )
    assert outcomes == {201: 3, "offer_out_of_stock": 9}
    stock = await offer_stock(session, offer)
    assert stock == 0
    assert len(await fetch_all(session, select(OfferReservation))) == 3
    await ledger_verifies(session)


async def test_reservations_and_redemptions_at_once_never_overdraw_a_wallet(
    client: httpx.AsyncClient, session: AsyncSession, shop: Shop
) -> None:
    volunteer = shop.world.volunteer_a
    await fund(session, volunteer, 25)
    offers = [await make_offer(session, shop.merchant, price=10) for _ in range(6)]
    codes = await live_codes(session, volunteer, 4)
    auth = shop.auth("volunteer_a")

    responses = await asyncio.gather(
        *(_reserve(client, auth, o) for o in offers),
        *(shop.client.redeem(c, request_no=f"R-{n}", amount=10) for n, c in enumerate(codes)),
    )

    won = [r for r in responses if r.status_code == 201]
    refused = Counter(r.json()["code"] for r in responses if r.status_code != 201)
    assert len(won) == 2
    assert refused == {"insufficient_balance": 8}
    summary = await ledger.wallet_summary(
        session, region_id=volunteer.region_id, volunteer_id=volunteer.id
    )
    await session.commit()
    assert summary.balance.available == 5
    await ledger_verifies(session)


async def test_a_pick_up_and_a_cancellation_racing_end_each_reservation_once(
    client: httpx.AsyncClient, session: AsyncSession, shop: Shop
) -> None:
    volunteer = shop.world.volunteer_a
    await fund(session, volunteer, 100)
    offer = await make_offer(session, shop.merchant, price=10, stock=10)
    auth = shop.auth("volunteer_a")
    reserved = [(await _reserve(client, auth, offer)).json() for _ in range(10)]

    responses = await asyncio.gather(
        *(
            call
            for n, r in enumerate(reserved)
            for call in (
                shop.client.pick_up(r["pickup_code"], request_no=f"P-{n}"),
                client.post(f"/v1/me/reservations/{r['id']}/cancel", headers=auth),
            )
        )
    )

    pickups, cancels = responses[0::2], responses[1::2]
    for pickup, cancel in zip(pickups, cancels, strict=True):
        # Exactly one of the two ended the reservation.
        assert (pickup.status_code == 201) != (cancel.status_code == 200), (
            pickup.text,
            cancel.text,
        )
        if pickup.status_code != 201:
            assert pickup.json()["code"] == "reservation_not_found"
        if cancel.status_code != 200:
            assert cancel.json()["code"] == "reservation_not_held"
    picked = sum(1 for r in pickups if r.status_code == 201)
    statuses = Counter(r.status for r in await fetch_all(session, select(OfferReservation)))
    assert statuses == {"picked_up": picked, "cancelled": 10 - picked}
    assert await merchant_balance(session, shop.merchant) == 10 * picked
    stock = await offer_stock(session, offer)
    assert stock == 10 - picked
    await ledger_verifies(session)
