"""Webhooks under chaos: a partner platform's receiver, and the invariant it checks.

Before the load, the centre admin registers a client and the client subscribes an
endpoint (a receiver in the driver's process) to the events the workload causes. The
receiver verifies every delivery with the `standardwebhooks` library and refuses one
in ten with a 500, so retries happen beside the kills. After the run, every outbox
event of those types that committed must have reached the receiver, verified, at
least once, under the id `uuid5(event, endpoint)`; nothing may arrive that no event
caused.
"""

from __future__ import annotations

import asyncio
import random
import socket
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

import asyncpg
from aiohttp import web
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from app.webhooks.fanout import message_uuid
from app.webhooks.signing import message_id
from tests.chaos.seed import SetupClient, bearer

EVENT_TYPES = ["hours.approved", "redemption.succeeded", "redemption.voided", "redemption.refunded"]
# The worker's schedule for the run: retries within seconds, not days.
WORKER_ENV = {
    "LIANGPIAO_WEBHOOK_RETRY_SCHEDULE": "[0.2, 0.5, 1, 1, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2]",
    "LIANGPIAO_WEBHOOK_TIMEOUT_SECONDS": "2",
}


@dataclass
class ChaosReceiver:
    refuse_share: float = 0.1
    secret: str | None = None
    received: int = 0
    refused: int = 0
    unverified: int = 0
    ids: set[str] = field(default_factory=set)
    _random: random.Random = field(default_factory=lambda: random.Random(7))

    async def start(self) -> None:
        app = web.Application()
        app.router.add_post("/hooks", self._handle)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        await web.TCPSite(self._runner, "127.0.0.1", self.port).start()

    async def stop(self) -> None:
        await self._runner.cleanup()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hooks"

    async def _handle(self, request: web.Request) -> web.Response:
        body = await request.read()
        self.received += 1
        assert self.secret is not None
        try:
            Webhook(self.secret).verify(body, dict(request.headers))
        except WebhookVerificationError:
            self.unverified += 1
            return web.Response(status=401)
        if self._random.random() < self.refuse_share:
            self.refused += 1
            return web.Response(status=500)
        self.ids.add(request.headers["webhook-id"])
        return web.Response(status=204)


async def subscribe(api: SetupClient, admin: dict[str, str], receiver: ChaosReceiver) -> str:
    """The platform's client and its endpoint; returns the endpoint's id."""
    client = await api.call(
        "POST",
        "/v1/clients",
        expect=201,
        headers=admin,
        json={
            "name": "智慧吴江",
            "contact": "ops@city.example",
            "scopes": ["hours:read", "ledger:read", "webhooks:manage"],
        },
    )
    async with api.http.post(
        api.base_url + "/v1/oauth/token",
        data={
            "grant_type": "client_credentials",
            "client_id": client["client_id"],
            "client_secret": client["client_secret"],
        },
    ) as response:
        token = (await response.json())["access_token"]
    endpoint = await api.call(
        "POST",
        "/v1/webhook-endpoints",
        expect=201,
        headers=bearer(token),
        json={"url": receiver.url, "event_types": EVENT_TYPES},
    )
    receiver.secret = endpoint["secret"]
    endpoint_id: str = endpoint["id"]
    return endpoint_id


async def wait_delivered(conn: asyncpg.Connection, *, within: float) -> int:
    """Waits until no subscribed event is unprocessed and no message is pending."""
    deadline = time.monotonic() + within
    while True:
        left = int(
            await conn.fetchval(
                "SELECT (SELECT count(*) FROM outbox_events "
                "        WHERE topic = ANY($1::text[]) AND processed_at IS NULL)"
                " + (SELECT count(*) FROM webhook_messages WHERE status = 'pending')",
                EVENT_TYPES,
            )
        )
        if left == 0 or time.monotonic() > deadline:
            return left
        await asyncio.sleep(0.5)


async def check(
    conn: asyncpg.Connection, receiver: ChaosReceiver, endpoint_id: str
) -> tuple[dict[str, Any], list[str]]:
    """The figures and the violations of the webhook invariant."""
    endpoint = uuid.UUID(endpoint_id)
    events = await conn.fetch(
        "SELECT id FROM outbox_events WHERE topic = ANY($1::text[])", EVENT_TYPES
    )
    expected = {message_id(message_uuid(e["id"], endpoint)) for e in events}
    messages = {
        message_id(r["id"]): r["status"]
        for r in await conn.fetch(
            "SELECT id, status FROM webhook_messages WHERE endpoint_id = $1", endpoint
        )
    }
    violations = []
    lost = expected - receiver.ids
    if lost:
        violations.append(f"{len(lost)} committed events never reached the receiver")
    spurious = receiver.ids - expected
    if spurious:
        violations.append(f"{len(spurious)} deliveries no committed event caused")
    undelivered = [m for m, status in messages.items() if status != "delivered"]
    if undelivered:
        violations.append(f"{len(undelivered)} webhook messages are not delivered")
    if receiver.unverified:
        violations.append(f"{receiver.unverified} deliveries failed signature verification")
    attempts = int(await conn.fetchval("SELECT count(*) FROM webhook_attempts"))
    figures = {
        "webhook_events": len(expected),
        "webhook_received": receiver.received,
        "webhook_refused_500": receiver.refused,
        "webhook_attempts_logged": attempts,
    }
    return figures, violations
