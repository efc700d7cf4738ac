"""Rotating codes: what the organizer's screen and the volunteer's personal QR show, and
the organizer's scan of a personal code to check a volunteer in or out."""

from __future__ import annotations

import base64
import re
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from app.activities import codes
from app.activities.models import Activity, ActivityStatus, AttendanceMethod
from app.core import clock
from tests.activities.support import (
    Reader,
    assert_problem,
    attendances_of,
    auth,
    check_in,
    check_out,
    make_activity,
    sign_up_row,
)
from tests.builders import make_volunteer

# What a WeChat mini-program QR `scene` may hold: 32 visible characters of this set.
SCENE = re.compile(r"^[0-9A-Za-z!#$&'()*+,/:;=?@\-._~]{1,32}$")
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


# The scheme


def test_a_code_fits_a_wechat_scene_and_verifies_in_its_window_and_the_next() -> None:
    secret, subject = b"k" * 32, uuid.uuid4()
    at = datetime(2030, 1, 1, 8, 0, 3, tzinfo=UTC)
    issued = codes.issue(secret, kind="a", subject_id=subject, at=at)
    parsed = codes.parse(issued.code)

    assert SCENE.match(issued.code)
    assert issued.expires_in == 7
    assert parsed is not None
    assert parsed.subject_id == subject
    assert codes.verify(secret, parsed, at=at)[0] == codes.Verdict.valid
    assert codes.verify(secret, parsed, at=at + timedelta(seconds=10))[0] == codes.Verdict.valid
    assert codes.verify(secret, parsed, at=at + timedelta(seconds=17))[0] == codes.Verdict.expired
    assert codes.verify(b"x" * 32, parsed, at=at)[0] == codes.Verdict.invalid


def test_a_tampered_code_is_invalid() -> None:
    secret, subject = b"k" * 32, uuid.uuid4()
    at = datetime(2030, 1, 1, 8, 0, 3, tzinfo=UTC)
    code = codes.issue(secret, kind="a", subject_id=subject, at=at).code

    for i in (0, 5, 24, 31):
        tampered = code[:i] + ("B" if code[i] != "B" else "C") + code[i + 1 :]
        parsed = codes.parse(tampered)
        assert parsed is None or codes.verify(secret, parsed, at=at)[0] != codes.Verdict.valid
    assert codes.parse(code + "A") is None
    assert codes.parse("a" + "!" * 31) is None


# The organizer's screen


async def test_the_organizer_gets_the_code_and_its_qr_images(
    client: Any, app: Any, world: Any, session: Any
) -> None:
    activity = await make_activity(session, world.point_x, world.organizer_x)
    headers = auth(app, world.organizer_x)

    response = await client.get(f"/v1/activities/{activity.id}/checkin-code", headers=headers)
    svg = await client.get(f"/v1/activities/{activity.id}/checkin-code?format=svg", headers=headers)
    png = await client.get(f"/v1/activities/{activity.id}/checkin-code?format=png", headers=headers)

    assert response.status_code == 200, response.text
    body = response.json()
    assert SCENE.match(body["code"])
    assert 1 <= body["expires_in"] <= codes.WINDOW_SECONDS
    assert body["svg"].startswith("<svg")
    assert body["png"].startswith("data:image/png;base64,")
    assert base64.b64decode(body["png"].split(",", 1)[1]).startswith(PNG_SIGNATURE)
    assert svg.headers["content-type"].startswith("image/svg+xml")
    assert png.headers["content-type"] == "image/png"
    assert png.content.startswith(PNG_SIGNATURE)


async def test_the_code_changes_every_ten_seconds(
    client: Any, app: Any, world: Any, session: Any
) -> None:
    activity = await make_activity(session, world.station_x, world.organizer_x)
    at = datetime.fromtimestamp((int(clock.now().timestamp()) // 10 + 1) * 10 + 1, tz=UTC)

    seen = []
    for offset in (0, 5, 10):
        with clock.travel(at + timedelta(seconds=offset)):
            response = await client.get(
                f"/v1/activities/{activity.id}/checkin-code",
                headers=auth(app, world.organizer_x),
            )
        seen.append(response.json()["code"])

    assert seen[0] == seen[1] != seen[2]


async def test_only_organizers_of_the_unit_get_the_code_of_a_published_activity(
    client: Any, app: Any, world: Any, session: Any
) -> None:
    activity = await make_activity(session, world.station_x, world.organizer_x)
    draft = await make_activity(
        session, world.station_x, world.organizer_x, status=ActivityStatus.draft
    )
    url = f"/v1/activities/{activity.id}/checkin-code"

    assert_problem(
        await client.get(url, headers=auth(app, world.organizer_y)), 403, "not_permitted_on_unit"
    )
    assert_problem(await client.get(url, headers=auth(app, world.volunteer_a)), 403, "forbidden")
    assert_problem(
        await client.get(url, headers=auth(app, world.other_admin)), 404, "activity_not_found"
    )
    assert_problem(
        await client.get(
            f"/v1/activities/{draft.id}/checkin-code", headers=auth(app, world.organizer_x)
        ),
        409,
        "activity_state_conflict",
    )
    ok = await client.get(url, headers=auth(app, world.center_admin))
    assert ok.status_code == 200


# The volunteer's personal code, scanned by the organizer


async def personal_code(client: Any, app: Any, volunteer: Any) -> str:
    response = await client.get("/v1/me/qr", headers=auth(app, volunteer))
    assert response.status_code == 200, response.text
    code: str = response.json()["code"]
    return code


async def scan(
    client: Any, app: Any, staff: Any, activity: Activity, code: str, action: str
) -> Any:
    return await client.post(
        f"/v1/activities/{activity.id}/attendances/scan",
        json={"code": code, "action": action},
        headers={**auth(app, staff), "Idempotency-Key": uuid.uuid4().hex},
    )


async def test_a_volunteers_personal_code_is_a_rotating_qr(
    client: Any, app: Any, world: Any
) -> None:
    body = (await client.get("/v1/me/qr", headers=auth(app, world.volunteer_a))).json()
    png = await client.get("/v1/me/qr?format=png", headers=auth(app, world.volunteer_a))
    staff = await client.get("/v1/me/qr", headers=auth(app, world.organizer_x))

    assert SCENE.match(body["code"])
    assert body["code"] != (await personal_code(client, app, world.volunteer_b))
    assert png.content.startswith(PNG_SIGNATURE)
    assert_problem(staff, 403, "forbidden")


async def test_the_organizer_checks_a_volunteer_in_and_out_by_scanning(
    client: Any, app: Any, world: Any, session: Any
) -> None:
    activity = await make_activity(session, world.station_x, world.organizer_x)
    await sign_up_row(session, activity, world.volunteer_a)

    code = await personal_code(client, app, world.volunteer_a)
    checked_in = await scan(client, app, world.organizer_x, activity, code, "check_in")
    assert checked_in.status_code == 200, checked_in.text
    assert checked_in.json()["method"] == "organizer_scan"
    # The code shown for the check-in cannot also check the volunteer out.
    with clock.travel(activity.starts_at + timedelta(minutes=60)):
        reused = await scan(client, app, world.organizer_x, activity, code, "check_out")
        assert_problem(reused, 422, "personal_code_expired")
    same_window = await scan(client, app, world.organizer_x, activity, code, "check_out")
    assert_problem(same_window, 409, "checkout_too_early")

    with clock.travel(activity.starts_at + timedelta(minutes=60)):
        fresh = await personal_code(client, app, world.volunteer_a)
        checked_out = await scan(client, app, world.organizer_x, activity, fresh, "check_out")
    assert checked_out.status_code == 200, checked_out.text
    assert checked_out.json()["credited_minutes"] == 60
    [row] = await attendances_of(Reader(app), activity)
    assert row.method == AttendanceMethod.organizer_scan
    assert row.checkout_method == AttendanceMethod.organizer_scan
    assert row.scanned_by == world.organizer_x.id
    assert row.checkin_latitude is None


async def test_a_personal_code_shown_before_the_check_in_cannot_check_out(
    client: Any, app: Any, world: Any, session: Any
) -> None:
    activity = await make_activity(
        session, world.station_x, world.organizer_x, starts_at=clock.now() - timedelta(minutes=5)
    )
    await sign_up_row(session, activity, world.volunteer_a)
    code = await personal_code(client, app, world.volunteer_a)

    assert (
        await scan(client, app, world.organizer_x, activity, code, "check_in")
    ).status_code == 200
    reused = await scan(client, app, world.organizer_x, activity, code, "check_out")

    assert_problem(reused, 409, "personal_code_used")
    [row] = await attendances_of(Reader(app), activity)
    assert row.checked_out_at is None


@pytest.mark.parametrize("mutation", ["tamper", "expire", "other_region", "activity_code"])
async def test_a_bad_personal_code_is_refused(
    client: Any, app: Any, world: Any, session: Any, mutation: str
) -> None:
    activity = await make_activity(session, world.station_x, world.organizer_x)
    await sign_up_row(session, activity, world.volunteer_a)
    code = await personal_code(client, app, world.volunteer_a)
    expected = "personal_code_invalid"
    if mutation == "tamper":
        code = code[:-1] + ("A" if code[-1] != "A" else "B")
    elif mutation == "other_region":
        code = await personal_code(client, app, world.other_volunteer)
    elif mutation == "activity_code":
        code = codes.issue(
            activity.checkin_secret, kind="a", subject_id=activity.id, at=clock.now()
        ).code
    else:
        expected = "personal_code_expired"

    at = clock.now() + timedelta(seconds=25 if mutation == "expire" else 0)
    with clock.travel(at):
        response = await scan(client, app, world.organizer_x, activity, code, "check_in")

    assert_problem(response, 422, expected)
    assert await attendances_of(Reader(app), activity) == []


async def test_a_high_value_activity_admits_only_the_organizers_scan(
    client: Any, app: Any, world: Any, session: Any
) -> None:
    activity = await make_activity(session, world.station_x, world.organizer_x, scan_required=True)
    await sign_up_row(session, activity, world.volunteer_a)

    # The activity's own code from the site, at the venue's point: refused all the same.
    own = await check_in(client, app, world.volunteer_a, activity)
    assert_problem(own, 409, "organizer_scan_required")
    assert await attendances_of(Reader(app), activity) == []

    code = await personal_code(client, app, world.volunteer_a)
    scanned = await scan(client, app, world.organizer_x, activity, code, "check_in")
    assert scanned.status_code == 200, scanned.text
    with clock.travel(activity.starts_at + timedelta(minutes=60)):
        own_out = await check_out(client, app, world.volunteer_a, activity)
        assert_problem(own_out, 409, "organizer_scan_required")
        fresh = await personal_code(client, app, world.volunteer_a)
        out = await scan(client, app, world.organizer_x, activity, fresh, "check_out")
    assert out.status_code == 200, out.text
    [row] = await attendances_of(Reader(app), activity)
    assert (row.method, row.checkout_method) == (
        AttendanceMethod.organizer_scan,
        AttendanceMethod.organizer_scan,
    )


async def test_scanning_needs_an_organizer_of_the_unit(
    client: Any, app: Any, world: Any, session: Any
) -> None:
    activity = await make_activity(session, world.station_x, world.organizer_x)
    volunteer = await make_volunteer(session, world.region)
    await sign_up_row(session, activity, volunteer)
    code = await personal_code(client, app, volunteer)

    response = await scan(client, app, world.organizer_y, activity, code, "check_in")

    assert_problem(response, 403, "not_permitted_on_unit")
    assert await attendances_of(Reader(app), activity) == []
