"""The platform's regions: a platform admin creates a tenant whole (center, standing teams,
policies, ledger accounts) and its first center admin; nobody else reaches these routes,
and the new region's people see nothing of another region."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.activities.models import ActivityPolicy
from app.demo import seed_organisation
from app.identity.models import StaffUser
from app.ledger.models import Account, AccountKind
from app.orgs.models import TEAM_CATEGORY_LABELS, OrgUnit, Region, Team, TeamCategory, UnitKind
from app.rewards.models import DEFAULT_RATE_PER_HOUR, RewardPolicy
from tests.builders import PASSWORD, World
from tests.orgs.support import Reader, assert_problem

STANDING = {c for c in TeamCategory if c is not TeamCategory.custom}


async def _create(
    client: httpx.AsyncClient,
    auth: dict[str, str],
    body: dict[str, Any],
    key: str | None = None,
) -> httpx.Response:
    headers = {**auth, **({"Idempotency-Key": key} if key else {})}
    return await client.post("/v1/platform/regions", json=body, headers=headers)


async def _login(client: httpx.AsyncClient, username: str, password: str) -> dict[str, str]:
    login = await client.post("/v1/auth/login", json={"username": username, "password": password})
    assert login.status_code == 200, login.text
    return {"Authorization": f"Bearer {login.json()['access_token']}"}


async def _first_admin(
    client: httpx.AsyncClient, platform: dict[str, str], region_id: str, username: str
) -> dict[str, str]:
    made = await client.post(
        f"/v1/platform/regions/{region_id}/admins",
        json={"username": username, "password": PASSWORD},
        headers=platform,
    )
    assert made.status_code == 201, made.text
    return await _login(client, username, PASSWORD)


async def test_a_platform_admin_creates_a_region_with_its_center_teams_policies_and_accounts(
    client: httpx.AsyncClient, platform: dict[str, str], db: Reader
) -> None:
    response = await _create(
        client, platform, {"code": "suzhou", "name": "苏州市", "timezone": "Asia/Urumqi"}
    )

    assert response.status_code == 201, response.text
    body = response.json()
    region_id = uuid.UUID(body["id"])
    assert (body["code"], body["name"], body["timezone"]) == ("suzhou", "苏州市", "Asia/Urumqi")
    center = await db.get(OrgUnit, uuid.UUID(body["center_unit_id"]))
    assert (center.region_id, center.kind, center.parent_id) == (region_id, UnitKind.center, None)
    assert center.name == "苏州市新时代文明实践中心"
    assert await db.count(OrgUnit, OrgUnit.region_id == region_id) == 1
    teams = await db.all(select(Team).where(Team.region_id == region_id))
    assert {t.category for t in teams} == STANDING
    assert len(teams) == 8
    assert {t.org_unit_id for t in teams} == {center.id}
    assert {t.name for t in teams} == {f"{TEAM_CATEGORY_LABELS[c]}志愿服务队" for c in STANDING}
    assert await db.count(ActivityPolicy, ActivityPolicy.region_id == region_id) == 1
    (reward,) = await db.all(select(RewardPolicy).where(RewardPolicy.region_id == region_id))
    assert (reward.rate_per_hour, reward.updated_by_id) == (DEFAULT_RATE_PER_HOUR, None)
    accounts = await db.all(select(Account).where(Account.region_id == region_id))
    assert {(a.kind, a.owner_id, a.posted) for a in accounts} == {
        (AccountKind.issuance, region_id, 0),
        (AccountKind.expired, region_id, 0),
        (AccountKind.settled, region_id, 0),
    }

    listed = await client.get("/v1/platform/regions", headers=platform)
    assert listed.status_code == 200
    assert body in listed.json()["items"]

    # Its first center admin runs it: the defaults answer from the region's own routes.
    admin = await _first_admin(client, platform, body["id"], "suzhou-admin")
    own_teams = await client.get("/v1/teams", headers=admin)
    assert {t["category"] for t in own_teams.json()["items"]} == STANDING
    activity_policy = await client.get("/v1/activity-policy", headers=admin)
    assert activity_policy.json()["checkin_opens_before_min"] == 30
    for policy in ("reward-policy", "merchant-policy"):
        read = await client.get(f"/v1/regions/{region_id}/{policy}", headers=admin)
        assert read.status_code == 200, read.text
        assert read.json()["is_default"] is True
    stars = await client.get(f"/v1/regions/{region_id}/star-levels", headers=admin)
    assert stars.status_code == 200, stars.text


async def test_a_retry_with_the_same_key_replays_and_creates_one_region(
    client: httpx.AsyncClient, platform: dict[str, str], db: Reader
) -> None:
    region = {"code": "kunshan", "name": "昆山市"}
    first = await _create(client, platform, region, key="create-kunshan")
    again = await _create(client, platform, region, key="create-kunshan")
    other_body = await _create(client, platform, {**region, "name": "别处"}, key="create-kunshan")

    assert first.status_code == again.status_code == 201
    assert again.json() == first.json()
    assert again.headers["idempotent-replayed"] == "true"
    assert_problem(other_body, 422, "idempotency_key_reused")
    assert await db.count(Region, Region.code == "kunshan") == 1
    assert await db.count(Team, Team.region_id == uuid.UUID(first.json()["id"])) == 8


async def test_a_taken_code_is_a_conflict_and_writes_nothing(
    client: httpx.AsyncClient, platform: dict[str, str], db: Reader
) -> None:
    first = await _create(client, platform, {"code": "taicang", "name": "太仓市"})
    regions, teams = await db.count(Region), await db.count(Team)

    taken = await _create(client, platform, {"code": "taicang", "name": "另一个太仓"}, key="k2")

    assert first.status_code == 201
    assert_problem(taken, 409, "region_code_taken")
    assert (await db.count(Region), await db.count(Team)) == (regions, teams)


async def test_a_region_gets_one_first_admin_whose_made_up_password_is_shown_once(
    client: httpx.AsyncClient, platform: dict[str, str], db: Reader
) -> None:
    region = (await _create(client, platform, {"code": "wuzhong", "name": "吴中区"})).json()
    url = f"/v1/platform/regions/{region['id']}/admins"
    keyed = {**platform, "Idempotency-Key": "first-admin"}

    made = await client.post(url, json={"username": "wuzhong-admin"}, headers=keyed)
    replayed = await client.post(url, json={"username": "wuzhong-admin"}, headers=keyed)
    second = await client.post(url, json={"username": "wuzhong-two"}, headers=platform)
    nowhere = f"/v1/platform/regions/{uuid.uuid4()}/admins"
    unknown = await client.post(nowhere, json={"username": "x-admin"}, headers=platform)

    assert made.status_code == 201, made.text
    password = made.json()["password"]
    assert isinstance(password, str)
    assert len(password) >= 12
    assert made.json()["center_unit_id"] == region["center_unit_id"]
    assert replayed.status_code == 201
    assert replayed.json() == {**made.json(), "password": None}
    assert_problem(second, 409, "region_has_center_admin")
    assert_problem(unknown, 404, "region_not_found")
    admin = await _login(client, "wuzhong-admin", password)
    whoami = await client.get("/v1/auth/whoami", headers=admin)
    assert whoami.json()["region_id"] == region["id"]
    assert await db.count(StaffUser, StaffUser.region_id == uuid.UUID(region["id"])) == 1


async def test_regions_are_listed_page_by_page(
    client: httpx.AsyncClient, platform: dict[str, str]
) -> None:
    codes = [f"page-{i}" for i in range(3)]
    for code in codes:
        assert (await _create(client, platform, {"code": code, "name": code})).status_code == 201

    first = await client.get("/v1/platform/regions", params={"limit": 2}, headers=platform)
    rest = await client.get(
        "/v1/platform/regions",
        params={"limit": 2, "cursor": first.json()["next_cursor"]},
        headers=platform,
    )

    assert [r["code"] for r in first.json()["items"]] == codes[:2]
    assert [r["code"] for r in rest.json()["items"]] == codes[2:]
    assert rest.json()["next_cursor"] is None


async def test_a_regions_own_people_cannot_call_the_platform_routes(
    client: httpx.AsyncClient, world: World, platform: dict[str, str], db: Reader
) -> None:
    region = (await _create(client, platform, {"code": "zhangjiagang", "name": "张家港"})).json()
    regions = await db.count(Region)
    calls = [
        ("POST", "/v1/platform/regions", {"code": "mine", "name": "我的区"}),
        ("GET", "/v1/platform/regions", None),
        ("POST", f"/v1/platform/regions/{region['id']}/admins", {"username": "sneaky"}),
        ("POST", f"/v1/platform/regions/{uuid.uuid4()}/admins", {"username": "sneaky"}),
    ]
    for who in ("other_admin", "center_admin", "volunteer_a"):
        for method, url, body in calls:
            response = await client.request(method, url, json=body, headers=world.auth[who])
            assert_problem(response, 403, "forbidden")

    assert await db.count(Region) == regions
    assert await db.count(StaffUser, StaffUser.username == "sneaky") == 0
    # And the platform's token opens no region's routes.
    for url in ("/v1/regions", "/v1/auth/whoami", f"/v1/regions/{world.region.id}"):
        assert_problem(await client.get(url, headers=platform), 401, "token_invalid")


async def test_the_new_regions_admin_sees_nothing_of_the_demo_region(
    client: httpx.AsyncClient, session: AsyncSession, platform: dict[str, str], db: Reader
) -> None:
    await seed_organisation(session, admin_password=PASSWORD)
    await session.commit()
    (demo,) = await db.all(select(Region).where(Region.code == "wujiang"))
    demo_units = await db.all(select(OrgUnit).where(OrgUnit.region_id == demo.id))
    demo_teams = await db.all(select(Team).where(Team.region_id == demo.id))
    (demo_admin,) = await db.all(select(StaffUser).where(StaffUser.username == "admin"))
    region = (await _create(client, platform, {"code": "changshu", "name": "常熟市"})).json()
    admin = await _first_admin(client, platform, region["id"], "changshu-admin")

    regions = await client.get("/v1/regions", headers=admin)
    units = await client.get("/v1/org-units", headers=admin)
    teams = await client.get("/v1/teams", headers=admin)
    staff = await client.get("/v1/staff", headers=admin)

    assert [r["id"] for r in regions.json()["items"]] == [region["id"]]
    assert [u["id"] for u in units.json()["items"]] == [region["center_unit_id"]]
    assert len(teams.json()["items"]) == 8
    assert {t["region_id"] for t in teams.json()["items"]} == {region["id"]}
    assert [s["username"] for s in staff.json()["items"]] == ["changshu-admin"]
    refusals: list[tuple[str, str, Any, str]] = [
        ("GET", f"/v1/regions/{demo.id}", None, "region_not_found"),
        ("PATCH", f"/v1/regions/{demo.id}", {"name": "改名"}, "region_not_found"),
        ("GET", f"/v1/staff/{demo_admin.id}", None, "staff_not_found"),
    ]
    refusals += [("GET", f"/v1/org-units/{u.id}", None, "org_unit_not_found") for u in demo_units]
    refusals += [("GET", f"/v1/teams/{t.id}", None, "team_not_found") for t in demo_teams]
    assert (len(demo_units), len(demo_teams)) == (7, 8)
    for method, url, body, code in refusals:
        assert_problem(await client.request(method, url, json=body, headers=admin), 404, code)


async def test_a_platform_login_is_refused_alike_for_a_wrong_password_and_a_stranger(
    client: httpx.AsyncClient, platform: dict[str, str], world: World
) -> None:
    wrong = await client.post(
        "/v1/platform/auth/login", json={"username": "operator", "password": "not it at all"}
    )
    stranger = await client.post(
        "/v1/platform/auth/login", json={"username": "nobody-here", "password": PASSWORD}
    )
    # A region's staff account is no platform admin, whatever its password.
    staff = await client.post(
        "/v1/platform/auth/login",
        json={"username": world.center_admin.username, "password": PASSWORD},
    )

    for refused in (wrong, stranger, staff):
        assert_problem(refused, 401, "invalid_credentials")
