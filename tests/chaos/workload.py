"""The mixed workload: volunteers check in and out, organizers add make-up hours and
approve hours, volunteers spend their 良票 at the merchant's terminals; and the
journal of every request, attempt and outcome.

Each client is one asyncio task acting for a few volunteers (and, for their hours,
as the organizer of the activity), one operation at a time. An operation is one
intended effect with one key (an `Idempotency-Key`, a terminal's `request_no`) or
a read. It is sent again, with the same key and the same body, after any dropped
connection, timeout, 5xx or `idempotency_key_in_flight`, until the answer is
definitive: a 2xx, or a 4xx refusal. A refusal the operation does not expect is
recorded as a violation: it means an earlier attempt's effect was lost, or doubled,
or the retry was not recognised as one. A share of first attempts of writes lose
their answer on the way back (`flaky`, the phone's network), so that retries meet
effects that already happened, crash or no crash.
"""

from __future__ import annotations

import asyncio
import json
import random
import re
import time
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import aiohttp

from app.core import clock
from bench.terminal_client import TerminalSigner
from tests.chaos.seed import OFFER_PRICE, Site, VolunteerLogin, World

PROBLEM_JSON = "application/problem+json"
IN_FLIGHT = "idempotency_key_in_flight"
MAKEUP_MINUTES = 30
# A stay of a minute or more earns a minute of check-in hours; most stays are shorter,
# earn nothing, and keep check-ins and check-outs frequent.
SHORT_STAY_SECONDS = (2.0, 15.0)
LONG_STAY_SECONDS = (60.0, 75.0)
LONG_STAYS = 0.3
# Writes whose first attempt the flaky network may cut off after sending.
WRITES = frozenset({"check_in", "check_out", "makeup", "approve", "redeem"})


@dataclass
class Op:
    """One intended effect (or read) and what became of it."""

    kind: str
    key: str | None = None
    volunteer_id: str | None = None
    target: str | None = None
    payload: dict[str, Any] | None = None
    attempts: int = 0
    # ok: a 2xx; refused: a definitive 4xx; abandoned: no definitive answer in time.
    outcome: str = "pending"
    status: int | None = None
    code: str | None = None
    body: Any = None
    failures: Counter[str] = field(default_factory=Counter)
    server: str | None = None
    # An attempt failed in a way that leaves open whether it took effect.
    may_have_landed: bool = False
    # The answer replays an effect of an earlier attempt (the idempotency key at work).
    replayed: bool = False
    last_sent_at: datetime | None = None


@dataclass
class Journal:
    ops: list[Op] = field(default_factory=list)
    attempts: int = 0
    statuses: Counter[str] = field(default_factory=Counter)
    failures: Counter[str] = field(default_factory=Counter)
    unavailable: Counter[str] = field(default_factory=Counter)
    violations: list[str] = field(default_factory=list)
    examples: dict[str, str] = field(default_factory=dict)
    events: list[dict[str, Any]] = field(default_factory=list)
    # The monotonic time of each server's latest 2xx, to measure recovery.
    last_success: dict[str, float] = field(default_factory=dict)
    started: float = field(default_factory=time.monotonic)

    def event(self, what: str, **details: Any) -> None:
        entry = {"t": round(time.monotonic() - self.started, 2), "event": what, **details}
        self.events.append(entry)
        print(f"[chaos {entry['t']:7.2f}s] {what} {details or ''}", flush=True)

    def violation(self, text: str, example: str = "") -> None:
        """`text` names the fault (the same fault, the same text); `example` one instance."""
        self.violations.append(text)
        if example:
            self.examples.setdefault(text, example)


def new_key() -> str:
    return uuid.uuid4().hex


_ID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


def _route(url: str) -> str:
    """The path of a URL with its ids folded, so that one fault reads as one line."""
    path = "/" + url.split("://", 1)[1].split("/", 1)[1]
    return _ID.sub("{id}", path)


class Gateway:
    """The API servers clients may reach, picked at random per attempt (a load balancer
    without health checks: a dead server costs a failed attempt and a retry)."""

    def __init__(self, targets: list[str]) -> None:
        self.targets = list(targets)
        self.rng = random.Random(5)

    def pick(self) -> str:
        return self.rng.choice(self.targets)

    def add(self, base_url: str) -> None:
        if base_url not in self.targets:
            self.targets.append(base_url)

    def remove(self, base_url: str) -> None:
        if base_url in self.targets and len(self.targets) > 1:
            self.targets.remove(base_url)


Build = Callable[[], tuple[str, bytes | None, dict[str, str]]]


class Sender:
    """Sends an operation until it has a definitive answer, recording every attempt."""

    def __init__(
        self,
        http: aiohttp.ClientSession,
        gateway: Gateway,
        journal: Journal,
        *,
        timeout: float,
        give_up_after: float,
        flaky: float,
        seed: int = 11,
    ) -> None:
        self.http = http
        self.gateway = gateway
        self.journal = journal
        self.timeout = aiohttp.ClientTimeout(total=timeout)
        self.give_up_after = give_up_after
        # The share of writes whose answer is lost: the phone's network drops right after
        # sending, so the server completes the request and the client never hears of it.
        self.flaky = flaky
        self.rng = random.Random(seed)

    async def send(
        self,
        op: Op,
        method: str,
        build: Build,
        *,
        expected: frozenset[str] = frozenset(),
        after_retry: frozenset[str] = frozenset(),
        after_landing: frozenset[str] = frozenset(),
    ) -> Op:
        """`build()` gives the path, body and headers of each attempt (a terminal signs
        every attempt anew). `expected` refusals are business answers; `after_retry`
        ones are expected once time has passed on retries, `after_landing` ones only
        after an attempt that may have reached the server and taken effect."""
        journal = self.journal
        journal.ops.append(op)
        deadline = time.monotonic() + self.give_up_after
        delay = 0.05
        while True:
            path, body, headers = build()
            base = self.gateway.pick()
            op.last_sent_at = clock.now()
            op.attempts += 1
            journal.attempts += 1
            cut_off = op.attempts == 1 and op.kind in WRITES and self.rng.random() < self.flaky
            limit = (
                aiohttp.ClientTimeout(total=self.rng.uniform(0.005, 0.2))
                if cut_off
                else self.timeout
            )
            failure = await self._attempt(op, method, base + path, body, headers, limit)
            if failure == "timeout" and cut_off:
                failure = "answer_lost"
            if failure is None:
                code = op.code or ""
                if op.outcome == "ok":
                    return op
                if (
                    code in expected
                    or (op.attempts > 1 and code in after_retry)
                    or (op.may_have_landed and code in after_landing)
                ):
                    return op
                journal.violation(
                    f"unexpected {op.status} {code} to {op.kind}",
                    f"{op.key or op.target} after {op.attempts} attempt(s) "
                    f"{dict(op.failures)}: {op.body}",
                )
                return op
            op.failures[failure] += 1
            journal.failures[failure] += 1
            # Only a refused connection is sure never to have reached the server.
            op.may_have_landed = op.may_have_landed or failure != "connection_refused"
            if time.monotonic() > deadline:
                op.outcome = "abandoned"
                journal.violation(
                    f"{op.kind} had no definitive answer in {self.give_up_after:.0f} s",
                    f"{op.key or op.target} after {op.attempts} attempts: {dict(op.failures)}",
                )
                return op
            await asyncio.sleep(delay * random.uniform(0.5, 1.5))
            delay = min(delay * 2, 1.0)

    async def _attempt(
        self,
        op: Op,
        method: str,
        url: str,
        body: bytes | None,
        headers: dict[str, str],
        limit: aiohttp.ClientTimeout,
    ) -> str | None:
        """One attempt; None when the answer is definitive, else why to try again."""
        journal = self.journal
        try:
            async with self.http.request(
                method, url, data=body, headers=headers, timeout=limit
            ) as response:
                raw = await response.read()
                status = response.status
                media = response.headers.get("Content-Type", "")
                replayed = response.headers.get("Idempotent-Replayed") == "true"
        except TimeoutError:
            return "timeout"
        except aiohttp.ClientConnectorError:
            return "connection_refused"
        except aiohttp.ClientError:
            return "connection_dropped"
        journal.statuses[str(status)] += 1
        parsed: Any = None
        if raw:
            try:
                parsed = json.loads(raw)
            except ValueError:
                parsed = raw[:200].decode("utf-8", "replace")
        if 200 <= status < 300:
            op.outcome, op.status, op.body, op.replayed = "ok", status, parsed, replayed
            op.server = url.split("/v1/", 1)[0]
            journal.last_success[op.server] = time.monotonic()
            return None
        code = parsed.get("code") if isinstance(parsed, dict) else None
        if not media.startswith(PROBLEM_JSON) or not code:
            journal.violation(
                f"{status} that is not problem+json ({media}) from {method} {_route(url)}",
                str(parsed),
            )
        if status == 503:
            journal.unavailable[code or "?"] += 1
            return f"503 {code}"
        if status >= 500:
            journal.violation(f"{status} {code} from {method} {_route(url)}", str(parsed))
            return f"{status} {code}"
        if status == 429 or (status == 409 and code == IN_FLIGHT):
            return f"{status} {code}"
        op.outcome, op.status, op.code, op.body = "refused", status, code, parsed
        return None


@dataclass
class Volunteer:
    login: VolunteerLogin
    open_site: Site | None = None
    checkout_due: float = 0.0
    attended: set[str] = field(default_factory=set)


@dataclass
class PendingHours:
    record_id: str
    site: Site
    # Whoever entered hours may not approve them: the centre admin approves make-ups.
    approver: dict[str, str] | None = None


class Client:
    """One concurrent client: a few volunteers, and the organizers of their activities."""

    def __init__(
        self,
        n: int,
        *,
        world: World,
        volunteers: list[VolunteerLogin],
        sender: Sender,
        stop: asyncio.Event,
        seed: int,
    ) -> None:
        self.n = n
        self.world = world
        self.volunteers = [Volunteer(login) for login in volunteers]
        self.sender = sender
        self.stop = stop
        self.rng = random.Random(seed)
        self.to_approve: list[PendingHours] = []
        self.redemptions = 0

    async def run(self) -> None:
        while not self.stop.is_set():
            if not await self.step():
                await asyncio.sleep(0.05)

    async def step(self) -> bool:
        """One operation (or a short chain of them); False when nothing was due."""
        now = time.monotonic()
        due = [v for v in self.volunteers if v.open_site is not None and v.checkout_due <= now]
        if due:
            await self.check_out(self.rng.choice(due))
            return True
        if self.to_approve and self.rng.random() < 0.5:
            await self.approve(self.to_approve.pop(0))
            return True
        choices: list[tuple[Callable[[], Any], int]] = []
        free = [
            v
            for v in self.volunteers
            if v.open_site is None and len(v.attended) < len(self.world.sites)
        ]
        if free:
            choices.append((lambda: self.check_in(self.rng.choice(free)), 4))
        choices.append((lambda: self.makeup(self.rng.choice(self.volunteers)), 1))
        choices.append((lambda: self.redeem(self.rng.choice(self.volunteers)), 2))
        action = self.rng.choices([c[0] for c in choices], weights=[c[1] for c in choices])[0]
        return bool(await action())

    # Attendance

    async def activity_code(self, site: Site) -> str | None:
        """What the organizer's screen shows now (the QR the volunteer scans)."""
        op = Op(kind="checkin_code", target=site.id)
        path = f"/v1/activities/{site.id}/checkin-code"
        await self.sender.send(op, "GET", lambda: (path, None, site.organizer.headers))
        return op.body["code"] if op.outcome == "ok" else None

    def _position(self, site: Site) -> dict[str, Any]:
        jitter = self.rng.uniform(-0.0004, 0.0004)
        return {
            "latitude": round(site.latitude + jitter, 6),
            "longitude": round(site.longitude - jitter, 6),
            "accuracy": 15.0,
        }

    async def check_in(self, volunteer: Volunteer) -> bool:
        site = self.rng.choice([s for s in self.world.sites if s.id not in volunteer.attended])
        code = await self.activity_code(site)
        if code is None:
            return True
        key = new_key()
        payload = {"code": code, **self._position(site)}
        op = Op(
            kind="check_in",
            key=key,
            volunteer_id=volunteer.login.id,
            target=site.id,
            payload=payload,
        )
        await self._keyed(op, f"/v1/activities/{site.id}/check-in", volunteer.login.headers)
        if op.outcome == "ok":
            volunteer.attended.add(site.id)
            volunteer.open_site = site
            stay = LONG_STAY_SECONDS if self.rng.random() < LONG_STAYS else SHORT_STAY_SECONDS
            volunteer.checkout_due = time.monotonic() + self.rng.uniform(*stay)
        return True

    async def check_out(self, volunteer: Volunteer) -> bool:
        site = volunteer.open_site
        assert site is not None
        code = await self.activity_code(site)
        if code is None:
            return True
        key = new_key()
        payload = {"code": code, **self._position(site)}
        op = Op(
            kind="check_out",
            key=key,
            volunteer_id=volunteer.login.id,
            target=site.id,
            payload=payload,
        )
        await self._keyed(op, f"/v1/activities/{site.id}/check-out", volunteer.login.headers)
        if op.outcome == "ok":
            volunteer.open_site = None
            self.to_approve.append(PendingHours(op.body["hours_record_id"], site))
        return True

    async def _keyed(self, op: Op, path: str, auth: dict[str, str]) -> None:
        assert op.key is not None
        body = json.dumps(op.payload).encode()
        headers = {**auth, "Idempotency-Key": op.key, "Content-Type": "application/json"}
        # A code shown on the screen expires while a retry waits for the server to return.
        await self.sender.send(
            op, "POST", lambda: (path, body, headers), expected=frozenset({"checkin_code_expired"})
        )

    # Hours

    async def makeup(self, volunteer: Volunteer) -> bool:
        site = self.rng.choice(self.world.sites)
        key = new_key()
        payload = {
            "volunteer_id": volunteer.login.id,
            "activity_id": site.id,
            "minutes": MAKEUP_MINUTES,
            "reason": f"补录 {key}",
        }
        op = Op(
            kind="makeup", key=key, volunteer_id=volunteer.login.id, target=site.id, payload=payload
        )
        body = json.dumps(payload).encode()
        headers = {
            **site.organizer.headers,
            "Idempotency-Key": key,
            "Content-Type": "application/json",
        }
        await self.sender.send(
            op,
            "POST",
            lambda: ("/v1/hours/makeup", body, headers),
            expected=frozenset({"hours_over_daily_cap", "hours_over_activity_cap"}),
        )
        if op.outcome == "ok":
            self.to_approve.append(PendingHours(op.body["id"], site, approver=self.world.admin))
        return True

    async def approve(self, pending: PendingHours) -> bool:
        op = Op(kind="approve", target=pending.record_id)
        path = f"/v1/hours/{pending.record_id}/approve"
        headers = pending.approver or pending.site.organizer.headers
        # Approving is not keyed: a retry of an approval that took effect finds it decided.
        await self.sender.send(
            op,
            "POST",
            lambda: (path, None, headers),
            after_landing=frozenset({"hours_already_decided"}),
        )
        op.replayed = op.code == "hours_already_decided"
        return True

    # Redemption

    async def redeem(self, volunteer: Volunteer) -> bool:
        wallet = Op(kind="wallet", volunteer_id=volunteer.login.id)
        await self.sender.send(
            wallet, "GET", lambda: ("/v1/me/wallet", None, volunteer.login.headers)
        )
        if wallet.outcome != "ok":
            return True
        spendable = int(wallet.body["spendable"])
        over_ask = self.rng.random() < 0.1
        if spendable <= 0 and not over_ask:
            return False
        request: dict[str, Any]
        if over_ask:
            request = {"amount": spendable + self.rng.randint(1, 5)}
        elif spendable >= OFFER_PRICE and self.rng.random() < 0.3:
            request = {"offer_id": self.world.offer_id}
        else:
            request = {"amount": self.rng.randint(1, min(spendable, 20))}

        code_op = Op(kind="redemption_code", volunteer_id=volunteer.login.id)
        await self.sender.send(
            code_op, "POST", lambda: ("/v1/me/redemption-codes", None, volunteer.login.headers)
        )
        if code_op.outcome != "ok":
            return True
        self.redemptions += 1
        request_no = f"chaos-{self.n}-{self.redemptions}"
        signer: TerminalSigner = self.rng.choice(self.world.terminals)
        payload = {"code": code_op.body["code"], "request_no": request_no, **request}
        op = Op(
            kind="redeem",
            key=request_no,
            volunteer_id=volunteer.login.id,
            target=signer.key_id,
            payload=payload,
        )

        def signed() -> tuple[str, bytes | None, dict[str, str]]:
            # A fresh nonce and timestamp per attempt, the same request_no and body.
            request = signer.sign_json("POST", "/v1/terminal/redemptions", payload)
            return request.url, request.body, request.headers

        await self.sender.send(
            op,
            "POST",
            signed,
            expected=frozenset({"insufficient_balance"} if over_ask else set()),
            # Past its 60 s life, a code is refused to a retry whose first try never landed.
            after_retry=frozenset({"code_expired"}),
        )
        if op.outcome == "ok" and op.last_sent_at is not None:
            # The terminal's replay carries no header: an older receipt is an earlier effect.
            created = datetime.fromisoformat(op.body["created_at"])
            op.replayed = created < op.last_sent_at
        return True
