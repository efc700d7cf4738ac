"""The volunteer's own profile: whole to its owner, masked to everyone else."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from app.volunteers.models import IdType, Volunteer
from tests.activities.support import make_activity, sign_up_row
from tests.builders import World, make_volunteer
from tests.orgs.support import Reader, assert_problem

VALID_ID = "11010519491231002X"


async def test_the_owner_reads_its_profile_with_its_volunteer_number(
    client: httpx.AsyncClient, world: World
) -> None:
    response = await client.get("/v1/me", headers=world.auth["volunteer_a"])
    assert response.status_code == 200
    body = response.json()
    assert body["id"] == str(world.volunteer_a.id)
    assert body["volunteer_no"] == world.volunteer_a.volunteer_no
    assert body["name"] == "志愿者甲"
    assert (body["skills"], body["service_categories"]) == ([], [])


async def test_the_owner_fills_in_a_real_name_profile_and_sees_it_whole(
    client: httpx.AsyncClient, world: World, db: Reader
) -> None:
    response = await client.patch(
        "/v1/me",
        json={
            "name": " 王小明 ",
            "id_type": "resident_id",
            "id_number": "11010519491231002x",
            "skills": ["急救", "手语"],
            "service_categories": ["health", "education"],
        },
        headers=world.auth["volunteer_a"],
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["name"], body["id_number"]) == ("王小明", VALID_ID)
    assert body["service_categories"] == ["health", "education"]
    row = await db.get(Volunteer, world.volunteer_a.id)
    assert (row.id_type, row.id_number) == (IdType.resident_id, VALID_ID)
    assert (row.skills, row.service_categories) == (["急救", "手语"], ["health", "education"])


async def test_fields_left_out_stay_and_nullable_ones_clear(
    client: httpx.AsyncClient, world: World, db: Reader
) -> None:
    auth = world.auth["volunteer_a"]
    await client.patch(
        "/v1/me",
        json={"id_type": "resident_id", "id_number": VALID_ID},
        headers=auth,
    )
    await client.patch("/v1/me", json={"skills": ["摄影"]}, headers=auth)
    row = await db.get(Volunteer, world.volunteer_a.id)
    assert (row.name, row.id_number, row.skills) == ("志愿者甲", VALID_ID, ["摄影"])
    cleared = await client.patch("/v1/me", json={"id_type": None, "id_number": None}, headers=auth)
    assert (cleared.json()["id_type"], cleared.json()["id_number"]) == (None, None)


async def test_a_profile_edit_cannot_set_the_phone_only_the_wechat_binding_does(
    client: httpx.AsyncClient, world: World, db: Reader, subtests: pytest.Subtests
) -> None:
    for body in (
        {"phone": "13812345678"},
        {"phone": None},
        {"name": "新名字", "phone": "13812345678"},
    ):
        with subtests.test(body=body):
            response = await client.patch("/v1/me", json=body, headers=world.auth["volunteer_a"])
            assert_problem(response, 422, "validation_failed")
            assert "/v1/me/phone" in response.text
            row = await db.get(Volunteer, world.volunteer_a.id)
            assert (row.name, row.phone) == ("志愿者甲", None)


async def test_an_invalid_id_number_is_refused_and_nothing_changes(
    client: httpx.AsyncClient, world: World, db: Reader, subtests: pytest.Subtests
) -> None:
    cases = [
        ("resident_id", "110105194912310021"),
        ("resident_id", "11010519490230002X"),
        ("resident_id", "1101051949123100"),
        ("hk_macao_permit", "X12345678"),
        ("taiwan_permit", "ABCDEFGH"),
    ]
    for id_type, id_number in cases:
        with subtests.test(id_type=id_type, id_number=id_number):
            response = await client.patch(
                "/v1/me",
                json={"name": "新名字", "id_type": id_type, "id_number": id_number},
                headers=world.auth["volunteer_a"],
            )
            assert_problem(response, 422, "id_number_invalid")
            assert id_number not in response.text
            row = await db.get(Volunteer, world.volunteer_a.id)
            assert (row.name, row.id_type, row.id_number) == ("志愿者甲", None, None)


async def test_an_id_claimed_in_another_region_is_claimed_here_too(
    client: httpx.AsyncClient, world: World, session: AsyncSession
) -> None:
    await make_volunteer(
        session, world.other_region, id_type=IdType.resident_id, id_number=VALID_ID
    )
    body = {"id_type": "resident_id", "id_number": VALID_ID}
    first = await client.patch("/v1/me", json=body, headers=world.auth["volunteer_a"])
    assert first.status_code == 200  # the same person may volunteer in another region too
    again = await client.patch("/v1/me", json=body, headers=world.auth["volunteer_a"])
    assert again.status_code == 200  # re-sending one's own ID is no conflict


async def test_an_invalid_profile_change_is_refused_and_nothing_changes(
    client: httpx.AsyncClient, world: World, db: Reader, subtests: pytest.Subtests
) -> None:
    bodies: list[dict[str, Any]] = [
        {"id_type": "resident_id"},
        {"id_number": VALID_ID},
        {"id_type": None, "id_number": VALID_ID},
        {"id_type": "driving_licence", "id_number": VALID_ID},
        {"id_type": "resident_id", "id_number": "1101-0519"},
        {"name": None},
        {"name": ""},
        {"name": "名" * 51},
        {"skills": None},
        {"skills": ["技" * 31]},
        {"skills": [f"skill{i}" for i in range(21)]},
        {"skills": ["急救", "急救"]},
        {"skills": "急救"},
        {"service_categories": ["custom"]},
        {"service_categories": ["sports"]},
        {"service_categories": ["law", "law"]},
        {"volunteer_no": "WUJI202600000001"},
        {"openid": "someone-else"},
        {"region_id": str(uuid.uuid4())},
    ]
    columns = [c.key for c in Volunteer.__table__.columns]
    before = await db.get(Volunteer, world.volunteer_a.id)
    for body in bodies:
        with subtests.test(body=body):
            response = await client.patch("/v1/me", json=body, headers=world.auth["volunteer_a"])
            assert_problem(response, 422, "validation_failed")
            after = await db.get(Volunteer, world.volunteer_a.id)
            assert [getattr(after, c) for c in columns] == [getattr(before, c) for c in columns]


async def test_staff_have_no_profile_here(
    client: httpx.AsyncClient, world: World, subtests: pytest.Subtests
) -> None:
    for who in ("center_admin", "organizer_x"):
        with subtests.test(who=who):
            assert_problem(await client.get("/v1/me", headers=world.auth[who]), 403, "forbidden")
            response = await client.patch("/v1/me", json={"name": "x"}, headers=world.auth[who])
            assert_problem(response, 403, "forbidden")


@pytest.fixture
async def registered(session: AsyncSession, world: World) -> Volunteer:
    volunteer = world.volunteer_b
    merged = await session.merge(volunteer)
    merged.id_type = IdType.resident_id
    merged.id_number = "320102199003071234"
    merged.phone = "13812345678"
    await session.commit()
    return merged


async def test_staff_whose_units_the_volunteer_signed_up_with_see_them_masked(
    client: httpx.AsyncClient,
    world: World,
    registered: Volunteer,
    session: AsyncSession,
    subtests: pytest.Subtests,
) -> None:
    activity = await make_activity(session, world.station_x, world.organizer_x)
    await sign_up_row(session, activity, registered)
    for who in ("organizer_x", "station_admin_x", "center_admin"):
        with subtests.test(who=who):
            response = await client.get(f"/v1/volunteers/{registered.id}", headers=world.auth[who])
            assert response.status_code == 200
            body = response.json()
            assert body["id_number"] == "3201**********1234"
            assert body["phone"] == "138****5678"
            assert body["id_verified"] is False
            assert "320102199003071234" not in response.text
            assert "13812345678" not in response.text
            assert body["volunteer_no"] == registered.volunteer_no


async def test_staff_of_units_the_volunteer_never_joined_are_told_nothing(
    client: httpx.AsyncClient, world: World, registered: Volunteer, session: AsyncSession
) -> None:
    activity = await make_activity(session, world.station_x, world.organizer_x)
    await sign_up_row(session, activity, registered)
    unknown = await client.get(f"/v1/volunteers/{uuid.uuid4()}", headers=world.auth["organizer_y"])
    response = await client.get(
        f"/v1/volunteers/{registered.id}", headers=world.auth["organizer_y"]
    )
    assert_problem(response, 404, "volunteer_not_found")
    assert response.json() | {"instance": ""} == unknown.json() | {"instance": ""}
    assert "138" not in response.text
    # A center admin reaches every volunteer of the region, signed up or not.
    loner = await make_volunteer(session, world.region)
    admin = await client.get(f"/v1/volunteers/{loner.id}", headers=world.auth["center_admin"])
    assert admin.status_code == 200
    organizer = await client.get(f"/v1/volunteers/{loner.id}", headers=world.auth["organizer_x"])
    assert_problem(organizer, 404, "volunteer_not_found")


async def test_the_owner_alone_sees_its_numbers_whole(
    client: httpx.AsyncClient, world: World, registered: Volunteer
) -> None:
    response = await client.get("/v1/me", headers=world.auth["volunteer_b"])
    assert (response.json()["id_number"], response.json()["phone"]) == (
        "320102199003071234",
        "13812345678",
    )


async def test_nobody_else_reads_a_volunteer(
    client: httpx.AsyncClient, world: World, registered: Volunteer, subtests: pytest.Subtests
) -> None:
    cases = [
        ("other_admin", 404, "volunteer_not_found"),
        ("volunteer_a", 403, "forbidden"),
        ("volunteer_b", 403, "forbidden"),
    ]
    for who, status, code in cases:
        with subtests.test(who=who):
            response = await client.get(f"/v1/volunteers/{registered.id}", headers=world.auth[who])
            assert_problem(response, status, code)
            assert "13812345678" not in response.text


async def test_an_unknown_volunteer_is_not_found(client: httpx.AsyncClient, world: World) -> None:
    response = await client.get(f"/v1/volunteers/{uuid.uuid4()}", headers=world.auth["organizer_x"])
    assert_problem(response, 404, "volunteer_not_found")
