"""A terminal never learns a volunteer's balance: not from a refusal, its replay or its
query, not from a receipt; nor do the merchant's staff from their views of redemptions.
The volunteer still sees their own."""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime
from typing import Any

import httpx
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.core import clock
from app.ledger.models import LedgerTransaction, TxKind
from app.merchants.models import CodeStatus, RedemptionCode, RedemptionStatus
from tests.merchants.conftest import (
    Shop,
    fetch_all,
    fund,
    make_offer,
    merchant_balance,
    redemptions,
    wallet_balance,
)

# Distinctive, so that finding it in a body cannot be a coincidence of small numbers.
BALANCE = 4_321
TOO_MUCH = 1_000_000


def _is_id_or_instant(text: str) -> bool:
    try:
        uuid.UUID(text)
    except ValueError:
        pass
    else:
        return True
    try:
        datetime.fromisoformat(text)
    except ValueError:
        return False
    return True


def numbers_in(body: Any) -> set[int]:
    """Every number a JSON body shows: its integers, and the digit runs of its strings
    (ids and instants aside, whose digits say nothing of a wallet)."""
    found: set[int] = set()
    if isinstance(body, bool) or body is None:
        return found
    if isinstance(body, int):
        found.add(body)
    elif isinstance(body, str):
        if not _is_id_or_instant(body):
            found.update(int(run) for run in re.findall(r"\d+", body))
    elif isinstance(body, dict):
        for key, value in body.items():
            found |= numbers_in(key) | numbers_in(value)
    elif isinstance(body, list):
        for item in body:
            found |= numbers_in(item)
    return found


def assert_no_balance(body: Any, *balances: int) -> None:
    shown = numbers_in(body)
    for balance in balances:
        assert balance not in shown, f"{balance} shows in {body}"
    text = str(body)
    for word in ("balance_after", "available", "requested"):
        assert word not in text, f"{word!r} shows in {body}"


def assert_says_only_short(problem: dict[str, Any]) -> None:
    assert problem["code"] == "insufficient_balance"
    assert problem["status"] == 409
    assert not re.search(r"\d", problem["detail"]), problem["detail"]
    assert "not enough" in problem["detail"]
    assert set(problem) <= {"type", "title", "status", "detail", "instance", "code"}


async def test_a_terminal_never_learns_a_balance_from_a_refusal(
    client: httpx.AsyncClient, session: AsyncSession, shop: Shop
) -> None:
    await fund(session, shop.world.volunteer_a, BALANCE)
    code = await shop.code(client)

    refused = await shop.client.redeem(code, request_no="P-1", amount=TOO_MUCH)

    assert refused.status_code == 409
    assert refused.headers["content-type"].startswith("application/problem+json")
    assert_says_only_short(refused.json())
    assert_no_balance(refused.json(), BALANCE)
    (attempt,) = await redemptions(session)
    assert attempt.refusal_code == "insufficient_balance"
    assert str(BALANCE) not in (attempt.refusal_detail or "")


async def test_a_stored_refusal_its_replay_and_its_query_tell_no_balance(
    client: httpx.AsyncClient, session: AsyncSession, shop: Shop
) -> None:
    await fund(session, shop.world.volunteer_a, BALANCE)
    code = await shop.code(client)
    first = await shop.client.redeem(code, request_no="P-1", amount=TOO_MUCH)

    replayed = await shop.client.redeem(code, request_no="P-1", amount=TOO_MUCH)
    queried = await shop.client.query("P-1")

    assert replayed.status_code == 409
    assert replayed.headers["idempotent-replayed"] == "true"
    assert_says_only_short(replayed.json())
    assert replayed.json()["detail"] == first.json()["detail"]
    assert_no_balance(replayed.json(), BALANCE)
    assert queried.status_code == 200
    refusal = queried.json()["refusal"]
    assert (refusal["code"], refusal["status"]) == ("insufficient_balance", 409)
    assert refusal["detail"] == first.json()["detail"]
    assert_no_balance(queried.json(), BALANCE)


async def test_a_receipt_never_carries_the_volunteers_balance(
    client: httpx.AsyncClient, session: AsyncSession, shop: Shop
) -> None:
    await fund(session, shop.world.volunteer_a, BALANCE)
    code = await shop.code(client)
    left = BALANCE - 1_000

    redeemed = await shop.client.redeem(code, request_no="P-1", amount=1_000)
    replayed = await shop.client.redeem(code, request_no="P-1", amount=1_000)
    queried = await shop.client.query("P-1")
    voided = await shop.client.void("P-1")

    assert redeemed.status_code == 201, redeemed.text
    assert voided.status_code == 200, voided.text
    for response in (redeemed, replayed, queried, voided):
        assert_no_balance(response.json(), BALANCE, left)
    assert await wallet_balance(session, shop.world.volunteer_a) == BALANCE


async def test_a_refused_offer_tells_the_terminal_what_it_needs_not_what_the_volunteer_has(
    client: httpx.AsyncClient, session: AsyncSession, shop: Shop
) -> None:
    starry = await make_offer(session, shop.merchant, min_star_level=4)
    await fund(session, shop.world.volunteer_a, BALANCE)
    code = await shop.code(client)

    refused = await shop.client.redeem(code, request_no="P-1", offer_id=str(starry.id))

    body = refused.json()
    assert (refused.status_code, body["code"]) == (403, "star_level_too_low")
    assert "level" not in body
    assert numbers_in(body["detail"]) == {4}
    assert_no_balance(body, BALANCE)


async def test_the_merchants_staff_see_no_balance_in_their_views_of_redemptions(
    client: httpx.AsyncClient, session: AsyncSession, shop: Shop
) -> None:
    day = datetime(2031, 5, 6, 2, 0, tzinfo=UTC)
    with clock.travel(day):
        await fund(session, shop.world.volunteer_a, BALANCE)
        code = await shop.code(client)
        receipt = (await shop.client.redeem(code, request_no="P-1", amount=1_000)).json()
        refund = await client.post(
            f"/v1/merchants/{shop.merchant.id}/redemptions/{receipt['id']}/refunds",
            json={"refund_no": "F-1", "amount": 100},
            headers=shop.auth("owner"),
        )
    with clock.travel(datetime(2031, 5, 7, 2, 0, tzinfo=UTC)):
        statement = await client.get(
            f"/v1/merchants/{shop.merchant.id}/statements/2031-05-06", headers=shop.auth("owner")
        )

    assert refund.status_code == 201, refund.text
    assert statement.status_code == 200, statement.text
    for body in (refund.json(), statement.json()):
        assert_no_balance(body, BALANCE, BALANCE - 1_000, BALANCE - 900)


async def test_the_volunteer_still_sees_their_own_balance(
    client: httpx.AsyncClient, session: AsyncSession, shop: Shop
) -> None:
    await fund(session, shop.world.volunteer_a, BALANCE)
    code = await shop.code(client)
    assert (await shop.client.redeem(code, request_no="P-1", amount=1_000)).status_code == 201

    wallet = await client.get("/v1/me/wallet", headers=shop.auth("volunteer_a"))

    assert wallet.status_code == 200, wallet.text
    assert BALANCE - 1_000 in numbers_in(wallet.json())


async def test_a_terminal_that_reads_a_refusal_cannot_then_redeem_the_balance_with_that_code(
    client: httpx.AsyncClient, session: AsyncSession, shop: Shop
) -> None:
    """The scripted probe: ask high, read the refusal, ask exactly with the same code."""
    volunteer = shop.world.volunteer_a
    await fund(session, volunteer, BALANCE)
    code = await shop.code(client)

    probe = await shop.client.redeem(code, request_no="P-1", amount=TOO_MUCH)
    # What it can read past the status and the route's own path (`/v1/…`).
    unrouted = {"status", "type", "instance"}
    learned = numbers_in({k: v for k, v in probe.json().items() if k not in unrouted})
    # Whatever it could read, it asks for the balance (known here, not from the body).
    drain = await shop.client.redeem(code, request_no="P-2", amount=BALANCE)
    smaller = await shop.client.redeem(code, request_no="P-3", amount=1)

    assert learned == set()
    assert (drain.status_code, drain.json()["code"]) == (409, "code_used")
    assert (smaller.status_code, smaller.json()["code"]) == (409, "code_used")
    assert_no_balance(drain.json(), BALANCE)
    assert await wallet_balance(session, volunteer) == BALANCE
    assert await merchant_balance(session, shop.merchant) == 0
    assert (
        await fetch_all(
            session, select(LedgerTransaction).where(LedgerTransaction.kind == TxKind.redeem)
        )
        == []
    )
    attempts = await redemptions(session)
    assert [(a.status, a.refusal_code) for a in attempts] == [
        (RedemptionStatus.refused, "insufficient_balance"),
        (RedemptionStatus.refused, "code_used"),
        (RedemptionStatus.refused, "code_used"),
    ]
    assert all(a.transaction_id is None for a in attempts)
    (row,) = await fetch_all(session, select(RedemptionCode))
    assert row.status == CodeStatus.used
