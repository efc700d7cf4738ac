"""The centre admin's steps: the region's reward policy, an organizer on the station, a
merchant paired with it and the merchant's owner login."""

from __future__ import annotations

import secrets

from app.tour.client import ADMIN
from app.tour.settings import EARNING_SOURCES, RATE_PER_HOUR, STATION_NAME
from app.tour.story import Story


async def set_up_region(story: Story, *, admin_password: str) -> None:
    """1. The centre admin sets the region up."""
    tour, run = story.tour, story.run
    await tour.log_in(ADMIN, "admin", admin_password)
    regions = await tour.step(
        ADMIN,
        "read my region",
        "GET",
        "/v1/regions",
        fact=lambda d: f"{d['items'][0]['name']} ({d['items'][0]['timezone']})",
    )
    region = regions["items"][0]
    units = await tour.step(
        ADMIN,
        "list the stations",
        "GET",
        "/v1/org-units",
        params={"kind": "station", "limit": "100"},
        fact=lambda d: f"{len(d['items'])} stations",
    )
    station = next((u for u in units["items"] if u["name"] == STATION_NAME), units["items"][0])
    await tour.step(
        ADMIN,
        "set the reward policy",
        "PUT",
        f"/v1/regions/{region['id']}/reward-policy",
        body={"rate_per_hour": RATE_PER_HOUR, "earning_sources": list(EARNING_SOURCES)},
        fact=lambda d: f"{d['rate_per_hour']} 良票/h for {', '.join(d['earning_sources'])} hours",
    )
    await tour.step(
        ADMIN,
        "read the check-in policy",
        "GET",
        "/v1/activity-policy",
        fact=lambda d: (
            f"check-in from {d['checkin_opens_before_min']} min before the start, "
            f"check-out until {d['checkout_closes_after_min']} min after the end, "
            f"{d['daily_cap_minutes']} min a day"
        ),
    )
    organizer_password = secrets.token_urlsafe(16)
    organizer = await tour.step(
        ADMIN,
        "create an organizer on the station",
        "POST",
        "/v1/staff",
        expect=201,
        body={
            "username": f"tour-organizer-{run}",
            "display_name": f"导览组织者 {run}",
            "password": organizer_password,
            "grants": [{"org_unit_id": station["id"], "role": "organizer"}],
        },
        fact=lambda d: f"{d['username']}: organizer on {station['name']}",
    )
    merchant = await tour.step(
        ADMIN,
        "onboard a merchant paired with the station",
        "POST",
        "/v1/merchants",
        expect=201,
        body={
            "name": f"文明面馆 {run}",
            "address": "松陵街道中山路1号",
            "latitude": station["latitude"],
            "longitude": station["longitude"],
            "category": "food",
            "station_ids": [station["id"]],
        },
        fact=lambda d: f"{d['name']}, {d['status']}",
    )
    merchants = f"/v1/merchants/{merchant['id']}"
    await tour.step(
        ADMIN,
        "activate the merchant",
        "POST",
        f"{merchants}/status",
        body={"status": "active"},
        fact=lambda d: d["status"],
    )
    owner_password = secrets.token_urlsafe(16)
    owner = await tour.step(
        ADMIN,
        "create the merchant's owner login",
        "POST",
        f"{merchants}/staff",
        expect=201,
        body={
            "username": f"tour-owner-{run}",
            "display_name": "面馆老板",
            "password": owner_password,
            "role": "merchant_owner",
        },
        fact=lambda d: f"{d['username']}: {d['role']}",
    )
    story.region, story.station, story.merchants = region, station, merchants
    story.organizer, story.organizer_password = organizer, organizer_password
    story.owner, story.owner_password = owner, owner_password
