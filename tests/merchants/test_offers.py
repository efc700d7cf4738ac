"""Offers: managed by the merchant's owner and managers, browsed by volunteers."""

from __future__ import annotations

from datetime import timedelta

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.core import clock
from app.core.pagination import encode_cursor
from app.merchants.models import MerchantCategory, MerchantStatus, Offer, OfferStatus
from tests.merchants.conftest import Shop, fetch_all, make_merchant, make_offer


async def test_the_owner_creates_and_changes_an_offer(
    client: httpx.AsyncClient, session: AsyncSession, shop: Shop
) -> None:
    url = f"/v1/merchants/{shop.merchant.id}/offers"
    created = await client.post(
        url,
        json={
            "title": "洗剪吹",
            "price": 30,
            "stock": 20,
            "limit_count": 1,
            "limit_period": "month",
            "valid_from": "2031-01-01",
            "valid_until": "2031-12-31",
            "min_star_level": 2,
        },
        headers=shop.auth("owner"),
    )
    assert created.status_code == 201, created.text
    offer = created.json()
    assert offer["status"] == "active"
    assert offer["limit_period"] == "month"

    changed = await client.patch(
        f"{url}/{offer['id']}",
        json={"price": 25, "stock": None, "limit_count": None, "limit_period": None},
        headers=shop.auth("station_admin_x"),
    )
    withdrawn = await client.patch(
        f"{url}/{offer['id']}", json={"status": "withdrawn"}, headers=shop.auth("owner")
    )

    assert changed.status_code == 200, changed.text
    assert (changed.json()["price"], changed.json()["stock"]) == (25, None)
    assert changed.json()["limit_count"] is None
    assert withdrawn.json()["status"] == "withdrawn"
    listed = await client.get(url, headers=shop.auth("cashier"))
    assert [o["status"] for o in listed.json()["items"]] == ["withdrawn"]


async def test_bad_offers_are_refused_with_their_codes(
    client: httpx.AsyncClient, session: AsyncSession, shop: Shop
) -> None:
    url = f"/v1/merchants/{shop.merchant.id}/offers"
    owner = shop.auth("owner")
    cases = [
        ({"title": "a", "price": 1, "limit_count": 2}, 422, "offer_limit_incomplete"),
        (
            {"title": "a", "price": 1, "valid_from": "2031-02-01", "valid_until": "2031-01-01"},
            422,
            "offer_dates_invalid",
        ),
        ({"title": "a", "price": 0}, 422, "validation_failed"),
        ({"title": "a", "price": 1, "stock": -1}, 422, "validation_failed"),
        ({"title": "a", "price": 1, "min_star_level": 6}, 422, "validation_failed"),
        (
            {"title": "a", "price": 1, "limit_period": "year", "limit_count": 1},
            422,
            "validation_failed",
        ),
    ]
    for body, status, code in cases:
        response = await client.post(url, json=body, headers=owner)
        assert (response.status_code, response.json()["code"]) == (status, code), body
    cashier = await client.post(url, json={"title": "a", "price": 1}, headers=shop.auth("cashier"))
    assert (cashier.status_code, cashier.json()["code"]) == (403, "merchant_owner_required")
    assert await fetch_all(session, select(Offer)) == []

    offer = await make_offer(session, shop.merchant)
    half_limit = await client.patch(
        f"{url}/{offer.id}", json={"limit_period": "day"}, headers=owner
    )
    missing = await client.patch(
        f"{url}/00000000-0000-0000-0000-000000000000", json={"price": 2}, headers=owner
    )
    assert (half_limit.status_code, half_limit.json()["code"]) == (422, "offer_limit_incomplete")
    assert (missing.status_code, missing.json()["code"]) == (404, "offer_not_found")


async def test_volunteers_browse_only_what_they_can_redeem_today(
    client: httpx.AsyncClient, session: AsyncSession, shop: Shop
) -> None:
    today = clock.today_in("Asia/Shanghai")
    visible = await make_offer(session, shop.merchant, title="可兑换")
    await make_offer(session, shop.merchant, title="下架", status=OfferStatus.withdrawn)
    await make_offer(session, shop.merchant, title="售罄", stock=0)
    await make_offer(session, shop.merchant, title="未开始", valid_from=today + timedelta(days=1))
    await make_offer(session, shop.merchant, title="已结束", valid_until=today - timedelta(days=1))
    pending = await make_merchant(session, shop.world, status=MerchantStatus.pending)
    await make_offer(session, pending, title="待开业")
    foreign = await make_merchant(session, shop.world, region_id=shop.world.other_region.id)
    await make_offer(session, foreign, title="外区")

    response = await client.get("/v1/offers", headers=shop.auth("volunteer_a"))

    assert response.status_code == 200, response.text
    assert [o["title"] for o in response.json()["items"]] == ["可兑换"]
    item = response.json()["items"][0]
    assert item["id"] == str(visible.id)
    assert item["merchant"]["name"] == shop.merchant.name
    assert item["distance_m"] is None
    assert "contact_phone" not in item["merchant"]


async def test_offers_are_browsed_by_category_and_nearest_first_with_cursors(
    client: httpx.AsyncClient, session: AsyncSession, shop: Shop
) -> None:
    # Merchants due north of the volunteer at about 1, 2, 3 and 4 km; the shop is elsewhere.
    for km in (3, 1, 4, 2):
        merchant = await make_merchant(
            session,
            shop.world,
            name=f"{km}km",
            latitude=31.0 + km / 111.195,
            longitude=120.5,
            category=MerchantCategory.grocery,
        )
        await make_offer(session, merchant, title=f"{km}km")
    await make_offer(session, shop.merchant, title="面馆")
    headers = shop.auth("volunteer_a")
    near = {"latitude": 31.0, "longitude": 120.5, "category": "grocery", "limit": 3}

    first = await client.get("/v1/offers", params=near, headers=headers)
    second = await client.get(
        "/v1/offers", params={**near, "cursor": first.json()["next_cursor"]}, headers=headers
    )
    food = await client.get("/v1/offers", params={"category": "food"}, headers=headers)
    half = await client.get("/v1/offers", params={"latitude": 31.0}, headers=headers)
    bad_cursor = await client.get("/v1/offers", params={"cursor": "x"}, headers=headers)

    assert [o["title"] for o in first.json()["items"]] == ["1km", "2km", "3km"]
    assert [o["distance_m"] for o in first.json()["items"]] == [1000, 2000, 3000]
    assert [o["title"] for o in second.json()["items"]] == ["4km"]
    assert second.json()["next_cursor"] is None
    assert [o["title"] for o in food.json()["items"]] == ["面馆"]
    assert (half.status_code, half.json()["code"]) == (422, "location_incomplete")
    assert (bad_cursor.status_code, bad_cursor.json()["code"]) == (400, "invalid_cursor")


async def test_newest_offers_come_first_without_a_position(
    client: httpx.AsyncClient, session: AsyncSession, shop: Shop
) -> None:
    for n in range(3):
        with clock.travel(clock.now() + timedelta(seconds=n)):
            await make_offer(session, shop.merchant, title=f"offer-{n}")
    headers = shop.auth("volunteer_a")

    first = await client.get("/v1/offers", params={"limit": 2}, headers=headers)
    second = await client.get(
        "/v1/offers", params={"limit": 2, "cursor": first.json()["next_cursor"]}, headers=headers
    )

    assert [o["title"] for o in first.json()["items"]] == ["offer-2", "offer-1"]
    assert [o["title"] for o in second.json()["items"]] == ["offer-0"]


async def test_only_volunteers_browse(client: httpx.AsyncClient, shop: Shop) -> None:
    response = await client.get("/v1/offers", headers=shop.auth("owner"))

    assert (response.status_code, response.json()["code"]) == (403, "forbidden")


async def test_a_malformed_cursor_is_refused_on_every_merchant_list(
    client: httpx.AsyncClient, shop: Shop, subtests: pytest.Subtests
) -> None:
    near = {"latitude": 31.0, "longitude": 120.5}
    lists = [
        ("/v1/merchants", {}, "center_admin"),
        (f"/v1/merchants/{shop.merchant.id}/offers", {}, "owner"),
        ("/v1/offers", {}, "volunteer_a"),
        ("/v1/offers", near, "volunteer_a"),
    ]
    cursors = [
        encode_cursor("yesterday", "00000000-0000-0000-0000-000000000000"),
        encode_cursor("2026-01-01T00:00:00+00:00", "not-a-uuid"),
        encode_cursor("2026-01-01T00:00:00", "00000000-0000-0000-0000-000000000000"),
        encode_cursor(None, "00000000-0000-0000-0000-000000000000"),
        encode_cursor(12.5, "not-a-uuid"),
    ]
    for url, params, who in lists:
        for cursor in cursors:
            with subtests.test(url=url, near=bool(params), cursor=cursor):
                response = await client.get(
                    url, params={**params, "cursor": cursor}, headers=shop.auth(who)
                )
                assert (response.status_code, response.json()["code"]) == (400, "invalid_cursor")
