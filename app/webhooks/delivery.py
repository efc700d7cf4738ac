"""Delivering messages: claimed by a worker, POSTed signed, logged, retried.

A worker claims due messages (`FOR UPDATE SKIP LOCKED`) and leases them: their next
attempt moves past the time an attempt can take, so no other worker sends them
meanwhile, and a worker that dies mid-send leaves them to be sent again when the
lease runs out, with the same `webhook-id` (at least once; receivers de-duplicate).
Each message is sent on its own (one endpoint's slow or failing receiver holds up no
other endpoint's messages; messages of one endpoint are not promised in order), and
its outcome is recorded in a transaction of its own:

- a 2xx within `webhook_timeout_seconds` delivers it;
- anything else waits the next step of `webhook_retry_schedule` (each wait drawn up
  to 20% longer, so failures together do not retry together), and after the last
  step the message is `failed` until recovered;
- an endpoint whose attempts have failed since `failing_since`, for longer than
  `webhook_disable_after_seconds`, is disabled and `webhook_endpoint.disabled` is
  emitted for its client.

Every attempt is logged: status, latency, the first KiB of the answer.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
import uuid
from dataclasses import dataclass
from datetime import timedelta

import httpx
from cryptography.exceptions import InvalidTag
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.core import clock
from app.core.config import Settings
from app.integrations import outbox
from app.webhooks import repository
from app.webhooks.addresses import AddressRefused, check_before_sending
from app.webhooks.fanout import DISABLED
from app.webhooks.models import (
    RESPONSE_BODY_LENGTH,
    EndpointStatus,
    MessageStatus,
    WebhookAttempt,
    WebhookEndpoint,
)
from app.webhooks.signing import SecretBox, message_id, signed_headers

log = logging.getLogger("liangpiao.webhooks")

BATCH = 50


@dataclass(frozen=True)
class Claimed:
    id: uuid.UUID
    endpoint_id: uuid.UUID
    region_id: uuid.UUID
    url: str
    body: str
    secrets: tuple[str, ...]


@dataclass(frozen=True)
class Outcome:
    succeeded: bool
    status: int | None
    latency_ms: int
    body: str
    error: str | None


class Deliverer:
    """Sends the due messages of every endpoint; one per worker process."""

    def __init__(self, settings: Settings, *, http: httpx.AsyncClient | None = None) -> None:
        self.settings = settings
        self.box = SecretBox(settings)
        self._http = http
        self._in_flight: dict[uuid.UUID, int] = {}
        self._tasks: set[asyncio.Task[None]] = set()

    def _client(self) -> httpx.AsyncClient:
        if self._http is None:
            self._http = httpx.AsyncClient(
                timeout=self.settings.webhook_timeout_seconds, follow_redirects=False
            )
        return self._http

    async def aclose(self, *, wait: bool = True) -> None:
        """Waits for the messages in flight (or, `wait=False`, abandons them to their
        lease: they are sent again later) and closes the HTTP client."""
        if not wait:
            for task in self._tasks:
                task.cancel()
        await self.drain()
        if self._http is not None:
            await self._http.aclose()
            self._http = None

    async def drain(self) -> None:
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    async def deliver_due(self, sessions: async_sessionmaker[AsyncSession]) -> int:
        """Claims a batch, sends it and records every outcome; returns how many."""
        claimed = await self._claim(sessions, excluding=())
        await asyncio.gather(*(self._deliver(sessions, c) for c in claimed))
        return len(claimed)

    async def start_due(self, sessions: async_sessionmaker[AsyncSession]) -> int:
        """Claims a batch of the endpoints with nothing in flight and sends each message
        as its own task, not waiting for the answers: a worker's loop calls it."""
        claimed = await self._claim(sessions, excluding=tuple(self._in_flight))
        for c in claimed:
            self._in_flight[c.endpoint_id] = self._in_flight.get(c.endpoint_id, 0) + 1
            task = asyncio.create_task(self._deliver_tracked(sessions, c))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
        return len(claimed)

    async def _deliver_tracked(
        self, sessions: async_sessionmaker[AsyncSession], claimed: Claimed
    ) -> None:
        try:
            await self._deliver(sessions, claimed)
        except Exception:
            log.exception("webhook delivery failed", extra={"message_id": str(claimed.id)})
        finally:
            left = self._in_flight.get(claimed.endpoint_id, 1) - 1
            if left <= 0:
                self._in_flight.pop(claimed.endpoint_id, None)
            else:
                self._in_flight[claimed.endpoint_id] = left

    def _lease(self) -> timedelta:
        return timedelta(seconds=self.settings.webhook_timeout_seconds * 2 + 30)

    async def _claim(
        self, sessions: async_sessionmaker[AsyncSession], *, excluding: tuple[uuid.UUID, ...]
    ) -> list[Claimed]:
        async with sessions() as session, session.begin():
            now = clock.now()
            rows = await repository.due_messages(session, now=now, limit=BATCH, excluding=excluding)
            if not rows:
                return []
            live = await repository.live_secrets_of(
                session, endpoint_ids={m.endpoint_id for m, _ in rows}, now=now
            )
            secrets: dict[uuid.UUID, list[str]] = {}
            for secret in live:
                try:
                    opened = self.box.open(secret.sealed, endpoint_id=secret.endpoint_id)
                except InvalidTag:
                    # Altered in the database, or sealed under another key: it signs
                    # nothing, and the endpoint's other messages are not held up by it.
                    log.error(
                        "webhook secret does not open",
                        extra={"endpoint_id": str(secret.endpoint_id)},
                    )
                    continue
                secrets.setdefault(secret.endpoint_id, []).append(opened)
            claimed = []
            for message, url in rows:
                message.next_attempt_at = now + self._lease()
                message.attempts += 1
                claimed.append(
                    Claimed(
                        id=message.id,
                        endpoint_id=message.endpoint_id,
                        region_id=message.region_id,
                        url=url,
                        body=message.body,
                        secrets=tuple(secrets.get(message.endpoint_id, ())),
                    )
                )
            return claimed

    async def _deliver(self, sessions: async_sessionmaker[AsyncSession], claimed: Claimed) -> None:
        outcome = await self._send(claimed)
        await self._record(sessions, claimed, outcome)

    async def _send(self, claimed: Claimed) -> Outcome:
        started = time.perf_counter()

        def elapsed() -> int:
            return int((time.perf_counter() - started) * 1000)

        if not claimed.secrets:
            return Outcome(False, None, 0, "", "no signing secret opens: rotate the secret")
        try:
            await check_before_sending(claimed.url, self.settings)
        except AddressRefused as refusal:
            return Outcome(False, None, elapsed(), "", f"address refused: {refusal}")
        headers = signed_headers(
            msg_id=message_id(claimed.id),
            body=claimed.body,
            at=clock.now(),
            secrets_=claimed.secrets,
        )
        try:
            # The whole exchange, not each read: a receiver trickling bytes is cut off too.
            async with (
                asyncio.timeout(self.settings.webhook_timeout_seconds),
                self._client().stream(
                    "POST", claimed.url, content=claimed.body.encode(), headers=headers
                ) as response,
            ):
                head = b""
                async for chunk in response.aiter_bytes():
                    head += chunk
                    if len(head) >= RESPONSE_BODY_LENGTH:
                        break
        except (TimeoutError, httpx.TimeoutException):
            return Outcome(False, None, elapsed(), "", "timeout")
        except httpx.HTTPError as exc:
            return Outcome(False, None, elapsed(), "", f"connection failed: {type(exc).__name__}")
        text = head[:RESPONSE_BODY_LENGTH].decode("utf-8", errors="replace")
        text = text[:RESPONSE_BODY_LENGTH]
        ok = 200 <= response.status_code < 300
        return Outcome(ok, response.status_code, elapsed(), text, None)

    async def _record(
        self, sessions: async_sessionmaker[AsyncSession], claimed: Claimed, outcome: Outcome
    ) -> None:
        async with sessions() as session, session.begin():
            now = clock.now()
            # The endpoint first, then the message: the order every writer locks them in.
            endpoint = await repository.endpoint_for_update(
                session, endpoint_id=claimed.endpoint_id
            )
            message = await repository.message_for_update(session, message_id=claimed.id)
            if endpoint is None or message is None:
                return
            session.add(
                WebhookAttempt(
                    id=uuid.uuid4(),
                    region_id=claimed.region_id,
                    message_id=claimed.id,
                    endpoint_id=claimed.endpoint_id,
                    attempted_at=now,
                    succeeded=outcome.succeeded,
                    response_status=outcome.status,
                    latency_ms=outcome.latency_ms,
                    response_body=outcome.body,
                    error=outcome.error,
                )
            )
            if message.status != MessageStatus.pending:
                return  # delivered or failed meanwhile (a retry raced the lease): logged only
            if outcome.succeeded:
                message.status = MessageStatus.delivered
                message.delivered_at = now
                message.next_attempt_at = None
                endpoint.failing_since = None
                return
            schedule = self.settings.webhook_retry_schedule
            if message.attempts > len(schedule):
                message.status = MessageStatus.failed
                message.failed_at = now
                message.next_attempt_at = None
            else:
                wait = schedule[message.attempts - 1] * random.uniform(1.0, 1.2)  # noqa: S311 - jitter
                message.next_attempt_at = now + timedelta(seconds=wait)
            if endpoint.failing_since is None:
                endpoint.failing_since = now
            failing_for = (now - endpoint.failing_since).total_seconds()
            if (
                endpoint.status == EndpointStatus.enabled
                and failing_for >= self.settings.webhook_disable_after_seconds
            ):
                await self._disable(session, endpoint)

    async def _disable(self, session: AsyncSession, endpoint: WebhookEndpoint) -> None:
        assert endpoint.failing_since is not None
        endpoint.status = EndpointStatus.disabled
        endpoint.disabled_reason = "failing"
        endpoint.updated_at = clock.now()
        log.warning(
            "webhook endpoint disabled after failing",
            extra={"endpoint_id": str(endpoint.id), "client_id": str(endpoint.client_id)},
        )
        await outbox.emit(
            session,
            region_id=endpoint.region_id,
            topic=DISABLED,
            payload={
                "endpoint_id": str(endpoint.id),
                "client_id": str(endpoint.client_id),
                "url": endpoint.url,
                "failing_since": endpoint.failing_since.isoformat(),
                "disabled_at": endpoint.updated_at.isoformat(),
            },
        )
