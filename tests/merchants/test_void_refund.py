"""Voids by the terminal on the business day, refunds by the owner or region staff after."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.core import clock
from app.integrations.models import OutboxEvent
from app.ledger import service as ledger
from app.ledger.models import LedgerTransaction, TxKind
from app.merchants.models import (
    LimitPeriod,
    MerchantPolicy,
    Offer,
    OfferUsage,
    RedemptionRefund,
    RedemptionStatus,
)
from tests.merchants.conftest import (
    Shop,
    fetch_all,
    fetch_one,
    fund,
    make_offer,
    merchant_balance,
    redemptions,
    wallet_balance,
)

# 10:00 in Shanghai.
MORNING = datetime(2031, 5, 6, 2, 0, tzinfo=UTC)


async def _redeemed(
    client: httpx.AsyncClient, session: AsyncSession, shop: Shop, **redeem: Any
) -> dict[str, Any]:
    code = await shop.code(client)
    response = await shop.client.redeem(code, **redeem)
    assert response.status_code == 201, response.text
    return dict(response.json())


async def test_a_void_on_the_same_day_gives_everything_back(
    client: httpx.AsyncClient, session: AsyncSession, shop: Shop
) -> None:
    offer = await make_offer(
        session, shop.merchant, price=8, stock=5, limit_count=1, limit_period=LimitPeriod.day
    )
    with clock.travel(MORNING):
        await fund(session, shop.world.volunteer_a, 20)
        receipt = await _redeemed(client, session, shop, request_no="V-1", offer_id=str(offer.id))
    with clock.travel(MORNING + timedelta(hours=13, minutes=59)):  # 23:59 in Shanghai
        response = await shop.client.void("V-1")
        again = await shop.client.void("V-1")

        assert response.status_code == 200, response.text
        assert response.json()["status"] == "voided"
        assert response.json()["voided_at"] is not None
        assert again.status_code == 200
        assert again.json() == response.json()
        assert await wallet_balance(session, shop.world.volunteer_a) == 20
        assert await merchant_balance(session, shop.merchant) == 0
        assert (await fetch_one(session, select(Offer))).stock == 5
        assert (await fetch_one(session, select(OfferUsage))).used == 0
        # The sale never happened: the volunteer may redeem the offer again today.
        await _redeemed(client, session, shop, request_no="V-2", offer_id=str(offer.id))
    voids = await fetch_all(
        session, select(LedgerTransaction).where(LedgerTransaction.kind == TxKind.void)
    )
    assert len(voids) == 1
    assert voids[0].refunds_id == uuid.UUID(receipt["transaction_id"])
    event = await fetch_one(
        session, select(OutboxEvent).where(OutboxEvent.topic == "redemption.voided")
    )
    assert event.payload["redemption_id"] == receipt["id"]
    assert (await shop.client.query("V-1")).json()["status"] == "voided"


async def test_a_void_after_the_business_day_is_refused(
    client: httpx.AsyncClient, session: AsyncSession, shop: Shop
) -> None:
    with clock.travel(MORNING):
        await fund(session, shop.world.volunteer_a, 20)
        await _redeemed(client, session, shop, request_no="V-1", amount=5)
    with clock.travel(MORNING + timedelta(hours=14, minutes=1)):  # 00:01 the next day
        response = await shop.client.void("V-1")

    assert (response.status_code, response.json()["code"]) == (409, "void_window_closed")
    assert await wallet_balance(session, shop.world.volunteer_a) == 15
    (attempt,) = await redemptions(session)
    assert attempt.status == RedemptionStatus.succeeded


async def test_void_refuses_unknown_refused_and_refunded_redemptions(
    client: httpx.AsyncClient, session: AsyncSession, shop: Shop
) -> None:
    await fund(session, shop.world.volunteer_a, 20)
    code = await shop.code(client)
    await shop.client.redeem(code, request_no="V-refused", amount=500)
    receipt = await _redeemed(client, session, shop, request_no="V-refunded", amount=5)
    refund = await client.post(
        f"/v1/merchants/{shop.merchant.id}/redemptions/{receipt['id']}/refunds",
        json={"refund_no": "F-1", "amount": 1},
        headers=shop.auth("owner"),
    )
    assert refund.status_code == 201, refund.text

    unknown = await shop.client.void("V-none")
    refused = await shop.client.void("V-refused")
    refunded = await shop.client.void("V-refunded")

    assert (unknown.status_code, unknown.json()["code"]) == (404, "redemption_not_found")
    assert (refused.status_code, refused.json()["code"]) == (409, "redemption_not_succeeded")
    assert (refunded.status_code, refunded.json()["code"]) == (
        409,
        "redemption_already_refunded",
    )
    assert await wallet_balance(session, shop.world.volunteer_a) == 16


async def test_the_owner_refunds_in_parts_up_to_what_remains(
    client: httpx.AsyncClient, session: AsyncSession, shop: Shop
) -> None:
    await fund(session, shop.world.volunteer_a, 30)
    receipt = await _redeemed(client, session, shop, request_no="R-1", amount=10)
    url = f"/v1/merchants/{shop.merchant.id}/redemptions/{receipt['id']}/refunds"
    owner = shop.auth("owner")

    first = await client.post(url, json={"refund_no": "F-1", "amount": 4}, headers=owner)
    replay = await client.post(url, json={"refund_no": "F-1", "amount": 4}, headers=owner)
    reused = await client.post(url, json={"refund_no": "F-1", "amount": 5}, headers=owner)
    too_much = await client.post(url, json={"refund_no": "F-2", "amount": 7}, headers=owner)
    rest = await client.post(url, json={"refund_no": "F-3", "amount": 6}, headers=owner)
    nothing_left = await client.post(url, json={"refund_no": "F-4", "amount": 1}, headers=owner)

    assert first.status_code == 201, first.text
    assert first.json()["remaining"] == 6
    assert replay.status_code == 201
    assert replay.json()["id"] == first.json()["id"]
    assert (reused.status_code, reused.json()["code"]) == (422, "refund_no_reused")
    assert (too_much.status_code, too_much.json()["code"]) == (409, "refund_exceeds_remainder")
    assert too_much.json()["remaining"] == 6
    assert rest.status_code == 201
    assert rest.json()["remaining"] == 0
    assert (nothing_left.status_code, nothing_left.json()["code"]) == (
        409,
        "refund_exceeds_remainder",
    )
    assert await wallet_balance(session, shop.world.volunteer_a) == 30
    assert await merchant_balance(session, shop.merchant) == 0
    refunds = await fetch_all(session, select(RedemptionRefund).order_by(RedemptionRefund.amount))
    assert [(r.refund_no, r.amount) for r in refunds] == [("F-1", 4), ("F-3", 6)]
    events = await fetch_all(
        session, select(OutboxEvent).where(OutboxEvent.topic == "redemption.refunded")
    )
    assert len(events) == 2


async def test_a_refund_restores_the_lots_the_redemption_drew_on(
    client: httpx.AsyncClient, session: AsyncSession, shop: Shop
) -> None:
    volunteer = shop.world.volunteer_a
    await fund(session, volunteer, 5)
    await fund(session, volunteer, 5)
    receipt = await _redeemed(client, session, shop, request_no="R-1", amount=8)

    response = await client.post(
        f"/v1/merchants/{shop.merchant.id}/redemptions/{receipt['id']}/refunds",
        json={"refund_no": "F-1", "amount": 8},
        headers=shop.auth("owner"),
    )

    assert response.status_code == 201, response.text
    summary = await ledger.wallet_summary(
        session, region_id=volunteer.region_id, volunteer_id=volunteer.id
    )
    await session.commit()
    assert sorted(lot.remaining for lot in summary.lots) == [5, 5]


async def test_the_owner_refunds_within_the_window_and_region_staff_after(
    client: httpx.AsyncClient, session: AsyncSession, shop: Shop
) -> None:
    session.add(MerchantPolicy(region_id=shop.world.region.id, refund_window_days=3))
    await session.commit()
    await fund(session, shop.world.volunteer_a, 30)
    receipt = await _redeemed(client, session, shop, request_no="R-1", amount=10)
    url = f"/v1/merchants/{shop.merchant.id}/redemptions/{receipt['id']}/refunds"

    with clock.travel(clock.now() + timedelta(days=2, hours=23)):
        inside = await client.post(
            url, json={"refund_no": "F-1", "amount": 1}, headers=shop.auth("owner")
        )
    with clock.travel(clock.now() + timedelta(days=3, minutes=1)):
        late = await client.post(
            url, json={"refund_no": "F-2", "amount": 1}, headers=shop.auth("owner")
        )
        staff = await client.post(
            url, json={"refund_no": "F-3", "amount": 2}, headers=shop.auth("station_admin_x")
        )
        cashier = await client.post(
            url, json={"refund_no": "F-4", "amount": 1}, headers=shop.auth("cashier")
        )
        stranger = await client.post(
            url, json={"refund_no": "F-5", "amount": 1}, headers=shop.auth("organizer_y")
        )

    assert inside.status_code == 201, inside.text
    assert (late.status_code, late.json()["code"]) == (403, "refund_window_closed")
    assert staff.status_code == 201, staff.text
    assert staff.json()["refunded_by"].startswith("staff:")
    assert (cashier.status_code, cashier.json()["code"]) == (403, "merchant_owner_required")
    assert (stranger.status_code, stranger.json()["code"]) == (403, "not_merchant_manager")
    assert await wallet_balance(session, shop.world.volunteer_a) == 23


async def test_refunds_of_unknown_voided_or_foreign_redemptions_are_refused(
    client: httpx.AsyncClient, session: AsyncSession, shop: Shop
) -> None:
    await fund(session, shop.world.volunteer_a, 30)
    receipt = await _redeemed(client, session, shop, request_no="R-1", amount=10)
    assert (await shop.client.void("R-1")).status_code == 200
    owner = shop.auth("owner")
    base = f"/v1/merchants/{shop.merchant.id}/redemptions"
    body = {"refund_no": "F-1", "amount": 1}

    voided = await client.post(f"{base}/{receipt['id']}/refunds", json=body, headers=owner)
    unknown = await client.post(f"{base}/{uuid.uuid4()}/refunds", json=body, headers=owner)
    other_region = await client.post(
        f"{base}/{receipt['id']}/refunds", json=body, headers=shop.auth("other_admin")
    )
    invalid = await client.post(
        f"{base}/{receipt['id']}/refunds", json={"refund_no": "F-1", "amount": 0}, headers=owner
    )

    assert (voided.status_code, voided.json()["code"]) == (409, "redemption_not_succeeded")
    assert (unknown.status_code, unknown.json()["code"]) == (404, "redemption_not_found")
    assert (other_region.status_code, other_region.json()["code"]) == (404, "merchant_not_found")
    assert (invalid.status_code, invalid.json()["code"]) == (422, "validation_failed")
    assert await fetch_all(session, select(RedemptionRefund)) == []
    assert await wallet_balance(session, shop.world.volunteer_a) == 30
