"""`python -m app tour`: the walkthrough of docs/walkthrough.md, played against a running server.

Every role takes its turn over HTTP, as its own client would: the centre admin sets the
region up, an organizer runs an activity, a volunteer serves and spends, a merchant
owner opens a shop and its terminal signs a redemption (RFC 9421, Ed25519). Each step
prints one line — role, action, HTTP status, the fact that matters — and the first
unexpected answer stops the tour with exit status 1. Names carry a per-run suffix, so
the tour runs again and again against the same server.

It needs the demo region (`python -m app seed-demo`) and a server that logs volunteers
in, such as `make run` with its fake WeChat; the centre admin's password is read from
the file `seed-demo` writes.
"""

from __future__ import annotations

import asyncio
import base64
import json
import secrets
import sys
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TextIO
from zoneinfo import ZoneInfo

import httpx
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from app.ledger.standalone_verify import verify_proof
from app.merchants import signing

# The demo's volunteer 王小明 (app.demo): the fake WeChat logs this code in as him.
VOLUNTEER_CODE = "xiaoming"
STATION_NAME = "流虹社区实践站"
# The region's reward policy the tour sets: one 良票 a minute, make-up hours earning too.
RATE_PER_HOUR = 60
EARNING_SOURCES = ("checkin", "makeup")
MAKEUP_MINUTES = 30
OFFER_PRICE = 10
# How long the tour waits for the background jobs: outbox delivery runs every second,
# ledger sealing every five.
JOB_WAIT_SECONDS = 30.0

Fact = Callable[[Any], str]
Check = Callable[[Any], bool]


class TourStopped(Exception):
    """The server answered what the story does not expect; the line is already printed."""


@dataclass
class Terminal:
    """A cashier's terminal: its own key pair, made here; the server keeps the public half."""

    key: Ed25519PrivateKey = field(default_factory=Ed25519PrivateKey.generate)
    key_id: str = ""

    @property
    def public_key(self) -> str:
        raw = self.key.public_key().public_bytes(
            serialization.Encoding.Raw, serialization.PublicFormat.Raw
        )
        return base64.b64encode(raw).decode()

    def headers(self, method: str, path: str, query: str, body: bytes) -> dict[str, str]:
        """The RFC 9421 headers of one request, signed over the server's own signature base."""
        digest = signing.content_digest(body)
        components = " ".join(f'"{c}"' for c in signing.COVERED_COMPONENTS)
        params = (
            f'({components});created={int(time.time())};nonce="{secrets.token_urlsafe(18)}"'
            f';keyid="{self.key_id}";alg="{signing.ALGORITHM}"'
        )
        values = {
            "@method": method.upper(),
            "@path": path,
            "@query": "?" + query,
            "content-digest": digest,
        }
        base = signing.signature_base(
            [(name, values[name]) for name in signing.COVERED_COMPONENTS], params
        )
        signature = base64.b64encode(self.key.sign(base)).decode()
        headers = {
            "Content-Digest": digest,
            "Signature-Input": f"sig1={params}",
            "Signature": f"sig1=:{signature}:",
        }
        if body:
            headers["Content-Type"] = "application/json"
        return headers


def _problem(response: httpx.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return response.text[:200]
    if isinstance(body, dict) and "code" in body:
        return f"{body['code']}: {body.get('detail') or body.get('title')}"
    return str(body)[:200]


class Tour:
    def __init__(self, http: httpx.AsyncClient, out: TextIO) -> None:
        self.http = http
        self.out = out
        self.tokens: dict[str, str] = {}

    def say(self, role: str, action: str, status: int | str, fact: str) -> None:
        print(f"{role:<14} {action:<44} {status!s:>4}  {fact}", file=self.out, flush=True)

    async def send(
        self,
        role: str,
        method: str,
        path: str,
        *,
        body: Any = None,
        params: dict[str, str] | None = None,
        idempotent: bool = False,
    ) -> httpx.Response:
        headers = {}
        if role in self.tokens:
            headers["Authorization"] = f"Bearer {self.tokens[role]}"
        if idempotent:
            headers["Idempotency-Key"] = str(uuid.uuid4())
        return await self.http.request(method, path, json=body, params=params, headers=headers)

    def judge(
        self,
        role: str,
        action: str,
        response: httpx.Response,
        *,
        expect: int,
        fact: Fact,
        check: Check | None = None,
    ) -> Any:
        """Print the step's line; stop unless the status, and `check` of the body, are right."""
        if response.status_code != expect:
            self.say(role, action, response.status_code, f"expected {expect}; {_problem(response)}")
            raise TourStopped()
        try:
            data = response.json() if response.content else None
            line = fact(data)
            holds = check is None or check(data)
        except (ValueError, LookupError, TypeError) as exc:
            self.say(role, action, "FAIL", f"unexpected body ({exc!r}): {response.text[:200]}")
            raise TourStopped() from exc
        if not holds:
            self.say(role, action, "FAIL", f"not what the story expects: {line}")
            raise TourStopped()
        self.say(role, action, response.status_code, line)
        return data

    async def step(
        self,
        role: str,
        action: str,
        method: str,
        path: str,
        *,
        expect: int = 200,
        fact: Fact,
        check: Check | None = None,
        body: Any = None,
        params: dict[str, str] | None = None,
        idempotent: bool = False,
    ) -> Any:
        response = await self.send(
            role, method, path, body=body, params=params, idempotent=idempotent
        )
        return self.judge(role, action, response, expect=expect, fact=fact, check=check)

    async def until(
        self,
        role: str,
        action: str,
        path: str,
        *,
        done: Callable[[httpx.Response], bool],
        fact: Fact,
        check: Check | None = None,
    ) -> Any:
        """GET `path` until `done` (a background job's effect), then judge the last answer."""
        deadline = time.monotonic() + JOB_WAIT_SECONDS
        while True:
            response = await self.send(role, "GET", path)
            if done(response) or time.monotonic() > deadline:
                return self.judge(role, action, response, expect=200, fact=fact, check=check)
            await asyncio.sleep(0.5)

    async def signed(
        self,
        terminal: Terminal,
        action: str,
        method: str,
        path: str,
        *,
        expect: int,
        fact: Fact,
        check: Check | None = None,
        payload: dict[str, Any] | None = None,
    ) -> Any:
        body = b"" if payload is None else json.dumps(payload, ensure_ascii=False).encode()
        headers = terminal.headers(method, path, "", body)
        response = await self.http.request(method, path, content=body, headers=headers)
        return self.judge("terminal", action, response, expect=expect, fact=fact, check=check)

    async def log_in(self, role: str, username: str, password: str) -> str:
        data = await self.step(
            role,
            f"log in as {username}",
            "POST",
            "/v1/auth/login",
            body={"username": username, "password": password},
            fact=lambda d: f"{d['kind']} token, {d['expires_in']} s",
        )
        self.tokens[role] = data["access_token"]
        return str(data["staff_id"])


ADMIN, ORGANIZER, VOLUNTEER, OWNER = "centre admin", "organizer", "volunteer", "merchant owner"


def _entry(entry: dict[str, Any]) -> str:
    cause = entry["cause"]
    return (
        f"newest: {entry['kind']} {entry['amount']:+d} "
        f"for {cause['reference_type']} {cause['reference_id']}"
    )


def _instant(value: datetime) -> str:
    return value.isoformat(timespec="seconds")


async def play(http: httpx.AsyncClient, *, admin_password: str, out: TextIO) -> None:
    """The story, step by step; raises TourStopped at the first unexpected answer."""
    tour = Tour(http, out)
    run = secrets.token_hex(3)
    started = time.monotonic()

    # 1. The centre admin sets the region up.
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

    # 2. The organizer runs an activity that has just started.
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
            "starts_at": _instant(starts),
            "ends_at": _instant(ends),
            "latitude": station["latitude"],
            "longitude": station["longitude"],
            "address": station["name"],
            "radius_m": 300,
            "capacity": 20,
            "signup_closes_at": _instant(ends),
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

    # 3. A volunteer signs up, checks in and out on site.
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

    # 4. Make-up hours, under the two-person rule.
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

    # 5. The merchant opens its shop, the volunteer spends at its terminal.
    await tour.log_in(OWNER, owner["username"], owner_password)
    offer = await tour.step(
        OWNER,
        "create an offer",
        "POST",
        f"{merchants}/offers",
        expect=201,
        body={"title": "一碗阳春面", "price": OFFER_PRICE},
        fact=lambda d: f"{d['title']} for {d['price']} 良票, {d['status']}",
    )
    terminal = Terminal()
    registered = await tour.step(
        OWNER,
        "register the terminal's own Ed25519 key",
        "POST",
        f"{merchants}/terminals",
        expect=201,
        body={"name": "收银台1", "public_key": terminal.public_key},
        fact=lambda d: f"terminal {d['status']}, keyid {d['key_id']}",
    )
    terminal.key_id = registered["key_id"]
    code = await tour.step(
        VOLUNTEER,
        f"show a redemption code (at most {OFFER_PRICE})",
        "POST",
        "/v1/me/redemption-codes",
        expect=201,
        idempotent=True,
        body={"max_amount": OFFER_PRICE},
        fact=lambda d: f"code …{d['code'][-4:]}, max {d['max_amount']}, expires {d['expires_at']}",
    )
    request_no = f"TOUR-{run}-0001"
    receipt = await tour.signed(
        terminal,
        "redeem the offer (signed request)",
        "POST",
        "/v1/terminal/redemptions",
        expect=201,
        payload={"code": code["code"], "offer_id": offer["id"], "request_no": request_no},
        fact=lambda d: f"receipt {d['status']}: {d['amount']} 良票 from {d['volunteer']}",
    )
    await tour.signed(
        terminal,
        "ask again what became of it",
        "GET",
        f"/v1/terminal/redemptions/{request_no}",
        expect=200,
        fact=lambda d: f"{d['status']}, the same receipt: {d['id'] == receipt['id']}",
    )
    await tour.step(
        VOLUNTEER,
        "read my wallet",
        "GET",
        "/v1/me/wallet",
        check=lambda d: d["balance"]["available"] == expected - OFFER_PRICE,
        fact=lambda d: f"balance {d['balance']['available']} 良票",
    )
    today = datetime.now(ZoneInfo(region["timezone"])).date().isoformat()
    await tour.step(
        OWNER,
        f"read today's statement ({today})",
        "GET",
        f"{merchants}/statements/{today}",
        check=lambda d: (
            d["provisional"] and any(line["request_no"] == request_no for line in d["lines"])
        ),
        fact=lambda d: (
            f"provisional={d['provisional']}, {d['totals']['redemptions']} "
            f"redemption(s), net {d['totals']['net']} 良票"
        ),
    )

    # 6. The ledger's evidence: a signed block holds the volunteer's transaction.
    tx = issuance["transaction_id"]
    await tour.step(
        ADMIN,
        "read the issuance in the ledger",
        "GET",
        f"/v1/ledger/transactions/{tx}",
        check=lambda d: sum(p["amount"] for p in d["postings"]) == 0,
        fact=lambda d: (
            f"{d['kind']}, {len(d['postings'])} postings summing to "
            f"{sum(p['amount'] for p in d['postings'])}"
        ),
    )
    proof = await tour.until(
        VOLUNTEER,
        "wait for the proof that a block holds it",
        f"/v1/ledger/transactions/{tx}/proof",
        done=lambda r: r.status_code == 200,
        fact=lambda d: (
            f"block {d['block']['header']['height']}, leaf {d['leaf_index']} of {d['tree_size']}"
        ),
    )
    keys = await tour.step(
        VOLUNTEER,
        "fetch the region's public ledger keys",
        "GET",
        f"/v1/regions/{region['id']}/ledger-keys",
        fact=lambda d: f"{len(d['keys'])} key(s)",
    )
    problems = verify_proof(proof, {k["kid"]: k["x"] for k in keys["keys"]})
    tour.say(
        VOLUNTEER,
        "check the proof with those keys alone",
        "ok" if not problems else "FAIL",
        "; ".join(problems) or "signature and Merkle path hold",
    )
    if problems:
        raise TourStopped()
    tour.say("tour", "the loop is closed", "ok", f"in {time.monotonic() - started:.1f} s")


async def _main(base_url: str, admin_password: str, out: TextIO) -> int:
    async with httpx.AsyncClient(base_url=base_url, timeout=30.0) as http:
        try:
            await play(http, admin_password=admin_password, out=out)
        except TourStopped:
            return 1
        except httpx.TransportError as exc:
            print(f"cannot reach {base_url}: {exc!r}; is `make run` serving?", file=out)
            return 2
    return 0


def run_cli(*, base_url: str, password_file: str, out: TextIO | None = None) -> int:
    """Exit status: 0 when the loop closed, 1 at an unexpected answer, 2 when the tour
    could not start (no password file, no server)."""
    out = out or sys.stdout
    path = Path(password_file)
    try:
        password = path.read_text().strip()
    except OSError as exc:
        print(f"tour: cannot read the admin's password: {exc}; run `make run` first", file=out)
        return 2
    return asyncio.run(_main(base_url.rstrip("/"), password, out))
