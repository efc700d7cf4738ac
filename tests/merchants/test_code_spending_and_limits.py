"""A code is spent by its first use that reaches its volunteer, refused or not; and it pays
no more than its volunteer allowed: a maximum amount, one offer (online codes), a maximum
for every offline code of the wallet (offline codes)."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.core import clock
from app.ledger.models import LedgerTransaction, TxKind
from app.merchants.codes import hash_code, offline_code, totp_step
from app.merchants.models import (
    CodeStatus,
    LimitPeriod,
    MerchantStatus,
    Offer,
    OfferStatus,
    OfflineCodeKey,
    RedemptionCode,
)
from bench.terminal_client import TerminalClient
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


async def _code(
    client: httpx.AsyncClient, shop: Shop, body: dict[str, Any] | None = None
) -> httpx.Response:
    return await client.post("/v1/me/redemption-codes", json=body, headers=shop.auth("volunteer_a"))


async def _status_of(session: AsyncSession, code: str) -> CodeStatus:
    row = await fetch_one(
        session, select(RedemptionCode).where(RedemptionCode.code_hash == hash_code(code))
    )
    return CodeStatus(row.status)


async def _redeemed_nothing(session: AsyncSession, shop: Shop, balance: int) -> None:
    assert await wallet_balance(session, shop.world.volunteer_a) == balance
    assert await merchant_balance(session, shop.merchant) == 0
    assert (
        await fetch_all(
            session, select(LedgerTransaction).where(LedgerTransaction.kind == TxKind.redeem)
        )
        == []
    )


# Spent by the first resolved use


async def test_every_refusal_after_the_code_names_its_volunteer_spends_the_code(
    client: httpx.AsyncClient, session: AsyncSession, shop: Shop
) -> None:
    await fund(session, shop.world.volunteer_a, 15)
    today = clock.today_in("Asia/Shanghai")
    limited = await make_offer(session, shop.merchant, limit_count=1, limit_period=LimitPeriod.day)
    code = await shop.code(client)
    assert (await shop.client.redeem(code, request_no="U-0", offer_id=str(limited.id))).is_success
    elsewhere = await make_offer(session, await make_merchant(session, shop.world, name="别家"))
    withdrawn = await make_offer(session, shop.merchant, status=OfferStatus.withdrawn)
    sold_out = await make_offer(session, shop.merchant, stock=0)
    past = await make_offer(session, shop.merchant, valid_until=today - timedelta(days=1))
    starry = await make_offer(session, shop.merchant, min_star_level=2)
    cases: list[tuple[dict[str, Any], int, str]] = [
        ({"amount": 16}, 409, "insufficient_balance"),
        ({"offer_id": str(elsewhere.id)}, 404, "redemption_offer_not_found"),
        ({"offer_id": str(uuid.uuid4())}, 404, "redemption_offer_not_found"),
        ({"offer_id": str(withdrawn.id)}, 409, "offer_inactive"),
        ({"offer_id": str(sold_out.id)}, 409, "offer_out_of_stock"),
        ({"offer_id": str(past.id)}, 409, "offer_not_valid_today"),
        ({"offer_id": str(starry.id)}, 403, "star_level_too_low"),
        ({"offer_id": str(limited.id)}, 409, "offer_limit_reached"),
    ]
    for n, (request, status, problem) in enumerate(cases):
        code = await shop.code(client)
        refused = await shop.client.redeem(code, request_no=f"U-{n + 1}", **request)
        again = await shop.client.redeem(code, request_no=f"U-{n + 1}-again", amount=1)

        assert (refused.status_code, refused.json()["code"]) == (status, problem), refused.text
        assert (again.status_code, again.json()["code"]) == (409, "code_used"), problem
        assert await _status_of(session, code) == CodeStatus.used, problem
    assert await wallet_balance(session, shop.world.volunteer_a) == 5
    assert await merchant_balance(session, shop.merchant) == 10


async def test_a_refusal_before_the_code_names_a_volunteer_leaves_the_code_usable(
    client: httpx.AsyncClient, session: AsyncSession, shop: Shop
) -> None:
    await fund(session, shop.world.volunteer_a, 50)
    suspended = await make_merchant(session, shop.world, status=MerchantStatus.suspended)
    _, signer = await make_terminal(session, suspended)
    code = await shop.code(client)

    refused = await TerminalClient(client, signer).redeem(code, request_no="B-1", amount=5)
    accepted = await shop.client.redeem(code, request_no="B-2", amount=5)

    assert (refused.status_code, refused.json()["code"]) == (403, "merchant_suspended")
    assert accepted.status_code == 201, accepted.text
    assert await wallet_balance(session, shop.world.volunteer_a) == 45


@pytest.fixture
def early_in_a_step() -> Iterator[None]:
    """Start 2 s into a TOTP step, so that no test straddles a step boundary."""
    start = datetime.fromtimestamp((totp_step(clock.now()) + 1) * 30 + 2, tz=UTC)
    with clock.travel(start):
        yield


async def _provision(
    client: httpx.AsyncClient, shop: Shop, body: dict[str, Any] | None = None
) -> dict[str, Any]:
    response = await client.post(
        "/v1/me/offline-code-secret", json=body, headers=shop.auth("volunteer_a")
    )
    assert response.status_code == 201, response.text
    return dict(response.json())


async def test_an_offline_step_refused_after_it_named_the_wallet_is_spent(
    client: httpx.AsyncClient, session: AsyncSession, shop: Shop, early_in_a_step: None
) -> None:
    await fund(session, shop.world.volunteer_a, 5)
    secret = await _provision(client, shop)
    step = totp_step(clock.now())
    code = offline_code(secret["secret"], secret["wallet_no"], step)

    refused = await shop.client.redeem(code, request_no="O-1", amount=10)
    drain = await shop.client.redeem(code, request_no="O-2", amount=5)

    assert (refused.status_code, refused.json()["code"]) == (409, "insufficient_balance")
    assert (drain.status_code, drain.json()["code"]) == (409, "code_used")
    await _redeemed_nothing(session, shop, 5)
    key = await fetch_one(session, select(OfflineCodeKey))
    assert key.last_used_step == step


# Online codes' limits


async def test_a_code_made_without_a_body_pays_any_amount_the_balance_covers(
    client: httpx.AsyncClient, session: AsyncSession, shop: Shop
) -> None:
    await fund(session, shop.world.volunteer_a, 900)
    bare = await client.post("/v1/me/redemption-codes", headers=shop.auth("volunteer_a"))
    empty = await _code(client, shop, {})

    for made in (bare, empty):
        assert made.status_code == 201, made.text
        assert (made.json()["max_amount"], made.json()["offer_id"]) == (None, None)
    accepted = await shop.client.redeem(empty.json()["code"], request_no="L-1", amount=900)
    assert accepted.status_code == 201, accepted.text


async def test_a_code_with_a_max_amount_refuses_a_terminal_asking_more_and_is_spent(
    client: httpx.AsyncClient, session: AsyncSession, shop: Shop
) -> None:
    await fund(session, shop.world.volunteer_a, 100)
    made = await _code(client, shop, {"max_amount": 30})
    assert made.status_code == 201, made.text
    assert made.json()["max_amount"] == 30
    code = made.json()["code"]

    above = await shop.client.redeem(code, request_no="L-1", amount=31)
    within = await shop.client.redeem(code, request_no="L-2", amount=30)

    assert (above.status_code, above.json()["code"]) == (409, "code_limit_exceeded")
    assert not re.search(r"\d", above.json()["detail"])
    assert (within.status_code, within.json()["code"]) == (409, "code_used")
    await _redeemed_nothing(session, shop, 100)
    queried = await shop.client.query("L-1")
    assert queried.json()["refusal"]["code"] == "code_limit_exceeded"
    # A new code with the same bound pays up to it.
    fresh = (await _code(client, shop, {"max_amount": 30})).json()["code"]
    accepted = await shop.client.redeem(fresh, request_no="L-3", amount=30)
    assert accepted.status_code == 201, accepted.text
    assert await wallet_balance(session, shop.world.volunteer_a) == 70


async def test_a_code_max_amount_bounds_an_offers_price_too(
    client: httpx.AsyncClient, session: AsyncSession, shop: Shop
) -> None:
    offer = await make_offer(session, shop.merchant, price=12, stock=5)
    await fund(session, shop.world.volunteer_a, 100)
    code = (await _code(client, shop, {"max_amount": 11})).json()["code"]

    refused = await shop.client.redeem(code, request_no="L-1", offer_id=str(offer.id))

    assert (refused.status_code, refused.json()["code"]) == (409, "code_limit_exceeded")
    await _redeemed_nothing(session, shop, 100)
    assert await _status_of(session, code) == CodeStatus.used
    assert [o.stock for o in await fetch_all(session, select(Offer))] == [5]


async def test_a_code_for_an_offer_pays_for_that_offer_only(
    client: httpx.AsyncClient, session: AsyncSession, shop: Shop
) -> None:
    wanted = await make_offer(session, shop.merchant, title="一碗阳春面", price=10)
    other = await make_offer(session, shop.merchant, title="一碗大排面", price=10)
    await fund(session, shop.world.volunteer_a, 100)

    async def code_for_wanted() -> str:
        made = await _code(client, shop, {"offer_id": str(wanted.id)})
        assert made.status_code == 201, made.text
        assert made.json()["offer_id"] == str(wanted.id)
        return str(made.json()["code"])

    another_offer = await shop.client.redeem(
        await code_for_wanted(), request_no="M-1", offer_id=str(other.id)
    )
    no_offer = await shop.client.redeem(await code_for_wanted(), request_no="M-2", amount=10)
    spent = await code_for_wanted()
    await shop.client.redeem(spent, request_no="M-3", amount=10)
    after_mismatch = await shop.client.redeem(spent, request_no="M-4", offer_id=str(wanted.id))

    for refused in (another_offer, no_offer):
        assert (refused.status_code, refused.json()["code"]) == (422, "code_offer_mismatch")
    assert (after_mismatch.status_code, after_mismatch.json()["code"]) == (409, "code_used")
    await _redeemed_nothing(session, shop, 100)
    accepted = await shop.client.redeem(
        await code_for_wanted(), request_no="M-5", offer_id=str(wanted.id)
    )
    assert accepted.status_code == 201, accepted.text
    assert accepted.json()["offer_id"] == str(wanted.id)
    assert await wallet_balance(session, shop.world.volunteer_a) == 90


async def test_a_code_for_an_offer_outside_the_volunteers_region_is_refused_as_unknown(
    client: httpx.AsyncClient, session: AsyncSession, shop: Shop
) -> None:
    foreign_merchant = await make_merchant(
        session, shop.world, name="邻区面馆", region_id=shop.world.other_region.id
    )
    foreign = await make_offer(session, foreign_merchant)
    live = await shop.code(client)

    answers = [
        await _code(client, shop, {"offer_id": str(foreign.id)}),
        await _code(client, shop, {"offer_id": str(uuid.uuid4())}),
    ]

    for answer in answers:
        assert (answer.status_code, answer.json()["code"]) == (404, "code_offer_not_found")
    assert answers[0].json()["detail"] == answers[1].json()["detail"]
    assert str(foreign.id) not in answers[0].text
    # Nothing was made, and the code already shown stays live.
    assert len(await fetch_all(session, select(RedemptionCode))) == 1
    assert await _status_of(session, live) == CodeStatus.active


async def test_code_limits_out_of_bounds_are_validation_errors(
    client: httpx.AsyncClient, session: AsyncSession, shop: Shop
) -> None:
    for body in (
        {"max_amount": 0},
        {"max_amount": -5},
        {"max_amount": 1_000_001},
        {"offer_id": "not-a-uuid"},
        {"max_amount": 10, "amount": 10},
    ):
        response = await _code(client, shop, body)
        assert (response.status_code, response.json()["code"]) == (422, "validation_failed"), body
    assert await fetch_all(session, select(RedemptionCode)) == []


# Offline codes' limit


async def test_an_offline_max_amount_bounds_every_offline_code_of_the_wallet(
    client: httpx.AsyncClient, session: AsyncSession, shop: Shop, early_in_a_step: None
) -> None:
    await fund(session, shop.world.volunteer_a, 100)
    secret = await _provision(client, shop, {"max_amount": 20})
    assert secret["max_amount"] == 20
    step = totp_step(clock.now())

    above = await shop.client.redeem(
        offline_code(secret["secret"], secret["wallet_no"], step), request_no="O-1", amount=21
    )
    with clock.travel(clock.now() + timedelta(seconds=30)):
        within = await shop.client.redeem(
            offline_code(secret["secret"], secret["wallet_no"], step + 1),
            request_no="O-2",
            amount=20,
        )

    assert (above.status_code, above.json()["code"]) == (409, "code_limit_exceeded")
    assert within.status_code == 201, within.text
    assert await wallet_balance(session, shop.world.volunteer_a) == 80
    # Provisioning again sets the bound anew: none given, none kept.
    unbounded = await _provision(client, shop)
    assert unbounded["max_amount"] is None
    with clock.travel(clock.now() + timedelta(seconds=60)):
        large = await shop.client.redeem(
            offline_code(unbounded["secret"], unbounded["wallet_no"], step + 2),
            request_no="O-3",
            amount=80,
        )
    assert large.status_code == 201, large.text
    assert [r.refusal_code for r in await redemptions(session)] == [
        "code_limit_exceeded",
        None,
        None,
    ]
