"""Every POST that creates something takes an Idempotency-Key: a retry with the key
replays the first answer and creates nothing; the key with another body is refused;
without a key, each request creates (the header is optional on these routes)."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.activities.models import Activity, Project, Signup
from app.core import clock
from app.identity.models import StaffUser
from app.merchants.models import Merchant, Offer, RedemptionCode, Terminal
from app.orgs.models import OrgUnit, StaffGrant, Team
from tests.activities.support import make_activity
from tests.merchants.conftest import Shop, fetch_one

Body = Callable[[Shop, str], dict[str, Any]]


def _activity(shop: Shop, name: str) -> dict[str, Any]:
    starts = clock.now().replace(microsecond=0) + timedelta(days=7)
    return {
        "org_unit_id": str(shop.world.station_x.id),
        "title": name,
        "category": "environment",
        "starts_at": starts.isoformat(),
        "ends_at": (starts + timedelta(hours=2)).isoformat(),
        "latitude": 31.16,
        "longitude": 120.64,
        "address": "松陵街道",
        "capacity": 20,
    }


def _unit(shop: Shop, name: str) -> dict[str, Any]:
    return {"parent_id": str(shop.world.station_x.id), "kind": "point", "name": name}


def _team(shop: Shop, name: str) -> dict[str, Any]:
    return {"org_unit_id": str(shop.world.station_x.id), "name": name, "category": "culture"}


def _staff(shop: Shop, name: str) -> dict[str, Any]:
    return {
        "username": f"u-{uuid.uuid5(uuid.NAMESPACE_OID, name).hex[:10]}",
        "display_name": name,
        "password": "a long enough password",
        "grants": [{"org_unit_id": str(shop.world.station_x.id), "role": "organizer"}],
    }


def _project(shop: Shop, name: str) -> dict[str, Any]:
    return {"org_unit_id": str(shop.world.station_x.id), "title": name, "category": "environment"}


def _merchant(shop: Shop, name: str) -> dict[str, Any]:
    return {
        "name": name,
        "address": "松陵镇1号",
        "latitude": 31.16,
        "longitude": 120.64,
        "category": "food",
        "station_ids": [str(shop.world.station_x.id)],
    }


def _offer(shop: Shop, name: str) -> dict[str, Any]:
    return {"title": name, "price": 10}


def _terminal(shop: Shop, name: str) -> dict[str, Any]:
    return {"name": name}


CASES: list[tuple[str, str, Body, type[Any], str]] = [
    ("/v1/org-units", "center_admin", _unit, OrgUnit, "name"),
    ("/v1/teams", "center_admin", _team, Team, "name"),
    ("/v1/staff", "center_admin", _staff, StaffUser, "display_name"),
    ("/v1/projects", "organizer_x", _project, Project, "title"),
    ("/v1/activities", "organizer_x", _activity, Activity, "title"),
    ("/v1/merchants", "center_admin", _merchant, Merchant, "name"),
    ("/v1/merchants/{merchant}/offers", "owner", _offer, Offer, "title"),
    ("/v1/merchants/{merchant}/terminals", "owner", _terminal, Terminal, "name"),
]


@pytest.mark.parametrize(("path", "who", "body", "model", "field"), CASES)
async def test_a_keyed_creation_happens_once_and_replays(
    client: httpx.AsyncClient,
    session: AsyncSession,
    shop: Shop,
    path: str,
    who: str,
    body: Body,
    model: type[Any],
    field: str,
) -> None:
    url = path.format(merchant=shop.merchant.id)
    key = {**shop.auth(who), "Idempotency-Key": f"create-{uuid.uuid4().hex}"}

    # One body for both: an activity's times are made from the clock, which may tick
    # past a second between two calls.
    sent = body(shop, "第一")
    first = await client.post(url, json=sent, headers=key)
    retry = await client.post(url, json=sent, headers=key)
    other_body = await client.post(url, json=body(shop, "第二"), headers=key)
    unkeyed = [await client.post(url, json=body(shop, n), headers=shop.auth(who)) for n in "甲乙"]

    assert first.status_code == 201, first.text
    assert retry.status_code == 201
    assert retry.headers["idempotent-replayed"] == "true"
    if "private_key" in first.json():
        # Shown once and never stored: the replay names the terminal, without the key.
        assert first.json()["private_key"]
        assert retry.json() == {**first.json(), "private_key": None}
    else:
        assert retry.json() == first.json()
    assert (other_body.status_code, other_body.json()["code"]) == (422, "idempotency_key_reused")
    assert [r.status_code for r in unkeyed] == [201, 201]
    column = getattr(model, field)
    made = await fetch_one(
        session, select(func.count()).select_from(model).where(column.in_(["第一", "第二"]))
    )
    assert made == 1


async def test_a_keyed_sign_up_grant_and_code_replay_their_first_answer(
    client: httpx.AsyncClient, session: AsyncSession, shop: Shop
) -> None:
    world = shop.world
    activity = await make_activity(session, world.station_x, world.organizer_x)
    signup_url = f"/v1/activities/{activity.id}/signups"
    volunteer_key = {**shop.auth("volunteer_a"), "Idempotency-Key": "signup-1"}

    signed = await client.post(signup_url, headers=volunteer_key)
    signed_again = await client.post(signup_url, headers=volunteer_key)
    unkeyed_twice = await client.post(signup_url, headers=shop.auth("volunteer_a"))

    code_key = {**shop.auth("volunteer_a"), "Idempotency-Key": "code-1"}
    code = await client.post("/v1/me/redemption-codes", headers=code_key)
    code_again = await client.post("/v1/me/redemption-codes", headers=code_key)

    created = await client.post(
        "/v1/staff", json=_staff(shop, "被授权者"), headers=shop.auth("center_admin")
    )
    grant_url = f"/v1/staff/{created.json()['id']}/grants"
    grant_body = {"org_unit_id": str(world.point_x.id), "role": "organizer"}
    grant_key = {**shop.auth("center_admin"), "Idempotency-Key": "grant-1"}
    granted = await client.post(grant_url, json=grant_body, headers=grant_key)
    granted_again = await client.post(grant_url, json=grant_body, headers=grant_key)

    assert signed.status_code == 201, signed.text
    assert signed_again.json() == signed.json()
    assert signed_again.headers["idempotent-replayed"] == "true"
    assert (unkeyed_twice.status_code, unkeyed_twice.json()["code"]) == (409, "already_signed_up")
    signups = await fetch_one(
        session, select(func.count()).select_from(Signup).where(Signup.activity_id == activity.id)
    )
    assert signups == 1
    assert code.status_code == 201, code.text
    assert code_again.json()["code"] == code.json()["code"]
    codes = await fetch_one(session, select(func.count()).select_from(RedemptionCode))
    assert codes == 1
    assert granted.status_code == 201, granted.text
    assert granted_again.json() == granted.json()
    grants = await fetch_one(
        session,
        select(func.count())
        .select_from(StaffGrant)
        .where(StaffGrant.staff_id == uuid.UUID(created.json()["id"])),
    )
    assert grants == 2
