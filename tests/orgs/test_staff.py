"""Staff accounts and grants: admins act within their reach, and never beyond it."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import httpx
import pytest
from sqlalchemy import select, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.security import verify_password
from app.identity.models import StaffKind, StaffUser
from app.orgs.models import Role, StaffGrant
from tests.activities.support import make_activity
from tests.builders import World, make_staff, staff_auth
from tests.orgs.support import Reader, assert_problem, walk

PASSWORD = "a long enough password"


def new_staff(world: World, *grants: tuple[str, Role], **extra: Any) -> dict[str, Any]:
    return {
        "username": f"s{uuid.uuid4().hex[:8]}",
        "display_name": "新同事",
        "password": PASSWORD,
        "grants": [
            {"org_unit_id": str(getattr(world, unit).id), "role": role.value}
            for unit, role in grants
        ],
        **extra,
    }


async def grants_of(db: Reader, staff_id: uuid.UUID) -> set[tuple[uuid.UUID, str]]:
    """The account's live grants; revoked ones stay as history."""
    rows = await db.all(
        select(StaffGrant).where(StaffGrant.staff_id == staff_id, StaffGrant.revoked_at.is_(None))
    )
    return {(g.org_unit_id, g.role) for g in rows}


async def revoke(
    client: httpx.AsyncClient,
    staff_id: uuid.UUID,
    grant_id: uuid.UUID | str,
    headers: dict[str, str],
    reason: str = "调岗",
) -> httpx.Response:
    return await client.post(
        f"/v1/staff/{staff_id}/grants/{grant_id}/revoke", json={"reason": reason}, headers=headers
    )


async def test_center_admin_creates_a_station_admin(
    client: httpx.AsyncClient, world: World, db: Reader
) -> None:
    body = new_staff(world, ("station_y", Role.station_admin))
    response = await client.post("/v1/staff", json=body, headers=world.auth["center_admin"])
    assert response.status_code == 201, response.text
    created = response.json()
    assert "password" not in response.text
    assert "password_hash" not in response.text
    assert created["username"] == body["username"]
    assert [(g["org_unit_id"], g["role"]) for g in created["grants"]] == [
        (str(world.station_y.id), "station_admin")
    ]
    assert created["grants"][0]["granted_by"] == str(world.center_admin.id)
    user = await db.get(StaffUser, uuid.UUID(created["id"]))
    assert (user.region_id, user.kind, user.is_active) == (world.region.id, "staff", True)
    assert user.password_hash.startswith("$argon2")
    assert await verify_password(user.password_hash, PASSWORD)


async def test_station_admin_creates_an_organizer_of_its_station(
    client: httpx.AsyncClient, world: World, db: Reader
) -> None:
    body = new_staff(world, ("station_x", Role.organizer), ("point_x", Role.organizer))
    response = await client.post("/v1/staff", json=body, headers=world.auth["station_admin_x"])
    assert response.status_code == 201, response.text
    assert await grants_of(db, uuid.UUID(response.json()["id"])) == {
        (world.station_x.id, "organizer"),
        (world.point_x.id, "organizer"),
    }


async def test_a_new_account_gets_no_role_beyond_its_creators_reach(
    client: httpx.AsyncClient, world: World, db: Reader, subtests: pytest.Subtests
) -> None:
    cases = [
        ("station_admin_x", "center", Role.center_admin, 403, "grant_exceeds_reach"),
        ("station_admin_x", "station_x", Role.institute_admin, 403, "grant_exceeds_reach"),
        ("station_admin_x", "station_y", Role.organizer, 403, "grant_exceeds_reach"),
        ("institute_admin_x", "station_y", Role.station_admin, 403, "grant_exceeds_reach"),
        ("institute_admin_x", "center", Role.organizer, 403, "grant_exceeds_reach"),
        ("center_admin", "institute_x", Role.station_admin, 422, "role_unit_mismatch"),
        ("center_admin", "station_x", Role.center_admin, 422, "role_unit_mismatch"),
        ("organizer_x", "station_x", Role.organizer, 403, "admin_role_required"),
        ("other_admin", "station_x", Role.organizer, 404, "org_unit_not_found"),
        ("volunteer_a", "station_x", Role.organizer, 403, "forbidden"),
    ]
    before = await db.count(StaffUser)
    for who, unit, role, status, code in cases:
        with subtests.test(who=who, unit=unit, role=role.value):
            response = await client.post(
                "/v1/staff", json=new_staff(world, (unit, role)), headers=world.auth[who]
            )
            assert_problem(response, status, code)
            assert await db.count(StaffUser) == before


async def test_a_username_is_taken_once(
    client: httpx.AsyncClient, world: World, db: Reader
) -> None:
    body = new_staff(world, ("station_x", Role.organizer), username=world.other_admin.username)
    before = await db.count(StaffUser)
    response = await client.post("/v1/staff", json=body, headers=world.auth["center_admin"])
    assert_problem(response, 409, "username_taken")
    assert await db.count(StaffUser) == before


async def test_an_invalid_account_is_refused(
    client: httpx.AsyncClient, world: World, db: Reader, subtests: pytest.Subtests
) -> None:
    changes: list[dict[str, Any]] = [
        {"password": "short"},
        {"password": "p" * 129},
        {"username": "Admin"},
        {"username": "ab"},
        {"username": "名字"},
        {"grants": []},
        {"grants": [{"org_unit_id": "x", "role": "organizer"}]},
        {"grants": [{"role": "organizer"}]},
        {"is_active": True},
        {"display_name": ""},
    ]
    before = await db.count(StaffUser)
    for change in changes:
        with subtests.test(change=change):
            body = {**new_staff(world, ("station_x", Role.organizer)), **change}
            response = await client.post("/v1/staff", json=body, headers=world.auth["center_admin"])
            assert_problem(response, 422, "validation_failed")
            assert PASSWORD not in response.text
            assert await db.count(StaffUser) == before


async def test_the_same_grant_twice_in_one_request_is_refused(
    client: httpx.AsyncClient, world: World
) -> None:
    body = new_staff(world, ("station_x", Role.organizer), ("station_x", Role.organizer))
    response = await client.post("/v1/staff", json=body, headers=world.auth["center_admin"])
    assert_problem(response, 422, "validation_failed")


async def test_admins_list_the_staff_of_their_subtree(
    client: httpx.AsyncClient, world: World, session: AsyncSession
) -> None:
    await make_staff(session, world.region, kind=StaffKind.merchant)
    lost = await make_staff(session, world.region)  # no grant anywhere

    def names(items: list[dict[str, Any]]) -> set[str]:
        return {i["id"] for i in items}

    everyone = await walk(client, "/v1/staff", world.auth["center_admin"])
    assert names(everyone) == {
        str(u.id)
        for u in (
            world.center_admin,
            world.institute_admin_x,
            world.station_admin_x,
            world.organizer_x,
            world.organizer_y,
            lost,
        )
    }
    institute = await walk(client, "/v1/staff", world.auth["institute_admin_x"])
    assert names(institute) == {
        str(u.id) for u in (world.institute_admin_x, world.station_admin_x, world.organizer_x)
    }
    station = await walk(client, "/v1/staff", world.auth["station_admin_x"])
    assert names(station) == {str(u.id) for u in (world.station_admin_x, world.organizer_x)}
    other = await walk(client, "/v1/staff", world.auth["other_admin"])
    assert names(other) == {str(world.other_admin.id)}


async def test_an_organizer_lists_no_staff(client: httpx.AsyncClient, world: World) -> None:
    response = await client.get("/v1/staff", headers=world.auth["organizer_x"])
    assert_problem(response, 403, "admin_role_required")


async def test_a_staff_account_is_seen_only_from_above(
    client: httpx.AsyncClient, world: World, subtests: pytest.Subtests
) -> None:
    cases = [
        ("station_admin_x", "organizer_x", 200),
        ("institute_admin_x", "organizer_x", 200),
        ("center_admin", "organizer_y", 200),
        ("station_admin_x", "organizer_y", 404),
        ("station_admin_x", "institute_admin_x", 404),
        ("institute_admin_x", "center_admin", 404),
        ("other_admin", "organizer_x", 404),
    ]
    for who, target, status in cases:
        with subtests.test(who=who, target=target):
            target_id = str(getattr(world, target).id)
            response = await client.get(f"/v1/staff/{target_id}", headers=world.auth[who])
            if status == 200:
                assert response.status_code == 200
                assert response.json()["grants"][0]["staff_id"] == target_id
            else:
                assert_problem(response, 404, "staff_not_found")


async def test_an_admin_grants_a_role_within_its_subtree(
    client: httpx.AsyncClient, world: World, db: Reader
) -> None:
    url = f"/v1/staff/{world.organizer_x.id}/grants"
    body = {"org_unit_id": str(world.point_x.id), "role": "organizer"}
    response = await client.post(url, json=body, headers=world.auth["station_admin_x"])
    assert response.status_code == 201, response.text
    assert response.json()["granted_by"] == str(world.station_admin_x.id)
    assert (world.point_x.id, "organizer") in await grants_of(db, world.organizer_x.id)

    again = await client.post(url, json=body, headers=world.auth["station_admin_x"])
    assert_problem(again, 409, "grant_exists")


async def test_a_granted_role_takes_effect_on_the_next_request(
    client: httpx.AsyncClient, world: World
) -> None:
    url = f"/v1/org-units/{world.station_x.id}"
    before = await client.patch(url, json={"name": "站X2"}, headers=world.auth["organizer_x"])
    assert_problem(before, 403, "not_permitted_on_unit")
    await client.post(
        f"/v1/staff/{world.organizer_x.id}/grants",
        json={"org_unit_id": str(world.station_x.id), "role": "station_admin"},
        headers=world.auth["institute_admin_x"],
    )
    after = await client.patch(url, json={"name": "站X2"}, headers=world.auth["organizer_x"])
    assert after.status_code == 200


async def test_no_grant_reaches_beyond_its_granter(
    client: httpx.AsyncClient, world: World, db: Reader, subtests: pytest.Subtests
) -> None:
    exceeds, mismatch = "grant_exceeds_reach", "role_unit_mismatch"
    cases = [
        ("station_admin_x", "organizer_x", "center", Role.center_admin, 403, exceeds),
        ("station_admin_x", "organizer_x", "station_y", Role.organizer, 403, exceeds),
        ("station_admin_x", "organizer_y", "station_x", Role.organizer, 404, "staff_not_found"),
        ("institute_admin_x", "organizer_x", "institute_x", Role.station_admin, 422, mismatch),
        ("other_admin", "organizer_x", "other_center", Role.organizer, 404, "staff_not_found"),
        ("center_admin", "other_admin", "center", Role.organizer, 404, "staff_not_found"),
        ("center_admin", "organizer_x", "other_center", Role.organizer, 404, "org_unit_not_found"),
    ]
    for who, target, unit, role, status, code in cases:
        with subtests.test(who=who, target=target, unit=unit, role=role.value):
            staff = getattr(world, target)
            before = await grants_of(db, staff.id)
            response = await client.post(
                f"/v1/staff/{staff.id}/grants",
                json={"org_unit_id": str(getattr(world, unit).id), "role": role.value},
                headers=world.auth[who],
            )
            assert_problem(response, status, code)
            assert await grants_of(db, staff.id) == before


async def _grant_id(db: Reader, staff: StaffUser) -> uuid.UUID:
    grants = await db.all(
        select(StaffGrant.id).where(
            StaffGrant.staff_id == staff.id, StaffGrant.revoked_at.is_(None)
        )
    )
    assert len(grants) == 1
    return uuid.UUID(str(grants[0]))


async def test_station_admin_revokes_its_organizers_role_and_the_grant_is_kept(
    client: httpx.AsyncClient, app: Any, world: World, db: Reader, session: AsyncSession
) -> None:
    grant_id = await _grant_id(db, world.organizer_x)
    organizer = staff_auth(app, world.organizer_x)
    activity = await make_activity(session, world.station_x, world.organizer_x)
    attendances = f"/v1/activities/{activity.id}/attendances"
    assert (await client.get(attendances, headers=organizer)).status_code == 200

    response = await revoke(
        client, world.organizer_x.id, grant_id, world.auth["station_admin_x"], reason="离职"
    )

    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["id"], body["revoked_by"], body["revoked_reason"]) == (
        str(grant_id),
        str(world.station_admin_x.id),
        "离职",
    )
    assert body["revoked_at"] is not None
    kept = await db.get(StaffGrant, grant_id)
    assert (kept.role, kept.org_unit_id) == ("organizer", world.station_x.id)
    assert (kept.revoked_by, kept.revoked_reason) == (world.station_admin_x.id, "离职")
    assert await grants_of(db, world.organizer_x.id) == set()
    # The role no longer works, for the token issued while it did too.
    assert_problem(await client.get(attendances, headers=organizer), 403, "not_permitted_on_unit")
    # Without a grant the account drops out of the station admin's sight.
    gone = await client.get(
        f"/v1/staff/{world.organizer_x.id}", headers=world.auth["station_admin_x"]
    )
    assert_problem(gone, 404, "staff_not_found")


async def test_a_revoked_grant_is_not_revoked_again_and_the_role_may_be_granted_anew(
    client: httpx.AsyncClient, world: World, db: Reader
) -> None:
    grant_id = await _grant_id(db, world.organizer_x)
    admin = world.auth["center_admin"]
    assert (await revoke(client, world.organizer_x.id, grant_id, admin)).status_code == 200

    again = await revoke(client, world.organizer_x.id, grant_id, admin, reason="再撤一次")
    granted = await client.post(
        f"/v1/staff/{world.organizer_x.id}/grants",
        json={"org_unit_id": str(world.station_x.id), "role": "organizer"},
        headers=admin,
    )

    assert_problem(again, 404, "grant_not_found")
    assert (await db.get(StaffGrant, grant_id)).revoked_reason == "调岗"
    assert granted.status_code == 201, granted.text
    assert granted.json()["id"] != str(grant_id)
    history = await db.all(select(StaffGrant).where(StaffGrant.staff_id == world.organizer_x.id))
    assert sorted(g.revoked_at is None for g in history) == [False, True]


@pytest.mark.postgres_only
async def test_simultaneous_revocations_of_a_grant_revoke_it_once(
    client: httpx.AsyncClient, world: World, db: Reader
) -> None:
    grant_id = await _grant_id(db, world.organizer_x)
    admins = [world.auth["center_admin"], world.auth["station_admin_x"]] * 4

    responses = await asyncio.gather(
        *(
            revoke(client, world.organizer_x.id, grant_id, headers, reason=f"第{i}次")
            for i, headers in enumerate(admins)
        )
    )

    assert sorted(r.status_code for r in responses) == [200] + [404] * 7, [
        r.text for r in responses
    ]
    [winner] = [r.json() for r in responses if r.status_code == 200]
    kept = await db.get(StaffGrant, grant_id)
    assert (str(kept.revoked_by), kept.revoked_reason) == (
        winner["revoked_by"],
        winner["revoked_reason"],
    )


@pytest.mark.database_owner
async def test_the_database_refuses_to_delete_a_grant_or_undo_a_revocation(
    client: httpx.AsyncClient, app: Any, world: World, db: Reader
) -> None:
    grant_id = await _grant_id(db, world.organizer_x)
    admin = world.auth["center_admin"]
    assert (await revoke(client, world.organizer_x.id, grant_id, admin)).status_code == 200
    before = await db.all(select(StaffGrant.id, StaffGrant.revoked_at, StaffGrant.role))

    for sql in (
        "DELETE FROM staff_grants",
        "UPDATE staff_grants SET revoked_at = NULL",
        "UPDATE staff_grants SET revoked_reason = 'rewritten'",
        "UPDATE staff_grants SET role = 'center_admin'",
    ):
        with pytest.raises(DBAPIError, match="rows are kept as written"):
            async with app.state.db.sessions() as s, s.begin():
                await s.execute(text(sql))

    assert await db.all(select(StaffGrant.id, StaffGrant.revoked_at, StaffGrant.role)) == before


async def test_a_revocation_needs_a_reason(
    client: httpx.AsyncClient, world: World, db: Reader, subtests: pytest.Subtests
) -> None:
    grant_id = await _grant_id(db, world.organizer_x)
    url = f"/v1/staff/{world.organizer_x.id}/grants/{grant_id}/revoke"
    for body in ({}, {"reason": ""}, {"reason": "   "}, {"reason": "x" * 501}, {"reason": "a\x00"}):
        with subtests.test(body=body):
            response = await client.post(url, json=body, headers=world.auth["center_admin"])
            assert_problem(response, 422, "validation_failed")
    assert await grants_of(db, world.organizer_x.id) == {(world.station_x.id, "organizer")}


async def test_a_role_above_the_revoker_stays(
    client: httpx.AsyncClient, world: World, db: Reader, session: AsyncSession
) -> None:
    # Works on station X (visible to its admin) and also runs institute X (beyond it).
    both = await make_staff(session, world.region, role=Role.organizer, unit=world.station_x)
    session.add(
        StaffGrant(
            region_id=world.region.id,
            staff_id=both.id,
            org_unit_id=world.institute_x.id,
            role=Role.institute_admin,
        )
    )
    await session.commit()
    higher = next(
        g
        for g in await db.all(select(StaffGrant).where(StaffGrant.staff_id == both.id))
        if g.role == Role.institute_admin
    )
    response = await revoke(client, both.id, higher.id, world.auth["station_admin_x"])
    assert_problem(response, 403, "grant_exceeds_reach")
    assert len(await grants_of(db, both.id)) == 2

    # Nor may the station admin rename or deactivate that account.
    patched = await client.patch(
        f"/v1/staff/{both.id}", json={"is_active": False}, headers=world.auth["station_admin_x"]
    )
    assert_problem(patched, 403, "grant_exceeds_reach")
    assert (await db.get(StaffUser, both.id)).is_active is True


async def test_grants_of_other_accounts_and_unknown_grants_are_not_found(
    client: httpx.AsyncClient, world: World, db: Reader
) -> None:
    others_grant = await _grant_id(db, world.station_admin_x)
    response = await revoke(client, world.organizer_x.id, others_grant, world.auth["center_admin"])
    assert_problem(response, 404, "grant_not_found")
    unknown = await revoke(client, world.organizer_x.id, uuid.uuid4(), world.auth["center_admin"])
    assert_problem(unknown, 404, "grant_not_found")
    assert len(await grants_of(db, world.station_admin_x.id)) == 1


async def test_the_last_center_admin_keeps_the_role(
    client: httpx.AsyncClient, world: World, db: Reader
) -> None:
    own = await _grant_id(db, world.center_admin)
    refused = await revoke(client, world.center_admin.id, own, world.auth["center_admin"])
    assert_problem(refused, 409, "last_center_admin")
    assert len(await grants_of(db, world.center_admin.id)) == 1

    created = await client.post(
        "/v1/staff",
        json=new_staff(world, ("center", Role.center_admin)),
        headers=world.auth["center_admin"],
    )
    assert created.status_code == 201
    revoked = await revoke(client, world.center_admin.id, own, world.auth["center_admin"])
    assert revoked.status_code == 200


async def test_an_admin_renames_deactivates_and_resets_a_password(
    client: httpx.AsyncClient, world: World, db: Reader
) -> None:
    url = f"/v1/staff/{world.organizer_x.id}"
    auth = world.auth["station_admin_x"]
    response = await client.patch(
        url,
        json={"display_name": "老李", "is_active": False, "password": "another long password"},
        headers=auth,
    )
    assert response.status_code == 200, response.text
    assert (response.json()["display_name"], response.json()["is_active"]) == ("老李", False)
    user = await db.get(StaffUser, world.organizer_x.id)
    assert user.is_active is False
    assert await verify_password(user.password_hash, "another long password")


async def test_nobody_deactivates_itself(
    client: httpx.AsyncClient, world: World, db: Reader
) -> None:
    response = await client.patch(
        f"/v1/staff/{world.center_admin.id}",
        json={"is_active": False},
        headers=world.auth["center_admin"],
    )
    assert_problem(response, 409, "self_deactivation")
    assert (await db.get(StaffUser, world.center_admin.id)).is_active is True


async def test_merchant_accounts_are_not_managed_here(
    client: httpx.AsyncClient, world: World, session: AsyncSession, app: Any
) -> None:
    cashier = await make_staff(session, world.region, kind=StaffKind.merchant)
    response = await client.get(f"/v1/staff/{cashier.id}", headers=world.auth["center_admin"])
    assert_problem(response, 404, "staff_not_found")
    as_cashier = await client.get("/v1/staff", headers=staff_auth(app, cashier))
    assert_problem(as_cashier, 403, "forbidden")


async def test_an_invalid_account_change_is_refused(
    client: httpx.AsyncClient, world: World, db: Reader, subtests: pytest.Subtests
) -> None:
    bodies: list[dict[str, Any]] = [
        {"is_active": None},
        {"is_active": "no"},
        {"password": "short"},
        {"username": "renamed"},
    ]
    for body in bodies:
        with subtests.test(body=body):
            response = await client.patch(
                f"/v1/staff/{world.organizer_x.id}", json=body, headers=world.auth["center_admin"]
            )
            assert_problem(response, 422, "validation_failed")
            user = await db.get(StaffUser, world.organizer_x.id)
            assert (user.is_active, user.username) == (True, world.organizer_x.username)


async def test_simultaneous_identical_grants_make_one_row(
    client: httpx.AsyncClient, world: World, db: Reader
) -> None:
    url = f"/v1/staff/{world.organizer_x.id}/grants"
    body = {"org_unit_id": str(world.point_x.id), "role": "organizer"}
    responses = await asyncio.gather(
        *(client.post(url, json=body, headers=world.auth["center_admin"]) for _ in range(8))
    )
    assert sorted(r.status_code for r in responses) == [201] + [409] * 7
    for refused in (r for r in responses if r.status_code == 409):
        assert_problem(refused, 409, "grant_exists")
    assert await grants_of(db, world.organizer_x.id) == {
        (world.station_x.id, "organizer"),
        (world.point_x.id, "organizer"),
    }


async def test_simultaneous_accounts_with_one_username_make_one_account(
    client: httpx.AsyncClient, world: World, db: Reader
) -> None:
    body = new_staff(world, ("station_x", Role.organizer), username="same.name")
    responses = await asyncio.gather(
        *(client.post("/v1/staff", json=body, headers=world.auth["center_admin"]) for _ in range(4))
    )
    assert sorted(r.status_code for r in responses) == [201, 409, 409, 409]
    assert await db.count(StaffUser, StaffUser.username == "same.name") == 1
