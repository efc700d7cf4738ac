"""A webhook receiver as an integrator writes one, and the client that owns it.

`Receiver` is a real HTTP server on a loopback port (aiohttp). It verifies every
delivery with the `standardwebhooks` library against the secrets it was told,
de-duplicates by `webhook-id`, and answers what the test scripts (500 twice, a slow
answer…).
"""

from __future__ import annotations

import asyncio
import socket
from collections import deque
from dataclasses import dataclass, field
from typing import Any

import httpx
from aiohttp import web
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from tests.builders import World
from tests.clients.support import bearer, register, token


@dataclass
class Delivery:
    headers: dict[str, str]
    body: bytes
    verified_by: list[int]  # which of the known secrets verified it


@dataclass
class Receiver:
    secrets: list[str] = field(default_factory=list)
    answers: deque[int] = field(default_factory=deque)  # statuses to answer, then 200
    delay_seconds: float = 0.0
    deliveries: list[Delivery] = field(default_factory=list)
    seen_ids: set[str] = field(default_factory=set)
    unique: list[Any] = field(default_factory=list)  # payloads, once per webhook-id

    async def __aenter__(self) -> Receiver:
        app = web.Application()
        app.router.add_post("/{path:.*}", self._handle)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        site = web.TCPSite(self._runner, "127.0.0.1", self.port)
        await site.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self._runner.cleanup()

    def url(self, path: str = "hooks") -> str:
        return f"http://127.0.0.1:{self.port}/{path}"

    async def _handle(self, request: web.Request) -> web.Response:
        body = await request.read()
        headers = dict(request.headers)
        verified_by = []
        for i, secret in enumerate(self.secrets):
            try:
                Webhook(secret).verify(body, headers)
            except WebhookVerificationError:
                continue
            verified_by.append(i)
        self.deliveries.append(
            Delivery(
                headers={k.lower(): v for k, v in headers.items()},
                body=body,
                verified_by=verified_by,
            )
        )
        if self.delay_seconds:
            await asyncio.sleep(self.delay_seconds)
        if not verified_by:
            return web.Response(status=401, text="bad signature")
        status = self.answers.popleft() if self.answers else 200
        if 200 <= status < 300:
            msg_id = headers["webhook-id"]
            if msg_id not in self.seen_ids:
                self.seen_ids.add(msg_id)
                self.unique.append(Webhook(self.secrets[verified_by[0]]).verify(body, headers))
        return web.Response(status=status, text="ok" if status < 300 else "receiver error")


@dataclass
class Integrator:
    client_id: str
    auth: dict[str, str]


async def integrator(client: httpx.AsyncClient, world: World, *, scopes: list[str]) -> Integrator:
    registered = await register(client, world, scopes=scopes)
    return Integrator(registered["client_id"], bearer(await token(client, registered)))


async def add_endpoint(
    client: httpx.AsyncClient,
    who: Integrator,
    receiver: Receiver,
    event_types: list[str],
    *,
    path: str = "hooks",
) -> dict[str, Any]:
    response = await client.post(
        "/v1/webhook-endpoints",
        json={"url": receiver.url(path), "event_types": event_types, "description": "市App"},
        headers=who.auth,
    )
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    receiver.secrets.append(created["secret"])
    return created
