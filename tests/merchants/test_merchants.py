"""Onboarding merchants: who may, paired stations, status, merchant staff, the policy."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest
from sqlalchemy import select, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncSession

from app.identity.models import StaffKind, StaffUser
from app.merchants.models import Merchant, MerchantMember, MerchantStation, MerchantStatus
from tests.merchants.conftest import Shop, fetch_all, fetch_one, make_merchant

NEW = {
    "name": "文明理发店",
    "address": "松陵镇中山路8号",
    "latitude": 31.161,
    "longitude": 120.641,
    "category": "personal_care",
    "contact_name": "王师傅",
    "contact_phone": "13900000000",
}


async def test_a_center_admin_onboards_a_merchant_as_pending(
    client: httpx.AsyncClient, session: AsyncSession, shop: Shop
) -> None:
    response = await client.post(
        "/v1/merchants",
        json={**NEW, "station_ids": [str(shop.world.station_y.id)]},
        headers=shop.auth("center_admin"),
    )

    assert response.status_code == 201, response.text
    body = response.json()
    assert body["status"] == "pending"
    assert body["station_ids"] == [str(shop.world.station_y.id)]
    assert body["region_id"] == str(shop.world.region.id)
    row = await fetch_one(session, select(Merchant).where(Merchant.id == uuid.UUID(body["id"])))
    assert row.created_by_id == shop.world.center_admin.id


async def test_a_station_admin_onboards_only_with_their_own_stations(
    client: httpx.AsyncClient, session: AsyncSession, shop: Shop
) -> None:
    headers = shop.auth("station_admin_x")
    own = await client.post(
        "/v1/merchants",
        json={**NEW, "station_ids": [str(shop.world.station_x.id)]},
        headers=headers,
    )
    foreign = await client.post(
        "/v1/merchants",
        json={**NEW, "station_ids": [str(shop.world.station_y.id)]},
        headers=headers,
    )
    none = await client.post("/v1/merchants", json=NEW, headers=headers)
    not_a_station = await client.post(
        "/v1/merchants", json={**NEW, "station_ids": [str(shop.world.point_x.id)]}, headers=headers
    )
    organizer = await client.post(
        "/v1/merchants",
        json={**NEW, "station_ids": [str(shop.world.station_x.id)]},
        headers=shop.auth("organizer_x"),
    )
    merchant_staff = await client.post("/v1/merchants", json=NEW, headers=shop.auth("owner"))

    assert own.status_code == 201, own.text
    assert (foreign.status_code, foreign.json()["code"]) == (403, "not_merchant_manager")
    assert (none.status_code, none.json()["code"]) == (403, "not_merchant_manager")
    assert (not_a_station.status_code, not_a_station.json()["code"]) == (
        422,
        "merchant_station_invalid",
    )
    assert (organizer.status_code, organizer.json()["code"]) == (403, "not_merchant_manager")
    assert (merchant_staff.status_code, merchant_staff.json()["code"]) == (403, "forbidden")
    assert len(await fetch_all(session, select(Merchant))) == 2  # the shop and `own`


async def test_bad_merchant_bodies_are_refused_and_create_nothing(
    client: httpx.AsyncClient, session: AsyncSession, shop: Shop
) -> None:
    headers = shop.auth("center_admin")
    bodies: list[Any] = [
        {**NEW, "latitude": 91},
        {**NEW, "category": "casino"},
        {**NEW, "name": ""},
        {**NEW, "name": "x" * 101},
        {**NEW, "unexpected": True},
        {**NEW, "contact_phone": "call me"},
        {k: v for k, v in NEW.items() if k != "address"},
    ]
    for body in bodies:
        response = await client.post("/v1/merchants", json=body, headers=headers)
        assert (response.status_code, response.json()["code"]) == (422, "validation_failed"), body
    malformed = await client.post(
        "/v1/merchants",
        content=b"{not json",
        headers={**headers, "Content-Type": "application/json"},
    )
    assert (malformed.status_code, malformed.json()["code"]) == (400, "malformed_body")
    assert len(await fetch_all(session, select(Merchant))) == 1


async def test_status_goes_pending_active_suspended_and_back(
    client: httpx.AsyncClient, session: AsyncSession, shop: Shop
) -> None:
    merchant = await make_merchant(
        session, shop.world, station=shop.world.station_x, status=MerchantStatus.pending
    )
    url = f"/v1/merchants/{merchant.id}/status"
    headers = shop.auth("station_admin_x")

    steps = [
        ("active", 200, "active"),
        ("pending", 409, "merchant_status_transition_invalid"),
        ("suspended", 200, "suspended"),
        ("active", 200, "active"),
    ]
    for wanted, status, outcome in steps:
        response = await client.post(url, json={"status": wanted}, headers=headers)
        assert response.status_code == status, response.text
        assert outcome in (response.json().get("status"), response.json().get("code"))
    unmanaged = await client.post(
        url, json={"status": "suspended"}, headers=shop.auth("organizer_y")
    )
    other_region = await client.post(
        url, json={"status": "suspended"}, headers=shop.auth("other_admin")
    )
    assert (unmanaged.status_code, unmanaged.json()["code"]) == (403, "not_merchant_manager")
    assert (other_region.status_code, other_region.json()["code"]) == (404, "merchant_not_found")
    row = await fetch_one(session, select(Merchant).where(Merchant.id == merchant.id))
    assert row.status == MerchantStatus.active


async def test_managers_update_details_and_paired_stations(
    client: httpx.AsyncClient, session: AsyncSession, shop: Shop
) -> None:
    url = f"/v1/merchants/{shop.merchant.id}"
    by_station_admin = await client.patch(
        url,
        json={"name": "新名字", "station_ids": [str(shop.world.station_y.id)]},
        headers=shop.auth("station_admin_x"),
    )
    by_center = await client.patch(
        url,
        json={
            "name": "新名字",
            "station_ids": [str(shop.world.station_y.id)],
            "pairing_reason": "迁至Y站",
        },
        headers=shop.auth("center_admin"),
    )

    assert (by_station_admin.status_code, by_station_admin.json()["code"]) == (
        403,
        "not_merchant_manager",
    )
    assert by_center.status_code == 200, by_center.text
    assert by_center.json()["name"] == "新名字"
    assert by_center.json()["station_ids"] == [str(shop.world.station_y.id)]
    # The pairing with station X ended and is kept: who ended it, when and why.
    ended, live = await _pairings(session, shop)
    assert [(s.org_unit_id, s.revoked_by, s.revoked_reason) for s in ended] == [
        (shop.world.station_x.id, shop.world.center_admin.id, "迁至Y站")
    ]
    assert ended[0].revoked_at is not None
    assert [s.org_unit_id for s in live] == [shop.world.station_y.id]
    # Station X's admin no longer reaches it.
    lost = await client.get(url, headers=shop.auth("station_admin_x"))
    assert (lost.status_code, lost.json()["code"]) == (403, "not_merchant_manager")


async def _pairings(
    session: AsyncSession, shop: Shop
) -> tuple[list[MerchantStation], list[MerchantStation]]:
    """The merchant's ended pairings and its live ones, oldest first."""
    rows = await fetch_all(
        session,
        select(MerchantStation)
        .where(MerchantStation.merchant_id == shop.merchant.id)
        .order_by(MerchantStation.created_at, MerchantStation.id),
    )
    return [s for s in rows if s.revoked_at], [s for s in rows if not s.revoked_at]


async def test_pairing_a_station_again_keeps_the_history(
    client: httpx.AsyncClient, session: AsyncSession, shop: Shop
) -> None:
    url = f"/v1/merchants/{shop.merchant.id}"
    x, y = str(shop.world.station_x.id), str(shop.world.station_y.id)
    admin = shop.auth("center_admin")

    for stations in ([y], [x, y], [x]):
        response = await client.patch(url, json={"station_ids": stations}, headers=admin)
        assert response.status_code == 200, response.text
        assert response.json()["station_ids"] == sorted(stations)

    ended, live = await _pairings(session, shop)
    # X, ended; X again; Y, ended: three pairings, the last X live.
    assert [s.org_unit_id for s in ended] == [shop.world.station_x.id, shop.world.station_y.id]
    assert [s.revoked_reason for s in ended] == [None, None]
    assert [s.org_unit_id for s in live] == [shop.world.station_x.id]
    back = await client.get(url, headers=shop.auth("station_admin_x"))
    assert back.status_code == 200


@pytest.mark.database_owner
async def test_the_database_refuses_to_delete_or_revive_a_pairing(
    client: httpx.AsyncClient, app: Any, session: AsyncSession, shop: Shop
) -> None:
    response = await client.patch(
        f"/v1/merchants/{shop.merchant.id}",
        json={"station_ids": [str(shop.world.station_y.id)], "pairing_reason": "迁站"},
        headers=shop.auth("center_admin"),
    )
    assert response.status_code == 200, response.text

    for sql in (
        "DELETE FROM merchant_stations",
        "UPDATE merchant_stations SET revoked_at = NULL",
        "UPDATE merchant_stations SET revoked_reason = 'rewritten'",
        "UPDATE merchant_stations SET org_unit_id = region_id",
    ):
        with pytest.raises(DBAPIError, match="rows are kept as written"):
            async with app.state.db.sessions() as s, s.begin():
                await s.execute(text(sql))

    ended, live = await _pairings(session, shop)
    assert [(s.org_unit_id, s.revoked_reason) for s in ended] == [(shop.world.station_x.id, "迁站")]
    assert [s.org_unit_id for s in live] == [shop.world.station_y.id]


async def test_a_pairing_reason_is_bounded(
    client: httpx.AsyncClient, session: AsyncSession, shop: Shop
) -> None:
    url = f"/v1/merchants/{shop.merchant.id}"
    for reason in ("", "x" * 501, "a\x00"):
        response = await client.patch(
            url,
            json={"station_ids": [str(shop.world.station_y.id)], "pairing_reason": reason},
            headers=shop.auth("center_admin"),
        )
        assert (response.status_code, response.json()["code"]) == (422, "validation_failed")
    ended, live = await _pairings(session, shop)
    assert (ended, [s.org_unit_id for s in live]) == ([], [shop.world.station_x.id])


async def test_who_sees_which_merchants(
    client: httpx.AsyncClient, session: AsyncSession, shop: Shop
) -> None:
    in_y = await make_merchant(session, shop.world, station=shop.world.station_y, name="Y店")
    await make_merchant(session, shop.world, region_id=shop.world.other_region.id, name="外区")

    def names(response: httpx.Response) -> list[str]:
        assert response.status_code == 200, response.text
        return sorted(m["name"] for m in response.json()["items"])

    center = await client.get("/v1/merchants", headers=shop.auth("center_admin"))
    institute = await client.get("/v1/merchants", headers=shop.auth("institute_admin_x"))
    owner = await client.get("/v1/merchants", headers=shop.auth("owner"))
    pending = await client.get("/v1/merchants?status=pending", headers=shop.auth("center_admin"))
    page = await client.get("/v1/merchants?limit=1", headers=shop.auth("center_admin"))

    assert names(center) == sorted([shop.merchant.name, in_y.name])
    assert names(institute) == [shop.merchant.name]
    assert names(owner) == [shop.merchant.name]
    assert names(pending) == []
    assert len(page.json()["items"]) == 1
    rest = await client.get(
        f"/v1/merchants?limit=1&cursor={page.json()['next_cursor']}",
        headers=shop.auth("center_admin"),
    )
    assert names(rest) != names(page)
    assert rest.json()["next_cursor"] is None
    forbidden = await client.get(f"/v1/merchants/{in_y.id}", headers=shop.auth("owner"))
    assert (forbidden.status_code, forbidden.json()["code"]) == (403, "not_merchant_member")


async def test_merchant_staff_are_created_and_log_in_as_merchant_staff(
    client: httpx.AsyncClient, session: AsyncSession, shop: Shop
) -> None:
    url = f"/v1/merchants/{shop.merchant.id}/staff"
    owner = await client.post(
        url,
        json={
            "username": "shop-owner-2",
            "display_name": "二老板",
            "password": "a long enough password",
            "role": "merchant_owner",
        },
        headers=shop.auth("station_admin_x"),
    )
    cashier = await client.post(
        url,
        json={
            "username": "cashier-2",
            "display_name": "收银员",
            "password": "a long enough password",
            "role": "cashier",
        },
        headers=shop.auth("owner"),
    )
    owner_by_owner = await client.post(
        url,
        json={
            "username": "owner-3",
            "display_name": "三老板",
            "password": "a long enough password",
            "role": "merchant_owner",
        },
        headers=shop.auth("owner"),
    )
    taken = await client.post(
        url,
        json={
            "username": "cashier-2",
            "display_name": "重名",
            "password": "a long enough password",
            "role": "cashier",
        },
        headers=shop.auth("owner"),
    )
    by_cashier = await client.get(url, headers=shop.auth("cashier"))

    assert owner.status_code == 201, owner.text
    assert cashier.status_code == 201, cashier.text
    assert cashier.json()["role"] == "cashier"
    assert "password" not in cashier.text
    assert (owner_by_owner.status_code, owner_by_owner.json()["code"]) == (
        403,
        "not_merchant_manager",
    )
    assert (taken.status_code, taken.json()["code"]) == (409, "merchant_username_taken")
    assert (by_cashier.status_code, by_cashier.json()["code"]) == (403, "merchant_owner_required")
    listed = await client.get(url, headers=shop.auth("owner"))
    assert sorted(s["username"] for s in listed.json()) == sorted(
        [shop.owner.username, shop.cashier.username, "shop-owner-2", "cashier-2"]
    )
    user = await fetch_one(session, select(StaffUser).where(StaffUser.username == "cashier-2"))
    assert user.kind == StaffKind.merchant
    assert len(await fetch_all(session, select(MerchantMember))) == 4

    login = await client.post(
        "/v1/auth/login", json={"username": "cashier-2", "password": "a long enough password"}
    )
    assert login.status_code == 200, login.text
    token = login.json()["access_token"]
    mine = await client.get(
        f"/v1/merchants/{shop.merchant.id}", headers={"Authorization": f"Bearer {token}"}
    )
    assert mine.status_code == 200
    assert mine.json()["name"] == shop.merchant.name


async def test_the_region_sets_the_refund_window(client: httpx.AsyncClient, shop: Shop) -> None:
    url = f"/v1/regions/{shop.world.region.id}/merchant-policy"

    default = await client.get(url, headers=shop.auth("station_admin_x"))
    by_station = await client.put(
        url, json={"refund_window_days": 3}, headers=shop.auth("station_admin_x")
    )
    by_center = await client.put(
        url, json={"refund_window_days": 3}, headers=shop.auth("center_admin")
    )
    out_of_range = await client.put(
        url, json={"refund_window_days": 91}, headers=shop.auth("center_admin")
    )
    other_region = await client.get(url, headers=shop.auth("other_admin"))
    after = await client.get(url, headers=shop.auth("center_admin"))

    assert default.json() == {
        "region_id": str(shop.world.region.id),
        "refund_window_days": 7,
        "is_default": True,
    }
    assert (by_station.status_code, by_station.json()["code"]) == (403, "center_admin_required")
    assert by_center.status_code == 200
    assert (out_of_range.status_code, out_of_range.json()["code"]) == (422, "validation_failed")
    assert (other_region.status_code, other_region.json()["code"]) == (404, "not_found")
    assert after.json()["refund_window_days"] == 3
    assert after.json()["is_default"] is False
