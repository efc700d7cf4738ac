"""What a client's token reaches: the routes that declare one of its scopes, in its own
region, and never an ID number or a phone."""

from __future__ import annotations

import logging
from typing import Any

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from app.activities.models import ActivityStatus
from tests.activities.hours.support import checkin_hours, make_activity
from tests.builders import World, make_volunteer
from tests.clients.support import TOKEN, basic, bearer, register, token

ID_NUMBER = "320584199001011234"
PHONE = "13812345678"


@pytest.fixture
async def data(session: AsyncSession, world: World) -> dict[str, Any]:
    """Station X's published activity with a volunteer's hours (the volunteer has an ID
    number and a phone), a draft, and another region's activity with hours."""
    person = await make_volunteer(
        session, world.region, name="志愿者丙", id_number=ID_NUMBER, phone=PHONE
    )
    published = await make_activity(
        session, world.station_x, world.organizer_x, status=ActivityStatus.published
    )
    draft = await make_activity(
        session, world.station_x, world.organizer_x, status=ActivityStatus.draft
    )
    hours = await checkin_hours(session, published, person, minutes=90)
    theirs = await make_activity(
        session, world.other_center, world.other_admin, status=ActivityStatus.published
    )
    their_hours = await checkin_hours(session, theirs, world.other_volunteer, minutes=30)
    return {
        "published": published,
        "draft": draft,
        "hours": hours,
        "theirs": theirs,
        "their_hours": their_hours,
    }


async def test_end_to_end_a_client_registers_gets_a_token_and_reads_activities_and_hours(
    client: httpx.AsyncClient, world: World, data: dict[str, Any]
) -> None:
    # A center admin registers the client; its operator keeps the secret it is shown.
    registered = await register(client, world, scopes=["activities:read", "hours:read"])
    # The client asks for a token by RFC 6749 §4.4, with HTTP Basic.
    answer = await client.post(
        TOKEN,
        data={"grant_type": "client_credentials", "scope": "activities:read hours:read"},
        headers=basic(registered["client_id"], registered["client_secret"]),
    )
    assert answer.status_code == 200, answer.text
    auth = bearer(answer.json()["access_token"])

    activities = await client.get(
        "/v1/activities", headers=auth, params={"from": "2000-01-01T00:00:00Z"}
    )
    one = await client.get(f"/v1/activities/{data['published'].id}", headers=auth)
    hours = await client.get("/v1/hours", headers=auth)
    record = await client.get(f"/v1/hours/{data['hours'].id}", headers=auth)

    assert activities.status_code == 200, activities.text
    listed = {a["id"] for a in activities.json()["items"]}
    assert str(data["published"].id) in listed
    assert str(data["draft"].id) not in listed
    assert str(data["theirs"].id) not in listed
    assert one.status_code == 200
    assert hours.status_code == 200, hours.text
    assert [h["id"] for h in hours.json()["items"]] == [str(data["hours"].id)]
    assert hours.json()["items"][0]["minutes"] == 90
    assert record.status_code == 200, record.text
    assert record.json()["volunteer"]["name"] == "志愿者丙"
    for response in (activities, one, hours, record):
        assert ID_NUMBER not in response.text
        assert PHONE not in response.text
        assert "id_number" not in response.text
        assert "phone" not in response.text


async def test_a_client_is_refused_outside_its_scopes(
    client: httpx.AsyncClient, world: World, data: dict[str, Any]
) -> None:
    registered = await register(client, world, scopes=["activities:read", "hours:read"])
    activities_only = bearer(await token(client, registered, scope="activities:read"))

    hours = await client.get("/v1/hours", headers=activities_only)
    me = await client.get("/v1/me", headers=activities_only)
    staff = await client.get("/v1/staff", headers=activities_only)
    create = await client.post("/v1/projects", json={"name": "x"}, headers=activities_only)
    volunteer = await client.get(
        f"/v1/volunteers/{data['hours'].volunteer_id}", headers=activities_only
    )

    assert hours.status_code == 403
    assert hours.json()["code"] == "insufficient_scope"
    assert hours.headers["www-authenticate"] == (
        'Bearer error="insufficient_scope", scope="hours:read"'
    )
    for refused in (me, staff, create):
        assert refused.status_code == 403, refused.text
        assert refused.json()["code"] == "insufficient_scope"
        assert refused.headers["www-authenticate"] == 'Bearer error="insufficient_scope"'
    assert volunteer.status_code == 403
    assert volunteer.headers["www-authenticate"] == (
        'Bearer error="insufficient_scope", scope="volunteers:read"'
    )


async def test_another_regions_rows_are_unreachable(
    client: httpx.AsyncClient, world: World, data: dict[str, Any]
) -> None:
    registered = await register(client, world, scopes=["activities:read", "hours:read"])
    auth = bearer(await token(client, registered))

    activity = await client.get(f"/v1/activities/{data['theirs'].id}", headers=auth)
    record = await client.get(f"/v1/hours/{data['their_hours'].id}", headers=auth)
    hours = await client.get(
        "/v1/hours", headers=auth, params={"activity_id": str(data["theirs"].id)}
    )

    assert activity.status_code == 404
    assert record.status_code == 404
    assert hours.json()["items"] == []


async def test_a_suspended_clients_live_token_is_refused_at_once(
    client: httpx.AsyncClient, world: World, data: dict[str, Any]
) -> None:
    registered = await register(client, world, scopes=["activities:read"])
    auth = bearer(await token(client, registered))
    assert (await client.get("/v1/activities", headers=auth)).status_code == 200

    await client.patch(
        f"/v1/clients/{registered['client_id']}",
        json={"status": "suspended"},
        headers=world.auth["center_admin"],
    )

    refused = await client.get("/v1/activities", headers=auth)
    assert refused.status_code == 401
    assert refused.json()["code"] == "token_invalid"


async def test_every_client_call_is_in_the_access_log_with_its_client(
    client: httpx.AsyncClient, world: World, caplog: pytest.LogCaptureFixture
) -> None:
    registered = await register(client, world, scopes=["activities:read"])
    auth = bearer(await token(client, registered))

    with caplog.at_level(logging.INFO, logger="liangpiao.access"):
        await client.get("/v1/activities", headers=auth)
        await client.get("/v1/hours", headers=auth)

    lines = [r for r in caplog.records if r.name == "liangpiao.access"]
    assert [(r.path, r.status, r.client_id) for r in lines] == [  # type: ignore[attr-defined]
        ("/v1/activities", 200, registered["client_id"]),
        ("/v1/hours", 403, registered["client_id"]),
    ]


async def test_volunteers_read_shows_a_profile_without_id_number_or_phone(
    client: httpx.AsyncClient, world: World, data: dict[str, Any]
) -> None:
    registered = await register(client, world, scopes=["volunteers:read"])
    auth = bearer(await token(client, registered))
    person = data["hours"].volunteer_id

    profile = await client.get(f"/v1/volunteers/{person}", headers=auth)
    theirs = await client.get(f"/v1/volunteers/{world.other_volunteer.id}", headers=auth)

    assert profile.status_code == 200, profile.text
    body = profile.json()
    assert body["name"] == "志愿者丙"
    assert {"id_number", "phone", "id_type"} & body.keys() == set()
    assert ID_NUMBER[-4:] not in profile.text
    assert PHONE[-4:] not in profile.text
    assert theirs.status_code == 404


async def test_records_read_gives_a_service_record_without_id_number_or_phone(
    client: httpx.AsyncClient, world: World, data: dict[str, Any]
) -> None:
    registered = await register(client, world, scopes=["records:read"])
    auth = bearer(await token(client, registered))
    person = data["hours"].volunteer_id

    record = await client.get(f"/v1/volunteers/{person}/record", headers=auth)
    theirs = await client.get(f"/v1/volunteers/{world.other_volunteer.id}/record", headers=auth)
    as_staff = await client.get(
        f"/v1/volunteers/{person}/record", headers=world.auth["center_admin"]
    )

    assert record.status_code == 200, record.text
    basics = record.json()["basic_information"]
    assert basics["name"] == "志愿者丙"
    assert {"id_number", "phone", "id_type"} & basics.keys() == set()
    assert ID_NUMBER[-4:] not in record.text
    assert PHONE[-4:] not in record.text
    assert theirs.status_code == 404
    assert as_staff.status_code == 403
