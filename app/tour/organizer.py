"""The organizer's steps: an activity that has just started, published; make-up hours
entered, refused to their own approval and approved by the centre admin (the two-person
rule), until the 良票 reach the volunteer's wallet."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from app.tour.client import ADMIN, ORGANIZER, VOLUNTEER
from app.tour.settings import MAKEUP_MINUTES, RATE_PER_HOUR
from app.tour.story import Story, instant


async def run_activity(story: Story) -> None:
    """2. The organizer runs an activity that has just started."""
    tour, run, station, organizer = story.tour, story.run, story.station, story.organizer
    organizer_password = story.organizer_password
    await tour.log_in(ORGANIZER, organizer["username"], organizer_password)
    now = datetime.now(UTC)
    # A minute back, so that a client clock a little ahead of the server's still finds
    # the activity started (check-out needs that); sign-up stays open until the end.
    starts = (now - timedelta(minutes=1)).replace(second=0, microsecond=0)
    ends = starts + timedelta(hours=2)
    activity = await tour.step(
        ORGANIZER,
        "create an activity starting now",
        "POST",
        "/v1/activities",
        expect=201,
        body={
            "org_unit_id": station["id"],
            "title": f"社区环境清洁 {run}",
            "category": "environment",
            "starts_at": instant(starts),
            "ends_at": instant(ends),
            "latitude": station["latitude"],
            "longitude": station["longitude"],
            "address": station["name"],
            "radius_m": 300,
            "capacity": 20,
            "signup_closes_at": instant(ends),
            "rounding_mode": "exact",
        },
        fact=lambda d: (
            f"{d['status']}, {d['starts_at']} to {d['ends_at']}, "
            f"{d['radius_m']} m, rounding {d['rounding_mode']}"
        ),
    )
    activities = f"/v1/activities/{activity['id']}"
    await tour.step(
        ORGANIZER, "publish it", "POST", f"{activities}/publish", fact=lambda d: d["status"]
    )
    story.activity, story.activities = activity, activities


async def enter_makeup_hours(story: Story) -> None:
    """4. Make-up hours, under the two-person rule."""
    tour, volunteer_id, activity = story.tour, story.volunteer_id, story.activity
    balance_before = story.balance_before
    makeup = await tour.step(
        ORGANIZER,
        f"enter {MAKEUP_MINUTES} min of make-up hours",
        "POST",
        "/v1/hours/makeup",
        expect=201,
        idempotent=True,
        body={
            "volunteer_id": volunteer_id,
            "activity_id": activity["id"],
            "minutes": MAKEUP_MINUTES,
            "reason": "布置场地，签到开放之前",
        },
        fact=lambda d: f"{d['minutes']} min {d['status']}",
    )
    await tour.step(
        ORGANIZER,
        "try to approve my own entry",
        "POST",
        f"/v1/hours/{makeup['id']}/approve",
        expect=403,
        fact=lambda d: f"refused as it must be: {d['code']}",
    )
    await tour.step(
        ADMIN,
        "approve the make-up hours",
        "POST",
        f"/v1/hours/{makeup['id']}/approve",
        fact=lambda d: f"{d['minutes']} min {d['status']}: hours.approved is on the outbox",
    )
    expected = balance_before + MAKEUP_MINUTES * RATE_PER_HOUR // 60
    await tour.until(
        VOLUNTEER,
        "wait for the 良票 in my wallet",
        "/v1/me/wallet",
        done=lambda r: r.status_code == 200 and r.json()["balance"]["available"] >= expected,
        check=lambda d: d["balance"]["available"] == expected,
        fact=lambda d: (
            f"balance {d['balance']['available']} 良票 "
            f"(+{d['balance']['available'] - balance_before})"
        ),
    )
    entries = await tour.step(
        VOLUNTEER,
        "list my wallet transactions",
        "GET",
        "/v1/me/wallet/transactions",
        params={"limit": "5"},
        check=lambda d: d["items"][0]["cause"]["reference_id"] == makeup["id"],
        fact=lambda d: _entry(d["items"][0]),
    )
    issuance = entries["items"][0]
    story.expected, story.issuance = expected, issuance


def _entry(entry: dict[str, Any]) -> str:
    cause = entry["cause"]
    return (
        f"newest: {entry['kind']} {entry['amount']:+d} "
        f"for {cause['reference_type']} {cause['reference_id']}"
    )
