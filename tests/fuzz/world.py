"""The fuzzed app's world: a region in use, seeded as its people would seed it.

On top of the shared test world (a region tree, its staff and volunteers) everything
goes through the HTTP API: the center admin sets a reward policy, a team and a
merchant with offers, staff and terminals; the organizer runs a project with an
activity under way, one open for sign-up and a draft; volunteers sign up, check in
and out; hours are made up, approved (and so paid in 良票 through the outbox),
left pending and disputed; the ledger is sealed; a terminal redeems once. The ids
of all of it feed the fuzzer's dictionaries, so that generated requests name real
rows and reach the code behind the 404s.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import httpx
import pyotp

from app.core import clock
from app.integrations import outbox
from app.ledger import sealing
from app.ledger.heads import HeadLog
from app.ledger.signer import load_signer
from app.volunteers.models import Volunteer
from app.worker import register_event_handlers
from bench.terminal_client import TerminalClient, TerminalSigner
from tests.builders import World, staff_auth, volunteer_auth

LAT, LNG = 31.16, 120.64
RATE_PER_HOUR = 60


class SeedError(AssertionError):
    """A set-up request did not answer as expected: the world is not what the fuzzer assumes."""


@dataclass(frozen=True)
class OfflineWallet:
    """What a volunteer's mini-program keeps to show offline redemption codes."""

    secret: str
    prefix: str
    wallet_no: str
    digits: int
    period_seconds: int

    def code(self) -> str:
        """The code of the current 30-second step, by the server's clock."""
        totp = pyotp.TOTP(self.secret, digits=self.digits, interval=self.period_seconds)
        return self.prefix + self.wallet_no + totp.at(clock.now())


@dataclass
class FuzzWorld:
    world: World
    app: Any
    terminal: TerminalSigner
    offline_wallet: OfflineWallet
    # Real values per parameter name (path, query or body), for the fuzzer's dictionaries.
    known: dict[str, list[str]] = field(default_factory=dict)

    def headers(self, principal: str) -> dict[str, str]:
        return headers_of(self.app, self.world, principal)


def headers_of(app: Any, world: World, principal: str) -> dict[str, str]:
    """A bearer token issued now, so that a long run never holds an expired one."""
    person = getattr(world, principal)
    if isinstance(person, Volunteer):
        return volunteer_auth(app, person)
    return staff_auth(app, person)


class Seeder:
    def __init__(self, client: httpx.AsyncClient, app: Any, world: World) -> None:
        self.client = client
        self.app = app
        self.world = world
        self.known: dict[str, list[str]] = {}
        self.terminal: TerminalSigner | None = None
        self.offline_wallet: OfflineWallet | None = None

    async def call(
        self,
        method: str,
        path: str,
        *,
        who: str,
        expect: int,
        json: Any = None,
        headers: dict[str, str] | None = None,
    ) -> Any:
        response = await self.client.request(
            method,
            path,
            json=json,
            headers={**headers_of(self.app, self.world, who), **(headers or {})},
        )
        if response.status_code != expect:
            raise SeedError(f"{method} {path} as {who}: {response.status_code} {response.text}")
        return response.json() if response.content else None

    def remember(self, name: str, *values: Any) -> None:
        bucket = self.known.setdefault(name, [])
        bucket.extend(str(v) for v in values if str(v) not in bucket)


async def _deliver_events(app: Any) -> None:
    register_event_handlers()
    while await outbox.dispatch_batch(app.state.db.sessions):
        pass


async def _seal_ledger(app: Any) -> None:
    signer = load_signer(app.state.settings)
    heads = HeadLog.from_settings(app.state.settings)
    while await sealing.seal_pending(app.state.db.sessions, signer=signer, heads=heads):
        pass


def _at(moment: datetime) -> str:
    return moment.isoformat()


async def seed(app: Any, client: httpx.AsyncClient, world: World) -> FuzzWorld:
    region = str(world.region.id)
    station = str(world.station_x.id)
    s = Seeder(client, app, world)
    s.remember("region_id", region, world.other_region.id)
    s.remember(
        "unit_id",
        station,
        world.center.id,
        world.institute_x.id,
        world.institute_y.id,
        world.station_y.id,
        world.point_x.id,
    )
    s.remember(
        "staff_id",
        world.center_admin.id,
        world.organizer_x.id,
        world.organizer_y.id,
        world.station_admin_x.id,
    )
    s.remember("volunteer_id", world.volunteer_a.id, world.volunteer_b.id)

    await s.call(
        "PUT",
        f"/v1/regions/{region}/reward-policy",
        who="center_admin",
        expect=200,
        json={"rate_per_hour": RATE_PER_HOUR, "earning_sources": ["checkin", "makeup"]},
    )
    team = await s.call(
        "POST",
        "/v1/teams",
        who="center_admin",
        expect=201,
        json={"org_unit_id": station, "name": "环保志愿服务队", "category": "environment"},
    )
    s.remember("team_id", team["id"])
    grant = await s.call(
        "POST",
        f"/v1/staff/{world.organizer_y.id}/grants",
        who="center_admin",
        expect=201,
        json={"org_unit_id": str(world.point_x.id), "role": "organizer"},
    )
    s.remember("grant_id", grant["id"])

    project = await s.call(
        "POST",
        "/v1/projects",
        who="organizer_x",
        expect=201,
        json={
            "org_unit_id": station,
            "team_id": team["id"],
            "title": "清洁家园",
            "category": "environment",
        },
    )
    s.remember("project_id", project["id"])
    now = clock.now()
    under_way = await _activity(
        s, project["id"], starts=now - timedelta(hours=3), hours=6, title="河道清洁", walk_ins=True
    )
    upcoming = await _activity(
        s, project["id"], starts=now + timedelta(days=2), hours=3, title="周六志愿服务日"
    )
    draft = await _activity(
        s, project["id"], starts=now + timedelta(days=7), hours=2, title="草稿", publish=False
    )
    s.remember("activity_id", under_way, upcoming, draft)
    for volunteer in ("volunteer_a", "volunteer_b"):
        await s.call("POST", f"/v1/activities/{upcoming}/signups", who=volunteer, expect=201)

    # volunteer_b checked in two hours ago and out one hour ago: a pending check-in record.
    for action, ago in (("check-in", 2), ("check-out", 1)):
        with clock.travel(now - timedelta(hours=ago)):
            code = await s.call(
                "GET", f"/v1/activities/{under_way}/checkin-code", who="organizer_x", expect=200
            )
            await s.call(
                "POST",
                f"/v1/activities/{under_way}/{action}",
                who="volunteer_b",
                expect=201 if action == "check-in" else 200,
                json={"code": code["code"], "latitude": LAT, "longitude": LNG, "accuracy": 10},
                headers={"Idempotency-Key": uuid.uuid4().hex},
            )

    approved = await _makeup(s, under_way, world.volunteer_a.id, minutes=300)
    await s.call("POST", f"/v1/hours/{approved}/approve", who="organizer_x", expect=200)
    pending = await _makeup(s, under_way, world.volunteer_a.id, minutes=30)
    disputed = await _makeup(s, under_way, world.volunteer_b.id, minutes=45)
    await s.call("POST", f"/v1/hours/{disputed}/approve", who="organizer_x", expect=200)
    correction = await s.call(
        "POST",
        f"/v1/hours/{disputed}/corrections",
        who="volunteer_b",
        expect=201,
        json={"minutes": 60, "reason": "签退忘记了"},
    )
    s.remember("record_id", approved, pending, disputed)
    s.remember("correction_id", correction["id"])
    await _deliver_events(app)

    await _merchant(s, station)
    await _seal_ledger(app)
    entries = await s.call("GET", "/v1/me/wallet/transactions", who="volunteer_a", expect=200)
    s.remember("transaction_id", *_ids_in(entries, "transaction_id"))
    for transaction_id in s.known["transaction_id"]:
        transaction = await s.call(
            "GET", f"/v1/ledger/transactions/{transaction_id}", who="center_admin", expect=200
        )
        s.remember("account_id", *_ids_in(transaction, "account_id"))
    s.remember("day", clock.today_in("Asia/Shanghai").isoformat())
    s.remember("code", "not_found", "validation_failed", "insufficient_balance")
    if s.terminal is None or s.offline_wallet is None:
        raise SeedError("the merchant's terminal or the offline wallet was not set up")
    return FuzzWorld(
        world=world,
        app=app,
        terminal=s.terminal,
        offline_wallet=s.offline_wallet,
        known=s.known,
    )


async def _activity(
    s: Seeder,
    project_id: str,
    *,
    starts: datetime,
    hours: int,
    title: str,
    walk_ins: bool = False,
    publish: bool = True,
) -> str:
    created = await s.call(
        "POST",
        "/v1/activities",
        who="organizer_x",
        expect=201,
        json={
            "org_unit_id": str(s.world.station_x.id),
            "project_id": project_id,
            "title": title,
            "category": "environment",
            "starts_at": _at(starts),
            "ends_at": _at(starts + timedelta(hours=hours)),
            "latitude": LAT,
            "longitude": LNG,
            "address": "松陵街道文明实践站",
            "radius_m": 300,
            "capacity": 50,
            "walk_ins_allowed": walk_ins,
            "rounding_mode": "exact",
        },
    )
    if publish:
        await s.call(
            "POST", f"/v1/activities/{created['id']}/publish", who="organizer_x", expect=200
        )
    return str(created["id"])


async def _makeup(s: Seeder, activity_id: str, volunteer_id: uuid.UUID, *, minutes: int) -> str:
    record = await s.call(
        "POST",
        "/v1/hours/makeup",
        who="center_admin",
        expect=201,
        json={
            "volunteer_id": str(volunteer_id),
            "activity_id": activity_id,
            "minutes": minutes,
            "reason": "纸质签到补录",
        },
        headers={"Idempotency-Key": uuid.uuid4().hex},
    )
    return str(record["id"])


async def _merchant(s: Seeder, station: str) -> None:
    merchant = await s.call(
        "POST",
        "/v1/merchants",
        who="center_admin",
        expect=201,
        json={
            "name": "文明面馆",
            "address": "松陵街道中山路1号",
            "latitude": LAT,
            "longitude": LNG,
            "category": "food",
            "station_ids": [station],
        },
    )
    merchant_id = merchant["id"]
    await s.call(
        "POST",
        f"/v1/merchants/{merchant_id}/status",
        who="center_admin",
        expect=200,
        json={"status": "active"},
    )
    offers = [
        await s.call(
            "POST",
            f"/v1/merchants/{merchant_id}/offers",
            who="center_admin",
            expect=201,
            json=body,
        )
        for body in (
            {"title": "一碗阳春面", "price": 10},
            {
                "title": "限量套餐",
                "price": 25,
                "stock": 100,
                "limit_count": 3,
                "limit_period": "day",
            },
        )
    ]
    for role in ("merchant_owner", "cashier"):
        member = await s.call(
            "POST",
            f"/v1/merchants/{merchant_id}/staff",
            who="center_admin",
            expect=201,
            json={
                "username": f"{role}-{uuid.uuid4().hex[:6]}",
                "display_name": "店员",
                "password": "fuzz-merchant-password",
                "role": role,
            },
        )
        s.remember("staff_id", member["id"])
    terminals = [
        await s.call(
            "POST",
            f"/v1/merchants/{merchant_id}/terminals",
            who="center_admin",
            expect=201,
            json={"name": name},
        )
        for name in ("收银台1", "收银台2")
    ]
    s.remember("merchant_id", merchant_id)
    s.remember("offer_id", *(offer["id"] for offer in offers))
    s.remember("terminal_id", *(terminal["id"] for terminal in terminals))
    s.terminal = TerminalSigner(
        key_id=terminals[0]["key_id"],
        private_key_pem=terminals[0]["private_key"],
        clock=lambda: clock.now().timestamp(),
    )

    code = await s.call("POST", "/v1/me/redemption-codes", who="volunteer_a", expect=201)
    receipt = await TerminalClient(s.client, s.terminal).redeem(
        code["code"], request_no="seed-0001", offer_id=offers[0]["id"]
    )
    if receipt.status_code != 201:
        raise SeedError(f"seed redemption: {receipt.status_code} {receipt.text}")
    s.remember("request_no", "seed-0001")
    s.remember("redemption_id", receipt.json()["id"])
    secret = await s.call("POST", "/v1/me/offline-code-secret", who="volunteer_a", expect=201)
    s.offline_wallet = OfflineWallet(
        secret=secret["secret"],
        prefix=secret["prefix"],
        wallet_no=secret["wallet_no"],
        digits=secret["digits"],
        period_seconds=secret["period_seconds"],
    )


def _ids_in(body: Any, key: str) -> list[str]:
    """Every value of `key` anywhere in a JSON body."""
    found: list[str] = []
    if isinstance(body, dict):
        for name, value in body.items():
            if name == key and isinstance(value, str):
                found.append(value)
            else:
                found.extend(_ids_in(value, key))
    elif isinstance(body, list):
        for item in body:
            found.extend(_ids_in(item, key))
    return found
