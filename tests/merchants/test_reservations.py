"""Reservations for pick-up: the price held until the counter hands the item over, the
cancellation or the timeout releasing it; the stock, the limit and the ledger agree."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta
from typing import Any

import httpx
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.core import clock
from app.ledger import service as ledger
from app.ledger.jobs import time_out_holds
from app.ledger.models import HoldResolution, LedgerTransaction, TxKind
from app.merchants.jobs import expire_reservations
from app.merchants.models import LimitPeriod, Offer, OfferReservation, OfferUsage
from app.volunteers.models import Volunteer
from bench.terminal_client import TerminalClient
from tests.merchants.conftest import (
    Shop,
    fetch_one,
    fund,
    ledger_verifies,
    make_merchant,
    make_offer,
    make_terminal,
    merchant_balance,
    offer_stock,
)

# 10:00 on 6 May 2031 in Shanghai.
MORNING = datetime(2031, 5, 6, 2, 0, tzinfo=UTC)


async def _wallet(session: AsyncSession, volunteer: Volunteer) -> tuple[int, int]:
    """(posted, available) of the volunteer's wallet."""
    region_id, volunteer_id = volunteer.region_id, volunteer.id
    summary = await ledger.wallet_summary(session, region_id=region_id, volunteer_id=volunteer_id)
    await session.commit()
    return summary.balance.posted, summary.balance.available


async def _reserve(
    client: httpx.AsyncClient, shop: Shop, offer: Offer, *, who: str = "volunteer_a"
) -> httpx.Response:
    return await client.post(
        "/v1/me/reservations",
        json={"offer_id": str(offer.id)},
        headers={**shop.auth(who), "Idempotency-Key": uuid.uuid4().hex},
    )


async def test_a_reservation_holds_the_price_and_the_counter_posts_it_on_pick_up(
    client: httpx.AsyncClient, session: AsyncSession, shop: Shop
) -> None:
    volunteer = shop.world.volunteer_a
    offer = await make_offer(session, shop.merchant, title="手工月饼", price=30, stock=5)
    with clock.travel(MORNING):
        await fund(session, volunteer, 100)
        reserved = await _reserve(client, shop, offer)
        assert reserved.status_code == 201, reserved.text
        body = reserved.json()
        held_wallet = await _wallet(session, volunteer)
        held_stock = await offer_stock(session, offer)
        listed = await client.get(
            f"/v1/merchants/{shop.merchant.id}/reservations", headers=shop.auth("cashier")
        )
        mine = await client.get("/v1/me/reservations", headers=shop.auth("volunteer_a"))

        picked = await shop.client.pick_up(body["pickup_code"], request_no="PU-1")
        replay = await shop.client.pick_up(body["pickup_code"], request_no="PU-1")
        again = await shop.client.pick_up(body["pickup_code"], request_no="PU-2")
        after = await client.get("/v1/me/reservations", headers=shop.auth("volunteer_a"))
        statement = await client.get(
            f"/v1/merchants/{shop.merchant.id}/statements/2031-05-06", headers=shop.auth("owner")
        )

    assert body["status"] == "held"
    assert body["amount"] == 30
    assert body["offer_title"] == "手工月饼"
    assert len(body["pickup_code"]) == 8
    expires_in = datetime.fromisoformat(body["expires_at"]) - MORNING
    assert timedelta(hours=24) <= expires_in < timedelta(hours=24, minutes=1)
    # Held, not moved: available counts it as spent, the posted balance is untouched.
    assert held_wallet == (100, 70)
    assert held_stock == 4
    merchant_view = listed.json()["items"][0]
    assert merchant_view["id"] == body["id"]
    assert merchant_view["volunteer"] != volunteer.name
    assert "pickup_code" not in merchant_view
    assert mine.json()["items"][0]["pickup_code"] == body["pickup_code"]

    assert picked.status_code == 201, picked.text
    receipt = picked.json()
    assert (receipt["status"], receipt["amount"], receipt["code_kind"]) == (
        "succeeded",
        30,
        "pickup",
    )
    assert receipt["offer_id"] == str(offer.id)
    assert replay.status_code == 201
    assert replay.json() == receipt
    assert (again.status_code, again.json()["code"]) == (404, "reservation_not_found")
    assert await _wallet(session, volunteer) == (70, 70)
    assert await merchant_balance(session, shop.merchant) == 30
    assert await offer_stock(session, offer) == 4
    closed = after.json()["items"][0]
    assert (closed["status"], closed["pickup_code"]) == ("picked_up", None)
    assert closed["redemption_id"] == receipt["id"]
    lines = statement.json()["lines"]
    assert [(line["type"], line["amount"], line["redemption_id"]) for line in lines] == [
        ("redemption", 30, receipt["id"])
    ]
    redeemed = await fetch_one(
        session, select(LedgerTransaction).where(LedgerTransaction.kind == TxKind.redeem)
    )
    assert redeemed.reference_id == receipt["id"]
    await ledger_verifies(session)


async def test_cancelling_releases_the_hold_and_gives_stock_and_limit_back(
    client: httpx.AsyncClient, session: AsyncSession, shop: Shop
) -> None:
    volunteer = shop.world.volunteer_a
    offer = await make_offer(
        session, shop.merchant, price=20, stock=1, limit_count=1, limit_period=LimitPeriod.day
    )
    with clock.travel(MORNING):
        await fund(session, volunteer, 50)
        first = (await _reserve(client, shop, offer)).json()
        sold_out = await _reserve(client, shop, offer, who="volunteer_b")
        url = f"/v1/me/reservations/{first['id']}/cancel"
        stranger = await client.post(url, headers=shop.auth("volunteer_b"))
        cancelled = await client.post(url, headers=shop.auth("volunteer_a"))
        twice = await client.post(url, headers=shop.auth("volunteer_a"))
        stale_code = await shop.client.pick_up(first["pickup_code"], request_no="PU-X")
        released = await _wallet(session, volunteer)
        stock = await offer_stock(session, offer)
        usage = await fetch_one(session, select(OfferUsage))
        # The stock and the volunteer's daily limit are free again.
        second = await _reserve(client, shop, offer)

    assert (sold_out.status_code, sold_out.json()["code"]) == (409, "offer_out_of_stock")
    assert (stranger.status_code, stranger.json()["code"]) == (404, "reservation_not_found")
    assert cancelled.status_code == 200, cancelled.text
    assert (cancelled.json()["status"], cancelled.json()["pickup_code"]) == ("cancelled", None)
    assert twice.status_code == 200
    assert twice.json() == cancelled.json()
    assert (stale_code.status_code, stale_code.json()["code"]) == (404, "reservation_not_found")
    assert released == (50, 50)
    assert stock == 1
    assert usage.used == 0
    assert second.status_code == 201, second.text
    assert await merchant_balance(session, shop.merchant) == 0
    resolution = await fetch_one(
        session, select(HoldResolution).where(HoldResolution.status == "voided")
    )
    assert resolution is not None
    await ledger_verifies(session)


async def test_a_reservation_times_out_and_a_late_pick_up_is_refused(
    client: httpx.AsyncClient, session: AsyncSession, shop: Shop, app: Any
) -> None:
    volunteer = shop.world.volunteer_a
    offer = await make_offer(session, shop.merchant, price=10, stock=2)
    # The offer's last day is 6 May: the reservation ends at midnight, not 24 hours on.
    last_day = await make_offer(session, shop.merchant, price=5, valid_until=date(2031, 5, 6))
    with clock.travel(MORNING):
        await fund(session, volunteer, 40)
        long = (await _reserve(client, shop, offer)).json()
        short = (await _reserve(client, shop, last_day)).json()
    assert datetime.fromisoformat(short["expires_at"]) == datetime(2031, 5, 6, 16, 0, tzinfo=UTC)

    with clock.travel(MORNING + timedelta(hours=25)):
        late = await shop.client.pick_up(long["pickup_code"], request_no="PU-LATE")
        # The ledger's own hold timeout may run first; the reservation job follows it.
        assert await time_out_holds(app.state.db.sessions) == 2
        assert await expire_reservations(app.state.db.sessions) == 2
        assert await expire_reservations(app.state.db.sessions) == 0
        cancel = await client.post(
            f"/v1/me/reservations/{long['id']}/cancel", headers=shop.auth("volunteer_a")
        )
        mine = await client.get(
            "/v1/me/reservations", params={"status": "expired"}, headers=shop.auth("volunteer_a")
        )

    assert (late.status_code, late.json()["code"]) == (409, "reservation_expired")
    assert (cancel.status_code, cancel.json()["code"]) == (409, "reservation_not_held")
    assert {r["id"] for r in mine.json()["items"]} == {long["id"], short["id"]}
    assert await _wallet(session, volunteer) == (40, 40)
    assert await offer_stock(session, offer) == 2
    assert await merchant_balance(session, shop.merchant) == 0
    await ledger_verifies(session)


async def test_the_reservation_job_alone_releases_an_expired_reservation(
    client: httpx.AsyncClient, session: AsyncSession, shop: Shop, app: Any
) -> None:
    offer = await make_offer(session, shop.merchant, price=10, stock=1)
    with clock.travel(MORNING):
        await fund(session, shop.world.volunteer_a, 10)
        assert (await _reserve(client, shop, offer)).status_code == 201
    with clock.travel(MORNING + timedelta(hours=24, minutes=1)):
        assert await expire_reservations(app.state.db.sessions) == 1
        assert await time_out_holds(app.state.db.sessions) == 0
    assert await _wallet(session, shop.world.volunteer_a) == (10, 10)
    assert await offer_stock(session, offer) == 1
    status = await fetch_one(session, select(OfferReservation.status))
    assert status == "expired"


async def test_refused_reservations_hold_nothing_and_take_no_stock(
    client: httpx.AsyncClient, session: AsyncSession, shop: Shop
) -> None:
    volunteer = shop.world.volunteer_a
    dear = await make_offer(session, shop.merchant, price=80, stock=3)
    once = await make_offer(
        session, shop.merchant, price=1, stock=3, limit_count=1, limit_period=LimitPeriod.day
    )
    elsewhere = await make_merchant(session, shop.world, station=shop.world.station_x, name="别家")
    other_terminal = TerminalClient(client, (await make_terminal(session, elsewhere))[1])
    with clock.travel(MORNING):
        await fund(session, volunteer, 50)
        poor = await _reserve(client, shop, dear)
        first = await _reserve(client, shop, once)
        over_limit = await _reserve(client, shop, once)
        no_key = await client.post(
            "/v1/me/reservations", json={"offer_id": str(dear.id)}, headers=shop.auth("volunteer_a")
        )
        unknown = await client.post(
            "/v1/me/reservations",
            json={"offer_id": str(uuid.uuid4())},
            headers={**shop.auth("volunteer_a"), "Idempotency-Key": "k-unknown"},
        )
        staff = await _reserve(client, shop, dear, who="owner")
        wrong_counter = await other_terminal.pick_up(first.json()["pickup_code"], request_no="X1")
        bad_code = await shop.client.pick_up("1234567", request_no="X2")
        key = {**shop.auth("volunteer_a"), "Idempotency-Key": "same-key"}
        made = await client.post(
            "/v1/me/reservations", json={"offer_id": str(dear.id)}, headers=key
        )

    assert (poor.status_code, poor.json()["code"]) == (409, "insufficient_balance")
    assert first.status_code == 201
    assert (over_limit.status_code, over_limit.json()["code"]) == (409, "offer_limit_reached")
    assert (no_key.status_code, no_key.json()["code"]) == (400, "idempotency_key_missing")
    assert (unknown.status_code, unknown.json()["code"]) == (404, "offer_not_found")
    assert staff.status_code == 403
    assert (wrong_counter.status_code, wrong_counter.json()["code"]) == (
        404,
        "reservation_not_found",
    )
    assert (bad_code.status_code, bad_code.json()["code"]) == (422, "validation_failed")
    assert (made.status_code, made.json()["code"]) == (409, "insufficient_balance")
    assert await offer_stock(session, dear) == 3
    assert await offer_stock(session, once) == 2
    assert await _wallet(session, volunteer) == (50, 49)
    count = await fetch_one(session, select(func.count()).select_from(OfferReservation))
    assert count == 1
    await ledger_verifies(session)


async def test_a_picked_up_reservation_voids_like_a_redemption(
    client: httpx.AsyncClient, session: AsyncSession, shop: Shop
) -> None:
    offer = await make_offer(session, shop.merchant, price=15, stock=1)
    with clock.travel(MORNING):
        await fund(session, shop.world.volunteer_a, 15)
        code = (await _reserve(client, shop, offer)).json()["pickup_code"]
        assert (await shop.client.pick_up(code, request_no="PU-V")).status_code == 201
        voided = await shop.client.void("PU-V")

    assert voided.status_code == 200, voided.text
    assert voided.json()["status"] == "voided"
    assert await _wallet(session, shop.world.volunteer_a) == (15, 15)
    assert await offer_stock(session, offer) == 1
    assert await merchant_balance(session, shop.merchant) == 0
    await ledger_verifies(session)
