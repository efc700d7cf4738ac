"""The chaos run's world, seeded before any process is harmed.

The demo region (吴江区: a centre, two institutes, four stations and a centre admin)
comes from the app's own `seed_organisation`; everything else goes through the HTTP API as
the people would do it: the admin sets a reward policy that makes every approved
minute worth 良票 (check-in and make-up hours alike) and creates one organizer per
station; organizers create and publish activities that are already under way and
take walk-ins; volunteers log in through the (fake) WeChat; the admin onboards a
merchant with an offer and terminals whose keys the server generates.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import aiohttp

from app.core import clock
from bench.terminal_client import TerminalSigner

ADMIN_PASSWORD = "chaos-admin-password"  # a throwaway database's admin
STAFF_PASSWORD = "chaos-organizer-password"
REGION_CODE = "wujiang"
# Every activity sits within a few hundred metres of this point, so that no sequence of
# check-ins looks like impossible travel.
CENTER = (31.1380, 120.6450)
RATE_PER_HOUR = 600
OFFER_PRICE = 5


class SeedError(RuntimeError):
    """A set-up request did not answer as expected (before any chaos: a real failure)."""


@dataclass(frozen=True)
class Organizer:
    staff_id: str
    unit_id: str
    headers: dict[str, str]


@dataclass(frozen=True)
class Site:
    """An activity and the organizer who runs it."""

    id: str
    organizer: Organizer
    latitude: float
    longitude: float


@dataclass(frozen=True)
class VolunteerLogin:
    id: str
    headers: dict[str, str]


@dataclass
class World:
    region_id: str
    admin: dict[str, str]
    organizers: list[Organizer]
    sites: list[Site]
    volunteers: list[VolunteerLogin]
    merchant_id: str
    offer_id: str
    terminals: list[TerminalSigner]


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def seed_demo_region(database_url: str) -> None:
    from app.core.config import Settings
    from app.core.db import Database
    from app.demo import seed_organisation

    db = Database(Settings(environment="test", database_url=database_url))
    try:
        async with db.sessions() as session, session.begin():
            # The organisation only: the demo's story would be effects no client was told of.
            await seed_organisation(session, admin_password=ADMIN_PASSWORD)
    finally:
        await db.dispose()


class SetupClient:
    def __init__(self, http: aiohttp.ClientSession, base_url: str) -> None:
        self.http = http
        self.base_url = base_url

    async def call(
        self,
        method: str,
        path: str,
        *,
        expect: int,
        json: Any = None,
        headers: dict[str, str] | None = None,
    ) -> Any:
        async with self.http.request(
            method, self.base_url + path, json=json, headers=headers
        ) as response:
            body = await response.json(content_type=None)
            if response.status != expect:
                raise SeedError(f"{method} {path}: {response.status} {body}")
            return body


async def seed_world(
    base_url: str,
    *,
    volunteers: int,
    activities_per_station: int,
    terminals: int,
) -> World:
    async with aiohttp.ClientSession() as http:
        api = SetupClient(http, base_url)
        login = await api.call(
            "POST",
            "/v1/auth/login",
            expect=200,
            json={"username": "admin", "password": ADMIN_PASSWORD},
        )
        admin = bearer(login["access_token"])
        regions = await api.call("GET", "/v1/regions", expect=200, headers=admin)
        region_id = regions["items"][0]["id"]
        await api.call(
            "PUT",
            f"/v1/regions/{region_id}/reward-policy",
            expect=200,
            headers=admin,
            json={"rate_per_hour": RATE_PER_HOUR, "earning_sources": ["checkin", "makeup"]},
        )
        stations = await api.call(
            "GET", "/v1/org-units?kind=station&limit=100", expect=200, headers=admin
        )
        organizers = [
            await _organizer(api, admin, unit_id=unit["id"], n=n)
            for n, unit in enumerate(stations["items"])
        ]
        sites = [
            await _site(api, organizer, n=n * activities_per_station + k)
            for n, organizer in enumerate(organizers)
            for k in range(activities_per_station)
        ]
        logins = [await _volunteer(api, n) for n in range(volunteers)]
        merchant_id, offer_id, signers = await _merchant(
            api, admin, station_ids=[o.unit_id for o in organizers], terminals=terminals
        )
    return World(
        region_id=region_id,
        admin=admin,
        organizers=organizers,
        sites=sites,
        volunteers=logins,
        merchant_id=merchant_id,
        offer_id=offer_id,
        terminals=signers,
    )


async def _organizer(api: SetupClient, admin: dict[str, str], *, unit_id: str, n: int) -> Organizer:
    username = f"organizer{n}"
    staff = await api.call(
        "POST",
        "/v1/staff",
        expect=201,
        headers=admin,
        json={
            "username": username,
            "display_name": f"组织者{n}",
            "password": STAFF_PASSWORD,
            "grants": [{"org_unit_id": unit_id, "role": "organizer"}],
        },
    )
    login = await api.call(
        "POST",
        "/v1/auth/login",
        expect=200,
        json={"username": username, "password": STAFF_PASSWORD},
    )
    return Organizer(staff_id=staff["id"], unit_id=unit_id, headers=bearer(login["access_token"]))


async def _site(api: SetupClient, organizer: Organizer, *, n: int) -> Site:
    now = clock.now()
    latitude = CENTER[0] + 0.001 * (n % 4)
    longitude = CENTER[1] + 0.001 * (n // 4)
    created = await api.call(
        "POST",
        "/v1/activities",
        expect=201,
        headers=organizer.headers,
        json={
            "org_unit_id": organizer.unit_id,
            "title": f"压力测试活动{n}",
            "category": "environment",
            # Under way, with walk-ins: volunteers check in without signing up first.
            "starts_at": (now - timedelta(hours=1)).isoformat(),
            "ends_at": (now + timedelta(hours=8)).isoformat(),
            "latitude": latitude,
            "longitude": longitude,
            "address": "松陵街道",
            "radius_m": 300,
            "capacity": 10_000,
            "walk_ins_allowed": True,
            # Minutes as measured: a stay of a minute earns a minute.
            "rounding_mode": "exact",
        },
    )
    await api.call(
        "POST", f"/v1/activities/{created['id']}/publish", expect=200, headers=organizer.headers
    )
    return Site(id=created["id"], organizer=organizer, latitude=latitude, longitude=longitude)


async def _volunteer(api: SetupClient, n: int) -> VolunteerLogin:
    login = await api.call(
        "POST",
        "/v1/auth/wechat",
        expect=200,
        json={"code": f"chaos-volunteer-{n}", "region_code": REGION_CODE},
    )
    return VolunteerLogin(id=login["volunteer_id"], headers=bearer(login["access_token"]))


async def _merchant(
    api: SetupClient, admin: dict[str, str], *, station_ids: list[str], terminals: int
) -> tuple[str, str, list[TerminalSigner]]:
    merchant = await api.call(
        "POST",
        "/v1/merchants",
        expect=201,
        headers=admin,
        json={
            "name": "文明面馆",
            "address": "松陵街道 1 号",
            "latitude": CENTER[0],
            "longitude": CENTER[1],
            "category": "food",
            "station_ids": station_ids,
        },
    )
    merchant_id = merchant["id"]
    await api.call(
        "POST",
        f"/v1/merchants/{merchant_id}/status",
        expect=200,
        headers=admin,
        json={"status": "active"},
    )
    offer = await api.call(
        "POST",
        f"/v1/merchants/{merchant_id}/offers",
        expect=201,
        headers=admin,
        json={"title": "一碗面", "price": OFFER_PRICE},
    )
    signers = []
    for n in range(terminals):
        terminal = await api.call(
            "POST",
            f"/v1/merchants/{merchant_id}/terminals",
            expect=201,
            headers=admin,
            json={"name": f"收银台{n}"},
        )
        signers.append(
            TerminalSigner(key_id=terminal["key_id"], private_key_pem=terminal["private_key"])
        )
    return merchant_id, offer["id"], signers
