"""Daily statements (JSON and CSV with its SHA-256) and the monthly settlement."""

from __future__ import annotations

import csv
import hashlib
import io
from datetime import UTC, datetime
from typing import Any

import httpx
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.core import clock
from app.ledger import service as ledger
from app.ledger.models import LedgerTransaction, TxKind
from app.merchants.models import MerchantSettlement
from tests.merchants.conftest import (
    Shop,
    fetch_all,
    fund,
    make_merchant,
    make_terminal,
    merchant_balance,
)

# 2031-05-06 10:00 and 23:30 in Shanghai.
MORNING = datetime(2031, 5, 6, 2, 0, tzinfo=UTC)
LATE = datetime(2031, 5, 6, 15, 30, tzinfo=UTC)
NEXT_DAY = datetime(2031, 5, 7, 2, 0, tzinfo=UTC)


async def _redeem(client: httpx.AsyncClient, shop: Shop, request_no: str, amount: int) -> Any:
    code = await shop.code(client)
    response = await shop.client.redeem(code, request_no=request_no, amount=amount)
    assert response.status_code == 201, response.text
    return response.json()


async def _day_of_business(client: httpx.AsyncClient, session: AsyncSession, shop: Shop) -> Any:
    """On 6 May: redeem 10, 20 and 30, void the 20, refund 5 of the 30."""
    with clock.travel(MORNING):
        await fund(session, shop.world.volunteer_a, 100)
        await _redeem(client, shop, "S-1", 10)
        await _redeem(client, shop, "S-2", 20)
        third = await _redeem(client, shop, "S-3", 30)
        assert (await shop.client.void("S-2")).status_code == 200
    with clock.travel(LATE):
        refund = await client.post(
            f"/v1/merchants/{shop.merchant.id}/redemptions/{third['id']}/refunds",
            json={"refund_no": "F-1", "amount": 5},
            headers=shop.auth("owner"),
        )
        assert refund.status_code == 201, refund.text
    return third


async def test_a_day_statement_lists_and_totals_the_days_movements(
    client: httpx.AsyncClient, session: AsyncSession, shop: Shop
) -> None:
    await _day_of_business(client, session, shop)
    url = f"/v1/merchants/{shop.merchant.id}/statements/2031-05-06"

    with clock.travel(NEXT_DAY):
        response = await client.get(url, headers=shop.auth("owner"))

    assert response.status_code == 200, response.text
    body = response.json()
    assert [(line["type"], line["amount"]) for line in body["lines"]] == [
        ("redemption", 10),
        ("redemption", 20),
        ("redemption", 30),
        ("void", -20),
        ("refund", -5),
    ]
    assert body["totals"] == {
        "redemptions": 3,
        "redeemed": 60,
        "voided": 20,
        "refunded": 5,
        "net": 35,
        "settled": 0,
    }
    assert body["settlement"] is None
    assert body["timezone"] == "Asia/Shanghai"
    assert response.headers["x-statement-sha256"] == body["csv_sha256"]
    assert await merchant_balance(session, shop.merchant) == 35


async def test_the_csv_form_hashes_to_the_sha256_in_the_json(
    client: httpx.AsyncClient, session: AsyncSession, shop: Shop
) -> None:
    await _day_of_business(client, session, shop)
    url = f"/v1/merchants/{shop.merchant.id}/statements/2031-05-06"

    with clock.travel(NEXT_DAY):
        as_json = await client.get(url, headers=shop.auth("owner"))
        by_query = await client.get(url + "?format=csv", headers=shop.auth("owner"))
        by_accept = await client.get(url, headers={**shop.auth("owner"), "Accept": "text/csv"})

    digest = hashlib.sha256(by_query.content).hexdigest()
    assert by_query.status_code == 200
    assert by_query.headers["content-type"].startswith("text/csv")
    assert digest == as_json.json()["csv_sha256"]
    assert by_query.headers["x-statement-sha256"] == digest
    assert by_query.headers["content-digest"].startswith("sha-256=:")
    assert by_accept.content == by_query.content
    rows = list(csv.DictReader(io.StringIO(by_query.text)))
    assert [row["type"] for row in rows] == [
        "redemption",
        "redemption",
        "redemption",
        "void",
        "refund",
    ]
    assert sum(int(row["amount"]) for row in rows) == 35


async def test_a_statement_is_final_from_the_next_day_to_its_owner_and_managers(
    client: httpx.AsyncClient, session: AsyncSession, shop: Shop
) -> None:
    url = f"/v1/merchants/{shop.merchant.id}/statements/2031-05-06"

    with clock.travel(MORNING):
        before = await client.get(url, headers=shop.auth("owner"))
    with clock.travel(NEXT_DAY):
        cashier = await client.get(url, headers=shop.auth("cashier"))
        manager = await client.get(url, headers=shop.auth("station_admin_x"))
        stranger = await client.get(url, headers=shop.auth("other_admin"))
        bad_date = await client.get(
            f"/v1/merchants/{shop.merchant.id}/statements/2031-13-01", headers=shop.auth("owner")
        )

    assert before.json()["provisional"] is True
    assert manager.json()["provisional"] is False
    assert (cashier.status_code, cashier.json()["code"]) == (403, "merchant_owner_required")
    assert manager.status_code == 200
    assert manager.json()["lines"] == []
    assert (stranger.status_code, stranger.json()["code"]) == (404, "merchant_not_found")
    assert (bad_date.status_code, bad_date.json()["code"]) == (422, "validation_failed")


async def test_the_month_is_settled_once_per_merchant_and_shown_on_the_statement(
    client: httpx.AsyncClient, session: AsyncSession, shop: Shop
) -> None:
    await _day_of_business(client, session, shop)
    quiet = await make_merchant(session, shop.world, name="没生意")
    await make_terminal(session, quiet)
    settle = {"period": "2031-05"}

    with clock.travel(datetime(2031, 5, 31, 15, 0, tzinfo=UTC)):  # 23:00 on 31 May
        early = await client.post(
            "/v1/merchants/settlements", json=settle, headers=shop.auth("center_admin")
        )
    with clock.travel(datetime(2031, 5, 31, 16, 30, tzinfo=UTC)):  # 00:30 on 1 June
        by_station = await client.post(
            "/v1/merchants/settlements", json=settle, headers=shop.auth("station_admin_x")
        )
        first = await client.post(
            "/v1/merchants/settlements", json=settle, headers=shop.auth("center_admin")
        )
        second = await client.post(
            "/v1/merchants/settlements", json=settle, headers=shop.auth("center_admin")
        )
        statement = await client.get(
            f"/v1/merchants/{shop.merchant.id}/statements/2031-05-06", headers=shop.auth("owner")
        )
        bad = await client.post(
            "/v1/merchants/settlements",
            json={"period": "2031-5"},
            headers=shop.auth("center_admin"),
        )

    assert (early.status_code, early.json()["code"]) == (409, "settlement_period_open")
    assert (by_station.status_code, by_station.json()["code"]) == (403, "center_admin_required")
    assert (bad.status_code, bad.json()["code"]) == (422, "validation_failed")
    assert first.status_code == 200, first.text
    assert first.json()["total"] == 35
    (settled,) = first.json()["settlements"]
    assert settled["merchant_id"] == str(shop.merchant.id)
    assert settled["amount"] == 35
    assert second.json() == first.json()
    assert await merchant_balance(session, shop.merchant) == 0
    settled_account = await ledger.system_account(
        session, region_id=shop.world.region.id, kind=ledger.AccountKind.settled
    )
    await session.refresh(settled_account)
    await session.commit()
    assert settled_account.posted == 35
    transactions = await fetch_all(
        session, select(LedgerTransaction).where(LedgerTransaction.kind == TxKind.settle)
    )
    assert len(transactions) == 1
    assert transactions[0].reference_id == f"{shop.merchant.id}:2031-05"
    assert len(await fetch_all(session, select(MerchantSettlement))) == 1
    assert statement.json()["settlement"]["amount"] == 35
    assert statement.json()["settlement"]["period"] == "2031-05"


async def test_a_settlement_takes_only_receipts_up_to_the_months_end(
    client: httpx.AsyncClient, session: AsyncSession, shop: Shop
) -> None:
    with clock.travel(datetime(2031, 5, 31, 15, 0, tzinfo=UTC)):  # 23:00 on 31 May
        await fund(session, shop.world.volunteer_a, 100)
        await _redeem(client, shop, "M-1", 10)
    with clock.travel(datetime(2031, 5, 31, 16, 30, tzinfo=UTC)):  # 00:30 on 1 June
        await _redeem(client, shop, "J-1", 7)
        may = await client.post(
            "/v1/merchants/settlements",
            json={"period": "2031-05"},
            headers=shop.auth("center_admin"),
        )
    with clock.travel(datetime(2031, 6, 30, 16, 30, tzinfo=UTC)):  # 00:30 on 1 July
        june = await client.post(
            "/v1/merchants/settlements",
            json={"period": "2031-06"},
            headers=shop.auth("center_admin"),
        )
        statement = await client.get(
            f"/v1/merchants/{shop.merchant.id}/statements/2031-06-01", headers=shop.auth("owner")
        )

    assert may.json()["total"] == 10
    assert june.json()["total"] == 7
    assert await merchant_balance(session, shop.merchant) == 0
    assert statement.json()["settlement"]["amount"] == 7
    assert [line["type"] for line in statement.json()["lines"]] == ["redemption", "settlement"]
    assert statement.json()["totals"]["settled"] == 10


async def test_today_has_a_provisional_statement_without_a_digest(
    client: httpx.AsyncClient, session: AsyncSession, shop: Shop
) -> None:
    with clock.travel(MORNING):
        await fund(session, shop.world.volunteer_a, 100)
        await _redeem(client, shop, "P-1", 10)
        await _redeem(client, shop, "P-2", 15)
    url = f"/v1/merchants/{shop.merchant.id}/statements/2031-05-06"

    with clock.travel(LATE):
        as_json = await client.get(url, headers=shop.auth("owner"))
        as_csv = await client.get(url + "?format=csv", headers=shop.auth("owner"))
        await _redeem(client, shop, "P-3", 5)
        later = await client.get(url, headers=shop.auth("owner"))
    with clock.travel(NEXT_DAY):
        final = await client.get(url, headers=shop.auth("owner"))

    assert as_json.status_code == 200, as_json.text
    body = as_json.json()
    assert body["provisional"] is True
    assert body["csv_sha256"] is None
    assert "x-statement-sha256" not in as_json.headers
    assert body["totals"]["redeemed"] == 25
    assert as_csv.status_code == 200
    assert "x-statement-sha256" not in as_csv.headers
    assert "provisional" in as_csv.headers["content-disposition"]
    # Lines join the provisional statement until the day ends; then it is final.
    assert later.json()["totals"]["redeemed"] == 30
    assert final.json()["provisional"] is False
    assert final.json()["totals"]["redeemed"] == 30
    assert final.headers["x-statement-sha256"] == final.json()["csv_sha256"]


async def test_a_day_the_region_has_not_reached_is_refused_with_the_regions_date(
    client: httpx.AsyncClient, shop: Shop
) -> None:
    # 2031-05-06 20:00 UTC is already 7 May in Shanghai; 8 May has not begun there.
    evening_utc = datetime(2031, 5, 6, 20, 0, tzinfo=UTC)
    base = f"/v1/merchants/{shop.merchant.id}"

    with clock.travel(evening_utc):
        utc_date = await client.get(f"{base}/statements/2031-05-06", headers=shop.auth("owner"))
        region_today = await client.get(f"{base}/statements/2031-05-07", headers=shop.auth("owner"))
        tomorrow = await client.get(f"{base}/statements/2031-05-08", headers=shop.auth("owner"))
        listed = await client.get(
            f"{base}/redemptions", params={"day": "2031-05-08"}, headers=shop.auth("owner")
        )

    assert utc_date.json()["provisional"] is False
    assert region_today.json()["provisional"] is True
    assert (tomorrow.status_code, tomorrow.json()["code"]) == (409, "statement_not_ready")
    assert "2031-05-07" in tomorrow.json()["detail"]
    assert "Asia/Shanghai" in tomorrow.json()["detail"]
    assert (listed.status_code, listed.json()["code"]) == (409, "statement_not_ready")
