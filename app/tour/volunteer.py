"""The volunteer's steps on site: logged in with WeChat, signed up, checked in and out with
the organizer's rotating code from inside the radius, the check-in hours approved."""

from __future__ import annotations

from app.tour.client import ORGANIZER, VOLUNTEER
from app.tour.settings import VOLUNTEER_CODE
from app.tour.story import Story


async def serve(story: Story) -> None:
    """3. A volunteer signs up, checks in and out on site."""
    tour, station, activities = story.tour, story.station, story.activities
    login = await tour.step(
        VOLUNTEER,
        f"log in with WeChat code {VOLUNTEER_CODE!r}",
        "POST",
        "/v1/auth/wechat",
        body={"code": VOLUNTEER_CODE},
        fact=lambda d: f"volunteer {d['volunteer_id']}" + (" (new)" if d["is_new"] else ""),
    )
    tour.tokens[VOLUNTEER] = login["access_token"]
    volunteer_id = login["volunteer_id"]
    before = await tour.step(
        VOLUNTEER,
        "read my wallet",
        "GET",
        "/v1/me/wallet",
        fact=lambda d: f"balance {d['balance']['available']} 良票",
    )
    balance_before = before["balance"]["available"]
    await tour.step(
        VOLUNTEER,
        "sign up",
        "POST",
        f"{activities}/signups",
        expect=201,
        fact=lambda d: f"sign-up {d['status']}",
    )
    # About 30 m north of the site: inside its radius.
    here = {"latitude": station["latitude"] + 0.0003, "longitude": station["longitude"]}
    on_site = {**here, "accuracy": 15.0}
    for verb in ("check-in", "check-out"):
        code = await tour.step(
            ORGANIZER,
            "show the rotating check-in code",
            "GET",
            f"{activities}/checkin-code",
            fact=lambda d: f"code {d['code'][:6]}…, next in {d['expires_in']} s",
        )
        attendance = await tour.step(
            VOLUNTEER,
            f"{verb} with the code, 30 m from the site",
            "POST",
            f"{activities}/{verb}",
            expect=201 if verb == "check-in" else 200,
            body={"code": code["code"], **on_site},
            idempotent=True,
            fact=lambda d: (
                f"credited {d['credited_minutes']} min (exact rounding)"
                if d["checked_out_at"]
                else f"checked in at {d['checked_in_at']}"
            ),
        )
    checkin_record = attendance["hours_record_id"]
    await tour.step(
        ORGANIZER,
        "approve the check-in hours",
        "POST",
        f"/v1/hours/{checkin_record}/approve",
        fact=lambda d: f"{d['minutes']} min {d['status']}: under a minute on site earns nothing",
    )
    story.volunteer_id, story.balance_before = volunteer_id, balance_before
