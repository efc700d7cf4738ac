"""Redemption under real concurrency (PostgreSQL, parallel connections).

Each test fires its requests at once through the app (one database connection
per request) and then checks that exactly the right effects happened and that
the ledger verifies.
"""

from __future__ import annotations

import asyncio
from collections import Counter

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.core import clock
from app.core.config import Settings
from app.ledger.models import LedgerTransaction, TxKind
from app.merchants.models import LimitPeriod, Offer, RedemptionCode
from bench.terminal_client import TerminalClient
from tests.builders import make_volunteer
from tests.merchants.conftest import (
    Shop,
    fetch_all,
    fetch_one,
    fund,
    ledger_verifies,
    live_codes,
    make_offer,
    make_terminal,
    merchant_balance,
    redemptions,
    wallet_balance,
)

pytestmark = pytest.mark.postgres_only


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """The app's rate limits would refuse these bursts before they reach the database,
    which is what these tests are about: lift the redemption limits here. At most 30
    connections, as a server's pool would bound them (the rest queue for one), which
    also leaves room on a PostgreSQL shared by parallel test runs."""
    lifted = {"redemption.principal": "10000/minute", "redemption.ip": "10000/minute"}
    return settings.model_copy(
        update={
            "rate_limits": {**settings.rate_limits, **lifted},
            "db_pool_size": 20,
            "db_max_overflow": 10,
        }
    )


async def test_one_code_presented_by_20_terminals_at_once_redeems_once(
    client: httpx.AsyncClient, session: AsyncSession, shop: Shop
) -> None:
    await fund(session, shop.world.volunteer_a, 100)
    terminals = [TerminalClient(client, (await make_terminal(session, shop.merchant))[1])]
    for _ in range(19):
        terminals.append(TerminalClient(client, (await make_terminal(session, shop.merchant))[1]))
    code = await shop.code(client)

    responses = await asyncio.gather(
        *(t.redeem(code, request_no=f"C-{n}", amount=10) for n, t in enumerate(terminals))
    )

    outcomes = Counter(
        r.json()["status"] if r.status_code == 201 else r.json()["code"] for r in responses
    )
    assert outcomes == {"succeeded": 1, "code_used": 19}
    assert await wallet_balance(session, shop.world.volunteer_a) == 90
    assert await merchant_balance(session, shop.merchant) == 10
    assert Counter(r.status for r in await redemptions(session)) == {
        "succeeded": 1,
        "refused": 19,
    }
    await ledger_verifies(session)


async def test_one_request_no_sent_50_times_at_once_debits_once(
    client: httpx.AsyncClient, session: AsyncSession, shop: Shop
) -> None:
    await fund(session, shop.world.volunteer_a, 100)
    code = await shop.code(client)

    responses = await asyncio.gather(
        *(shop.client.redeem(code, request_no="SAME-1", amount=10) for _ in range(50))
    )

    assert {r.status_code for r in responses} == {201}, {r.text for r in responses}
    assert len({r.text for r in responses}) == 1
    assert await wallet_balance(session, shop.world.volunteer_a) == 90
    assert len(await redemptions(session)) == 1
    redeemed = await fetch_all(
        session, select(LedgerTransaction).where(LedgerTransaction.kind == TxKind.redeem)
    )
    assert len(redeemed) == 1
    await ledger_verifies(session)


async def test_a_volunteers_10_simultaneous_redemptions_never_overdraw(
    client: httpx.AsyncClient, session: AsyncSession, shop: Shop
) -> None:
    volunteer = shop.world.volunteer_a
    await fund(session, volunteer, 25)
    codes = await live_codes(session, volunteer, 10)

    responses = await asyncio.gather(
        *(shop.client.redeem(c, request_no=f"W-{n}", amount=10) for n, c in enumerate(codes))
    )

    outcomes = Counter(
        r.json()["status"] if r.status_code == 201 else r.json()["code"] for r in responses
    )
    assert outcomes == {"succeeded": 2, "insufficient_balance": 8}
    assert await wallet_balance(session, volunteer) == 5
    assert await merchant_balance(session, shop.merchant) == 20
    # Refused redemptions spent their codes too.
    statuses = Counter(c.status for c in await fetch_all(session, select(RedemptionCode)))
    assert statuses == {"used": 10}
    await ledger_verifies(session)


async def test_stock_and_limits_hold_under_concurrency(
    client: httpx.AsyncClient, session: AsyncSession, shop: Shop
) -> None:
    scarce = await make_offer(session, shop.merchant, price=1, stock=3)
    limited = await make_offer(
        session, shop.merchant, price=1, limit_count=2, limit_period=LimitPeriod.day
    )
    volunteers = [await make_volunteer(session, shop.world.region) for _ in range(8)]
    codes = []
    for volunteer in volunteers:
        await fund(session, volunteer, 10)
        codes.append((await live_codes(session, volunteer, 1))[0])
    limited_codes = await live_codes(session, shop.world.volunteer_a, 6)
    await fund(session, shop.world.volunteer_a, 10)

    responses = await asyncio.gather(
        *(
            shop.client.redeem(code, request_no=f"S-{n}", offer_id=str(scarce.id))
            for n, code in enumerate(codes)
        ),
        *(
            shop.client.redeem(code, request_no=f"L-{n}", offer_id=str(limited.id))
            for n, code in enumerate(limited_codes)
        ),
    )

    scarce_outcomes = Counter(
        r.json()["status"] if r.status_code == 201 else r.json()["code"] for r in responses[:8]
    )
    limited_outcomes = Counter(
        r.json()["status"] if r.status_code == 201 else r.json()["code"] for r in responses[8:]
    )
    assert scarce_outcomes == {"succeeded": 3, "offer_out_of_stock": 5}
    assert limited_outcomes == {"succeeded": 2, "offer_limit_reached": 4}
    assert (await fetch_one(session, select(Offer).where(Offer.id == scarce.id))).stock == 0
    assert await wallet_balance(session, shop.world.volunteer_a) == 8
    assert await merchant_balance(session, shop.merchant) == 5
    await ledger_verifies(session)


async def test_concurrent_voids_and_refunds_of_one_redemption_give_back_at_most_its_amount(
    client: httpx.AsyncClient, session: AsyncSession, shop: Shop
) -> None:
    await fund(session, shop.world.volunteer_a, 50)
    code = await shop.code(client)
    receipt = (await shop.client.redeem(code, request_no="R-1", amount=10)).json()
    url = f"/v1/merchants/{shop.merchant.id}/redemptions/{receipt['id']}/refunds"

    responses = await asyncio.gather(
        *(shop.client.void("R-1") for _ in range(5)),
        *(
            client.post(url, json={"refund_no": f"F-{n}", "amount": 4}, headers=shop.auth("owner"))
            for n in range(5)
        ),
    )

    given_back = await wallet_balance(session, shop.world.volunteer_a) - 40
    assert given_back in (10, 8)  # a whole void, or two refunds of 4
    assert all(r.status_code in (200, 201, 409) for r in responses), [r.text for r in responses]
    assert await merchant_balance(session, shop.merchant) == 10 - given_back
    await ledger_verifies(session)


async def test_concurrent_settlement_runs_settle_each_merchant_once(
    client: httpx.AsyncClient, session: AsyncSession, shop: Shop
) -> None:
    from datetime import UTC, datetime

    from app.merchants.models import MerchantSettlement

    with clock.travel(datetime(2031, 5, 6, 2, 0, tzinfo=UTC)):
        await fund(session, shop.world.volunteer_a, 50)
        code = await shop.code(client)
        assert (await shop.client.redeem(code, request_no="M-1", amount=12)).status_code == 201
    with clock.travel(datetime(2031, 6, 1, 2, 0, tzinfo=UTC)):
        responses = await asyncio.gather(
            *(
                client.post(
                    "/v1/merchants/settlements",
                    json={"period": "2031-05"},
                    headers=shop.auth("center_admin"),
                )
                for _ in range(8)
            )
        )

    assert {r.status_code for r in responses} == {200}, [r.text for r in responses]
    assert {r.json()["total"] for r in responses} == {12}
    assert len(await fetch_all(session, select(MerchantSettlement))) == 1
    settles = await fetch_all(
        session, select(LedgerTransaction).where(LedgerTransaction.kind == TxKind.settle)
    )
    assert len(settles) == 1
    assert await merchant_balance(session, shop.merchant) == 0
    await ledger_verifies(session)
