"""Disabling, resetting and removing merchant staff: each ends the account's logins at once."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.identity.models import RefreshToken, StaffUser
from app.merchants.models import MerchantMember, MerchantRole
from tests.builders import PASSWORD
from tests.merchants.conftest import Shop, fetch_all, fetch_one, make_member, make_merchant

LOGIN = "/v1/auth/login"
REFRESH = "/v1/auth/refresh"
NEW_PASSWORD = "a brand new password"


def staff_url(shop: Shop, staff_id: Any) -> str:
    return f"/v1/merchants/{shop.merchant.id}/staff/{staff_id}"


async def logged_in(client: httpx.AsyncClient, user: StaffUser) -> dict[str, Any]:
    response = await client.post(LOGIN, json={"username": user.username, "password": PASSWORD})
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def offers_with(client: httpx.AsyncClient, shop: Shop, access_token: str) -> httpx.Response:
    return await client.get(
        f"/v1/merchants/{shop.merchant.id}/offers",
        headers={"Authorization": f"Bearer {access_token}"},
    )


async def live_refresh_tokens(session: AsyncSession, user: StaffUser) -> int:
    rows = await fetch_all(
        session,
        select(RefreshToken.id).where(
            RefreshToken.subject_id == user.id, RefreshToken.revoked_at.is_(None)
        ),
    )
    return len(rows)


def assert_problem(response: httpx.Response, status: int, code: str) -> None:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["code"] == code


async def test_the_owner_disables_a_cashier_whose_logins_end_at_once(
    client: httpx.AsyncClient, session: AsyncSession, shop: Shop
) -> None:
    tokens = await logged_in(client, shop.cashier)
    assert (await offers_with(client, shop, tokens["access_token"])).status_code == 200

    response = await client.patch(
        staff_url(shop, shop.cashier.id), json={"is_active": False}, headers=shop.auth("owner")
    )

    assert response.status_code == 200, response.text
    assert response.json()["is_active"] is False
    assert_problem(await offers_with(client, shop, tokens["access_token"]), 401, "token_invalid")
    refresh = await client.post(REFRESH, json={"refresh_token": tokens["refresh_token"]})
    assert_problem(refresh, 401, "refresh_token_revoked")
    assert await live_refresh_tokens(session, shop.cashier) == 0
    again = await client.post(LOGIN, json={"username": shop.cashier.username, "password": PASSWORD})
    assert_problem(again, 401, "invalid_credentials")

    enabled = await client.patch(
        staff_url(shop, shop.cashier.id), json={"is_active": True}, headers=shop.auth("owner")
    )
    assert enabled.json()["is_active"] is True
    await logged_in(client, shop.cashier)


async def test_a_password_reset_ends_the_old_logins_and_the_old_password(
    client: httpx.AsyncClient, session: AsyncSession, shop: Shop
) -> None:
    tokens = await logged_in(client, shop.cashier)

    response = await client.patch(
        staff_url(shop, shop.cashier.id),
        json={"password": NEW_PASSWORD},
        headers=shop.auth("center_admin"),
    )

    assert response.status_code == 200, response.text
    assert "password" not in response.json()
    assert_problem(await offers_with(client, shop, tokens["access_token"]), 401, "token_invalid")
    refresh = await client.post(REFRESH, json={"refresh_token": tokens["refresh_token"]})
    assert_problem(refresh, 401, "refresh_token_revoked")
    old = await client.post(LOGIN, json={"username": shop.cashier.username, "password": PASSWORD})
    assert_problem(old, 401, "invalid_credentials")
    new = await client.post(
        LOGIN, json={"username": shop.cashier.username, "password": NEW_PASSWORD}
    )
    assert new.status_code == 200, new.text


async def test_a_removed_cashier_is_gone_for_good_but_its_account_is_kept(
    client: httpx.AsyncClient, session: AsyncSession, shop: Shop
) -> None:
    tokens = await logged_in(client, shop.cashier)

    response = await client.delete(staff_url(shop, shop.cashier.id), headers=shop.auth("owner"))

    assert response.status_code == 204, response.text
    assert_problem(await offers_with(client, shop, tokens["access_token"]), 401, "token_invalid")
    listed = await client.get(f"/v1/merchants/{shop.merchant.id}/staff", headers=shop.auth("owner"))
    assert [s["id"] for s in listed.json()] == [str(shop.owner.id)]
    member = await fetch_one(
        session, select(MerchantMember).where(MerchantMember.staff_user_id == shop.cashier.id)
    )
    assert member.removed_at is not None
    assert member.removed_by_id == shop.owner.id
    user = await fetch_one(session, select(StaffUser).where(StaffUser.id == shop.cashier.id))
    assert user.is_active is False

    # Removed is removed: neither re-enabled nor removed twice.
    for again in (
        await client.patch(
            staff_url(shop, shop.cashier.id), json={"is_active": True}, headers=shop.auth("owner")
        ),
        await client.delete(staff_url(shop, shop.cashier.id), headers=shop.auth("owner")),
    ):
        assert_problem(again, 404, "merchant_staff_not_found")
    # The username stays taken: what the account did stays attributed to it.
    taken = await client.post(
        f"/v1/merchants/{shop.merchant.id}/staff",
        json={
            "username": shop.cashier.username,
            "display_name": "新收银员",
            "password": NEW_PASSWORD,
            "role": "cashier",
        },
        headers=shop.auth("owner"),
    )
    assert_problem(taken, 409, "merchant_username_taken")


async def test_the_owner_manages_cashiers_only_and_a_cashier_manages_nobody(
    client: httpx.AsyncClient, session: AsyncSession, shop: Shop
) -> None:
    other_owner = await make_member(session, shop.world, shop.merchant, MerchantRole.merchant_owner)
    for target in (shop.owner, other_owner):
        refused = await client.patch(
            staff_url(shop, target.id), json={"is_active": False}, headers=shop.auth("owner")
        )
        assert_problem(refused, 403, "not_merchant_manager")
    by_cashier = await client.delete(staff_url(shop, shop.owner.id), headers=shop.auth("cashier"))
    assert_problem(by_cashier, 403, "merchant_owner_required")

    # The merchant's managers manage its owners.
    response = await client.patch(
        staff_url(shop, other_owner.id),
        json={"is_active": False},
        headers=shop.auth("center_admin"),
    )
    assert response.status_code == 200, response.text
    users = await fetch_all(session, select(StaffUser.id).where(StaffUser.is_active.is_(False)))
    assert users == [other_owner.id]


async def test_another_merchants_staff_and_unknown_ids_are_not_found(
    client: httpx.AsyncClient, session: AsyncSession, shop: Shop
) -> None:
    other = await make_merchant(session, shop.world, station=shop.world.station_x, name="文明书店")
    elsewhere = await make_member(session, shop.world, other, MerchantRole.cashier)

    for staff_id in (elsewhere.id, uuid.uuid4()):
        for response in (
            await client.patch(
                staff_url(shop, staff_id), json={"is_active": False}, headers=shop.auth("owner")
            ),
            await client.delete(staff_url(shop, staff_id), headers=shop.auth("center_admin")),
        ):
            assert_problem(response, 404, "merchant_staff_not_found")
    user = await fetch_one(session, select(StaffUser).where(StaffUser.id == elsewhere.id))
    assert user.is_active is True


async def test_a_bad_body_is_refused_and_changes_nothing(
    client: httpx.AsyncClient, session: AsyncSession, shop: Shop
) -> None:
    for body in ({"password": "short"}, {"is_active": "maybe"}, {"role": "merchant_owner"}):
        response = await client.patch(
            staff_url(shop, shop.cashier.id), json=body, headers=shop.auth("owner")
        )
        assert_problem(response, 422, "validation_failed")
    await logged_in(client, shop.cashier)
