"""A merchant sees its business: the redemptions list by region day, terminal and outcome,
and its terminals page by page."""

from __future__ import annotations

from datetime import UTC, datetime

import httpx
from sqlalchemy.ext.asyncio import AsyncSession

from app.core import clock
from tests.merchants.conftest import Shop, TerminalClient, fund, make_terminal

# 6 May 2031 in Shanghai: 23:30 is 15:30 UTC; 00:30 on 7 May is 16:30 UTC on 6 May.
LATE_ON_6 = datetime(2031, 5, 6, 15, 30, tzinfo=UTC)
EARLY_ON_7 = datetime(2031, 5, 6, 16, 30, tzinfo=UTC)
LATER_ON_7 = datetime(2031, 5, 7, 3, 0, tzinfo=UTC)


async def test_a_merchant_lists_its_redemptions_by_region_day_terminal_and_outcome(
    client: httpx.AsyncClient, session: AsyncSession, shop: Shop
) -> None:
    second, signer = await make_terminal(session, shop.merchant)
    counter_2 = TerminalClient(client, signer)
    with clock.travel(LATE_ON_6):
        await fund(session, shop.world.volunteer_a, 100)
        first = await shop.client.redeem(await shop.code(client), request_no="D6-1", amount=10)
    with clock.travel(EARLY_ON_7):
        at_two = await counter_2.redeem(await shop.code(client), request_no="D7-1", amount=20)
        refused = await shop.client.redeem(
            await shop.code(client), request_no="D7-2", amount=1_000_000
        )
    with clock.travel(LATER_ON_7):
        last = await shop.client.redeem(await shop.code(client), request_no="D7-3", amount=5)
        url = f"/v1/merchants/{shop.merchant.id}/redemptions"
        everything = await client.get(url, headers=shop.auth("owner"))
        on_7 = await client.get(url, params={"day": "2031-05-07"}, headers=shop.auth("cashier"))
        on_6 = await client.get(url, params={"day": "2031-05-06"}, headers=shop.auth("owner"))
        by_terminal = await client.get(
            url, params={"terminal_id": str(second.id)}, headers=shop.auth("station_admin_x")
        )
        refusals = await client.get(url, params={"status": "refused"}, headers=shop.auth("owner"))
        page_1 = await client.get(url, params={"limit": 2}, headers=shop.auth("owner"))
        page_2 = await client.get(
            url,
            params={"limit": 2, "cursor": page_1.json()["next_cursor"]},
            headers=shop.auth("owner"),
        )
        stranger = await client.get(url, headers=shop.auth("other_admin"))
        volunteer = await client.get(url, headers=shop.auth("volunteer_a"))
        bad_cursor = await client.get(url, params={"cursor": "x"}, headers=shop.auth("owner"))

    assert first.status_code == at_two.status_code == last.status_code == 201
    assert refused.status_code == 409
    newest_first = ["D7-3", "D7-2", "D7-1", "D6-1"]
    assert [r["request_no"] for r in everything.json()["items"]] == newest_first
    # The region's 7 May began at 16:00 UTC on the 6th.
    assert [r["request_no"] for r in on_7.json()["items"]] == ["D7-3", "D7-2", "D7-1"]
    assert [r["request_no"] for r in on_6.json()["items"]] == ["D6-1"]
    assert [r["request_no"] for r in by_terminal.json()["items"]] == ["D7-1"]
    listed_refusal = refusals.json()["items"]
    assert [r["request_no"] for r in listed_refusal] == ["D7-2"]
    assert listed_refusal[0]["refusal"]["code"] == "insufficient_balance"
    # Nobody's balance is in the list: the refusal names no amount available.
    assert "available" not in listed_refusal[0]["refusal"]["detail"]
    assert "75" not in listed_refusal[0]["refusal"]["detail"]
    assert [r["request_no"] for r in page_1.json()["items"]] == newest_first[:2]
    assert [r["request_no"] for r in page_2.json()["items"]] == newest_first[2:]
    assert page_2.json()["next_cursor"] is None
    assert (stranger.status_code, stranger.json()["code"]) == (404, "merchant_not_found")
    assert volunteer.status_code == 403
    assert (bad_cursor.status_code, bad_cursor.json()["code"]) == (400, "invalid_cursor")


async def test_a_merchants_terminals_are_listed_page_by_page(
    client: httpx.AsyncClient, session: AsyncSession, shop: Shop
) -> None:
    for _ in range(2):
        await make_terminal(session, shop.merchant)
    url = f"/v1/merchants/{shop.merchant.id}/terminals"

    page_1 = await client.get(url, params={"limit": 2}, headers=shop.auth("owner"))
    page_2 = await client.get(
        url, params={"limit": 2, "cursor": page_1.json()["next_cursor"]}, headers=shop.auth("owner")
    )

    assert page_1.status_code == 200, page_1.text
    ids = [t["id"] for t in page_1.json()["items"] + page_2.json()["items"]]
    assert len(ids) == len(set(ids)) == 3
    assert ids[0] == str(shop.terminal.id)
    assert page_2.json()["next_cursor"] is None
