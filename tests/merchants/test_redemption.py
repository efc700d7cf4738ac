"""Redemption at the terminal: the receipt, the ledger, request numbers, refusals, the query."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta
from typing import Any

import httpx
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.core import clock
from app.integrations.models import OutboxEvent
from app.ledger.models import LedgerTransaction, TxKind
from app.merchants.codes import hash_code
from app.merchants.models import (
    CodeStatus,
    LimitPeriod,
    MerchantStatus,
    Offer,
    OfferStatus,
    OfferUsage,
    RedemptionCode,
    RedemptionStatus,
)
from tests.merchants.conftest import (
    Shop,
    fetch_all,
    fetch_one,
    fund,
    make_merchant,
    make_offer,
    make_terminal,
    merchant_balance,
    redemptions,
    wallet_balance,
)


async def test_redeeming_an_amount_moves_it_from_the_wallet_to_the_merchant(
    client: httpx.AsyncClient, session: AsyncSession, shop: Shop
) -> None:
    volunteer = shop.world.volunteer_b
    await fund(session, volunteer, 50)
    code = await shop.code(client, "volunteer_b")

    response = await shop.client.redeem(code, request_no="R-0001", amount=20)

    assert response.status_code == 201, response.text
    body = response.json()
    assert body["status"] == "succeeded"
    assert body["request_no"] == "R-0001"
    assert body["amount"] == 20
    assert "balance_after" not in body
    assert body["volunteer"] == "志**乙"
    assert body["code_kind"] == "online"
    assert body["refusal"] is None
    assert await wallet_balance(session, volunteer) == 30
    assert await merchant_balance(session, shop.merchant) == 20
    tx = await fetch_one(
        session,
        select(LedgerTransaction).where(LedgerTransaction.id == uuid.UUID(body["transaction_id"])),
    )
    assert tx is not None
    assert tx.kind == TxKind.redeem
    assert tx.reference_type == "redemption"
    assert tx.reference_id == body["id"]
    assert tx.meta["merchant_name"] == shop.merchant.name
    event = await fetch_one(
        session, select(OutboxEvent).where(OutboxEvent.topic == "redemption.succeeded")
    )
    assert event is not None
    assert event.payload["redemption_id"] == body["id"]
    assert event.payload["amount"] == 20


async def test_redeeming_an_offer_charges_its_price_and_takes_one_from_stock(
    client: httpx.AsyncClient, session: AsyncSession, shop: Shop
) -> None:
    offer = await make_offer(session, shop.merchant, price=12, stock=3)
    await fund(session, shop.world.volunteer_a, 30)
    code = await shop.code(client)

    response = await shop.client.redeem(code, request_no="R-1", offer_id=str(offer.id))

    assert response.status_code == 201, response.text
    assert response.json()["amount"] == 12
    assert response.json()["offer_id"] == str(offer.id)
    assert response.json()["volunteer"] == "志**甲"
    assert (await fetch_one(session, select(Offer).where(Offer.id == offer.id))).stock == 2
    assert await wallet_balance(session, shop.world.volunteer_a) == 18


async def test_the_same_request_no_replays_the_receipt_and_debits_once(
    client: httpx.AsyncClient, session: AsyncSession, shop: Shop
) -> None:
    await fund(session, shop.world.volunteer_a, 50)
    code = await shop.code(client)
    first = await shop.client.redeem(code, request_no="R-7", amount=10)

    again = await shop.client.redeem(code, request_no="R-7", amount=10)

    assert again.status_code == 201
    assert again.json() == first.json()
    assert await wallet_balance(session, shop.world.volunteer_a) == 40
    assert len(await redemptions(session)) == 1


async def test_the_same_request_no_with_another_body_is_refused(
    client: httpx.AsyncClient, session: AsyncSession, shop: Shop
) -> None:
    await fund(session, shop.world.volunteer_a, 50)
    code = await shop.code(client)
    await shop.client.redeem(code, request_no="R-7", amount=10)

    response = await shop.client.redeem(code, request_no="R-7", amount=11)

    assert response.status_code == 422
    assert response.json()["code"] == "request_no_reused"
    assert await wallet_balance(session, shop.world.volunteer_a) == 40


async def test_an_unfunded_redemption_is_refused_recorded_and_spends_the_code(
    client: httpx.AsyncClient, session: AsyncSession, shop: Shop
) -> None:
    await fund(session, shop.world.volunteer_a, 5)
    code = await shop.code(client)

    refused = await shop.client.redeem(code, request_no="R-1", amount=10)

    assert refused.status_code == 409
    assert refused.headers["content-type"].startswith("application/problem+json")
    assert refused.json()["code"] == "insufficient_balance"
    assert await wallet_balance(session, shop.world.volunteer_a) == 5
    assert await merchant_balance(session, shop.merchant) == 0
    (attempt,) = await redemptions(session)
    assert attempt.status == RedemptionStatus.refused
    assert attempt.refusal_code == "insufficient_balance"
    assert attempt.transaction_id is None
    row = await fetch_one(session, select(RedemptionCode))
    assert row.status == CodeStatus.used

    # The refusal is the attempt's answer: the terminal gets it again, and can ask for it.
    replayed = await shop.client.redeem(code, request_no="R-1", amount=10)
    assert replayed.status_code == 409
    assert replayed.json()["code"] == "insufficient_balance"
    assert replayed.headers["idempotent-replayed"] == "true"
    queried = await shop.client.query("R-1")
    assert queried.status_code == 200
    assert queried.json()["status"] == "refused"
    assert queried.json()["refusal"]["code"] == "insufficient_balance"
    assert queried.json()["refusal"]["status"] == 409

    # The code was spent by the refusal: a new number is refused, a new code goes through.
    again = await shop.client.redeem(code, request_no="R-2", amount=5)
    assert (again.status_code, again.json()["code"]) == (409, "code_used")
    accepted = await shop.client.redeem(await shop.code(client), request_no="R-3", amount=5)
    assert accepted.status_code == 201, accepted.text
    assert await wallet_balance(session, shop.world.volunteer_a) == 0


async def test_the_query_answers_succeeded_and_unknown_requests(
    client: httpx.AsyncClient, session: AsyncSession, shop: Shop
) -> None:
    await fund(session, shop.world.volunteer_a, 50)
    code = await shop.code(client)
    receipt = (await shop.client.redeem(code, request_no="R-1", amount=10)).json()

    found = await shop.client.query("R-1")
    unknown = await shop.client.query("R-404")

    assert found.status_code == 200
    assert found.json() == receipt
    assert unknown.status_code == 404
    assert unknown.json()["code"] == "redemption_not_found"


async def test_another_terminal_cannot_see_or_reuse_a_request_no(
    client: httpx.AsyncClient, session: AsyncSession, shop: Shop
) -> None:
    from bench.terminal_client import TerminalClient

    await fund(session, shop.world.volunteer_a, 50)
    code = await shop.code(client)
    await shop.client.redeem(code, request_no="R-1", amount=10)
    _, signer = await make_terminal(session, shop.merchant)
    other = TerminalClient(client, signer)

    assert (await other.query("R-1")).status_code == 404


async def test_neither_offer_nor_amount_or_both_is_a_validation_error(
    client: httpx.AsyncClient, session: AsyncSession, shop: Shop
) -> None:
    offer = await make_offer(session, shop.merchant)
    await fund(session, shop.world.volunteer_a, 50)
    code = await shop.code(client)

    neither = await shop.client.redeem(code, request_no="R-1")
    both = await shop.client.redeem(code, request_no="R-2", amount=3, offer_id=str(offer.id))
    zero = await shop.client.redeem(code, request_no="R-3", amount=0)
    bad_no = await shop.client.redeem(code, request_no="R 4", amount=1)

    for response in (neither, both, zero, bad_no):
        assert response.status_code == 422
        assert response.json()["code"] == "validation_failed"
    assert await redemptions(session) == []
    assert await wallet_balance(session, shop.world.volunteer_a) == 50


async def _refused(
    shop: Shop, client: httpx.AsyncClient, session: AsyncSession, **redeem: Any
) -> httpx.Response:
    """Redeem with a fresh code; assert no 良票 moved and the code is spent; return the
    refusal."""
    before = await wallet_balance(session, shop.world.volunteer_a)
    received = await merchant_balance(session, shop.merchant)
    code = await shop.code(client)
    response = await shop.client.redeem(code, **redeem)
    assert response.status_code >= 400, response.text
    assert await wallet_balance(session, shop.world.volunteer_a) == before
    assert await merchant_balance(session, shop.merchant) == received
    row = await fetch_one(
        session, select(RedemptionCode).where(RedemptionCode.code_hash == hash_code(code))
    )
    assert row.status == CodeStatus.used, "a refused redemption gave the code back"
    return response


async def test_offer_refusals_each_have_their_code(
    client: httpx.AsyncClient, session: AsyncSession, shop: Shop
) -> None:
    await fund(session, shop.world.volunteer_a, 100)
    today = clock.today_in("Asia/Shanghai")
    withdrawn = await make_offer(session, shop.merchant, status=OfferStatus.withdrawn)
    sold_out = await make_offer(session, shop.merchant, stock=0)
    future = await make_offer(session, shop.merchant, valid_from=today + timedelta(days=1))
    past = await make_offer(session, shop.merchant, valid_until=today - timedelta(days=1))
    starry = await make_offer(session, shop.merchant, min_star_level=1)
    elsewhere = await make_offer(session, await make_merchant(session, shop.world, name="别家"))

    cases = [
        (withdrawn, 409, "offer_inactive"),
        (sold_out, 409, "offer_out_of_stock"),
        (future, 409, "offer_not_valid_today"),
        (past, 409, "offer_not_valid_today"),
        (starry, 403, "star_level_too_low"),
        (elsewhere, 404, "redemption_offer_not_found"),
    ]
    for number, (offer, status, code) in enumerate(cases):
        response = await _refused(
            shop, client, session, request_no=f"R-{number}", offer_id=str(offer.id)
        )
        assert (response.status_code, response.json()["code"]) == (status, code)


async def test_a_per_volunteer_daily_limit_is_enforced_and_resets_the_next_day(
    client: httpx.AsyncClient, session: AsyncSession, shop: Shop
) -> None:
    offer = await make_offer(
        session, shop.merchant, price=1, limit_count=2, limit_period=LimitPeriod.day
    )
    await fund(session, shop.world.volunteer_a, 100)
    for n in range(2):
        code = await shop.code(client)
        ok = await shop.client.redeem(code, request_no=f"R-{n}", offer_id=str(offer.id))
        assert ok.status_code == 201, ok.text

    response = await _refused(shop, client, session, request_no="R-3", offer_id=str(offer.id))

    assert response.status_code == 409
    assert response.json()["code"] == "offer_limit_reached"
    # Another volunteer has their own count.
    await fund(session, shop.world.volunteer_b, 10)
    code = await shop.code(client, "volunteer_b")
    other = await shop.client.redeem(code, request_no="R-4", offer_id=str(offer.id))
    assert other.status_code == 201
    with clock.travel(clock.now() + timedelta(days=1)):
        code = await shop.code(client)
        tomorrow = await shop.client.redeem(code, request_no="R-5", offer_id=str(offer.id))
        assert tomorrow.status_code == 201, tomorrow.text
    usages = await fetch_all(session, select(OfferUsage).order_by(OfferUsage.period_key))
    assert [u.used for u in usages if u.volunteer_id == shop.world.volunteer_a.id] == [2, 1]


async def test_weekly_and_monthly_limits_count_per_period_in_region_time(
    client: httpx.AsyncClient, session: AsyncSession, shop: Shop
) -> None:
    weekly = await make_offer(
        session, shop.merchant, price=1, limit_count=1, limit_period=LimitPeriod.week
    )
    monthly = await make_offer(
        session, shop.merchant, price=1, limit_count=1, limit_period=LimitPeriod.month
    )
    # Wednesday 2031-01-15, 10:00 in Shanghai.
    with clock.travel(datetime(2031, 1, 15, 2, 0, tzinfo=UTC)):
        await fund(session, shop.world.volunteer_a, 100)
        for n, offer in enumerate((weekly, monthly)):
            code = await shop.code(client)
            ok = await shop.client.redeem(code, request_no=f"A-{n}", offer_id=str(offer.id))
            assert ok.status_code == 201, ok.text
        for n, offer in enumerate((weekly, monthly)):
            refused = await _refused(
                shop, client, session, request_no=f"B-{n}", offer_id=str(offer.id)
            )
            assert refused.json()["code"] == "offer_limit_reached"
    # Monday 2031-01-20: a new week, the same month.
    with clock.travel(datetime(2031, 1, 20, 2, 0, tzinfo=UTC)):
        code = await shop.code(client)
        ok = await shop.client.redeem(code, request_no="C-0", offer_id=str(weekly.id))
        assert ok.status_code == 201, ok.text
        refused = await _refused(shop, client, session, request_no="C-1", offer_id=str(monthly.id))
        assert refused.json()["code"] == "offer_limit_reached"
    keys = sorted(u.period_key for u in await fetch_all(session, select(OfferUsage)))
    assert keys == ["2031-01", "2031-W03", "2031-W04"]


async def test_a_star_level_offer_accepts_a_volunteer_with_enough_stars(
    client: httpx.AsyncClient, session: AsyncSession, shop: Shop, monkeypatch: Any
) -> None:
    from app.merchants import redemption

    async def three_stars(*_: Any, **__: Any) -> int:
        return 3

    monkeypatch.setattr(redemption, "star_level", three_stars)
    offer = await make_offer(session, shop.merchant, min_star_level=3)
    await fund(session, shop.world.volunteer_a, 50)
    code = await shop.code(client)

    response = await shop.client.redeem(code, request_no="R-1", offer_id=str(offer.id))

    assert response.status_code == 201, response.text


async def test_a_suspended_or_pending_merchant_cannot_redeem(
    client: httpx.AsyncClient, session: AsyncSession, shop: Shop
) -> None:
    from bench.terminal_client import TerminalClient

    await fund(session, shop.world.volunteer_a, 50)
    for status, code_name in (
        (MerchantStatus.suspended, "merchant_suspended"),
        (MerchantStatus.pending, "merchant_not_active"),
    ):
        merchant = await make_merchant(session, shop.world, status=status)
        _, signer = await make_terminal(session, merchant)
        code = await shop.code(client)
        response = await TerminalClient(client, signer).redeem(code, request_no="R-1", amount=5)
        assert response.status_code == 403
        assert response.json()["code"] == code_name
    assert await wallet_balance(session, shop.world.volunteer_a) == 50
    assert [r.refusal_code for r in await redemptions(session)] == [
        "merchant_suspended",
        "merchant_not_active",
    ]


async def test_offer_dates_are_checked_in_region_time(
    client: httpx.AsyncClient, session: AsyncSession, shop: Shop
) -> None:
    # 23:30 on 31 March in Shanghai is 15:30 UTC; 00:30 on 1 April is 16:30 UTC.
    offer = await make_offer(session, shop.merchant, valid_until=date(2031, 3, 31), price=1)
    with clock.travel(datetime(2031, 3, 31, 15, 30, tzinfo=UTC)):
        await fund(session, shop.world.volunteer_a, 50)
        code = await shop.code(client)
        ok = await shop.client.redeem(code, request_no="R-1", offer_id=str(offer.id))
        assert ok.status_code == 201, ok.text
    with clock.travel(datetime(2031, 3, 31, 16, 30, tzinfo=UTC)):
        code = await shop.code(client)
        late = await shop.client.redeem(code, request_no="R-2", offer_id=str(offer.id))
        assert late.json()["code"] == "offer_not_valid_today"


async def test_the_wallet_history_shows_the_redemption_and_its_merchant(
    client: httpx.AsyncClient, session: AsyncSession, shop: Shop
) -> None:
    offer = await make_offer(session, shop.merchant, title="一碗阳春面", price=6)
    await fund(session, shop.world.volunteer_a, 20)
    code = await shop.code(client)
    receipt = (await shop.client.redeem(code, request_no="R-1", offer_id=str(offer.id))).json()

    response = await client.get("/v1/me/wallet/transactions", headers=shop.auth("volunteer_a"))

    assert response.status_code == 200, response.text
    newest = response.json()["items"][0]
    assert newest["kind"] == "redeem"
    assert newest["amount"] == -6
    assert newest["cause"] == {"reference_type": "redemption", "reference_id": receipt["id"]}
    assert newest["description"] == f"{shop.merchant.name} 兑换 一碗阳春面"
    assert [c["kind"] for c in newest["counterparts"]] == ["merchant"]
