"""Idempotency-Key semantics (IETF draft), on a route that records one event per effect."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import httpx
import pytest
from fastapi import Request
from pydantic import BaseModel, ConfigDict
from sqlalchemy import func, insert, select, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from app.core import clock
from app.core.db import SessionDep, is_retryable
from app.core.idempotency import IdempotencyKeyHeader, IdempotencyKeyInFlight, claim, idempotent
from app.core.models import IdempotencyRecord
from app.integrations.models import OutboxEvent
from app.integrations.outbox import emit


class EchoIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    n: int


class EchoOut(BaseModel):
    event_id: uuid.UUID
    n: int


@pytest.fixture
async def echo(app: Any, world: Any) -> str:
    region_id = world.region.id

    async def echo_route(
        body: EchoIn, request: Request, session: SessionDep, key: IdempotencyKeyHeader = None
    ) -> Any:
        async def run() -> EchoOut:
            event_id = await emit(
                session, region_id=region_id, topic="test.echo", payload={"n": body.n}
            )
            await asyncio.sleep(0.01)  # keep the first request in flight a moment
            return EchoOut(event_id=event_id, n=body.n)

        return await idempotent(
            session, request, scope="test", key=key, payload=body, status_code=201, run=run
        )

    app.add_api_route("/v1/_test/echo", echo_route, methods=["POST"])
    return "/v1/_test/echo"


async def _events(session: AsyncSession) -> int:
    return int(
        await session.scalar(
            select(func.count()).select_from(OutboxEvent).where(OutboxEvent.topic == "test.echo")
        )
        or 0
    )


async def test_a_retry_replays_the_stored_response_and_has_no_second_effect(
    client: httpx.AsyncClient, echo: str, session: AsyncSession
) -> None:
    first = await client.post(echo, json={"n": 1}, headers={"Idempotency-Key": "k-1"})
    again = await client.post(echo, json={"n": 1}, headers={"Idempotency-Key": "k-1"})
    assert first.status_code == again.status_code == 201
    assert again.json() == first.json()
    assert again.headers["idempotent-replayed"] == "true"
    assert await _events(session) == 1


async def test_the_same_key_with_another_body_is_refused(
    client: httpx.AsyncClient, echo: str, session: AsyncSession
) -> None:
    await client.post(echo, json={"n": 1}, headers={"Idempotency-Key": "k-2"})
    other = await client.post(echo, json={"n": 2}, headers={"Idempotency-Key": "k-2"})
    assert other.status_code == 422
    assert other.json()["code"] == "idempotency_key_reused"
    assert await _events(session) == 1


async def test_a_missing_key_is_refused_and_changes_nothing(
    client: httpx.AsyncClient, echo: str, session: AsyncSession
) -> None:
    response = await client.post(echo, json={"n": 1})
    assert response.status_code == 400
    assert response.json()["code"] == "idempotency_key_missing"
    assert await _events(session) == 0


async def test_an_expired_key_may_be_used_again(
    client: httpx.AsyncClient, echo: str, session: AsyncSession
) -> None:
    await client.post(echo, json={"n": 1}, headers={"Idempotency-Key": "k-3"})
    with clock.travel(clock.now() + (await _ttl())):
        later = await client.post(echo, json={"n": 5}, headers={"Idempotency-Key": "k-3"})
    assert later.status_code == 201
    assert "idempotent-replayed" not in later.headers
    assert await _events(session) == 2


async def _ttl() -> Any:
    from datetime import timedelta

    from app.core.idempotency import KEY_TTL

    return KEY_TTL + timedelta(minutes=1)


@pytest.mark.postgres_only
async def test_concurrent_first_uses_of_one_key_make_one_effect(
    client: httpx.AsyncClient, echo: str, session: AsyncSession
) -> None:
    responses = await asyncio.gather(
        *(
            client.post(echo, json={"n": 7}, headers={"Idempotency-Key": "k-race"})
            for _ in range(30)
        )
    )
    statuses = [r.status_code for r in responses]
    assert set(statuses) <= {201, 409}, statuses
    bodies = {r.text for r in responses if r.status_code == 201}
    assert len(bodies) == 1
    assert await _events(session) == 1
    assert all(
        r.json()["code"] == "idempotency_key_in_flight" for r in responses if r.status_code == 409
    )


@pytest.mark.postgres_only
async def test_a_duplicate_key_row_is_a_retryable_failure(session: AsyncSession) -> None:
    row = {
        "id": uuid.uuid4(),
        "scope": "test",
        "key": "dup",
        "fingerprint": "0" * 64,
        "status_code": 201,
        "response_body": {},
        "created_at": clock.now(),
        "expires_at": clock.now(),
    }
    await session.execute(insert(IdempotencyRecord).values(row))
    with pytest.raises(IntegrityError) as caught:
        await session.execute(insert(IdempotencyRecord).values({**row, "id": uuid.uuid4()}))
    await session.rollback()
    # The race is PostgreSQL's (see core.idempotency.claim); SQLite serializes writers.
    assert is_retryable(caught.value)


_TRY_LOCK = text("SELECT pg_try_advisory_xact_lock(:k)")


@pytest.mark.postgres_only
async def test_a_claim_takes_the_handlers_lock_once_the_key_is_claimed(app: Any) -> None:
    lock, other_lock = 424_242, 424_243
    async with app.state.db.sessions() as first, app.state.db.sessions() as second:
        await first.begin()
        claimed = await claim(
            first, scope="test", key="with-lock", request_fingerprint="f", then_lock=lock
        )
        assert claimed is None
        # `first` holds the handler's lock until it commits.
        assert await second.scalar(_TRY_LOCK, {"k": lock}) is False
        await second.rollback()
        # The same key claimed meanwhile is in flight, and its claim takes no lock.
        with pytest.raises(IdempotencyKeyInFlight):
            await claim(
                second,
                scope="test",
                key="with-lock",
                request_fingerprint="f",
                then_lock=other_lock,
            )
        assert await first.scalar(_TRY_LOCK, {"k": other_lock}) is True
        await second.rollback()
        await first.commit()
        assert await second.scalar(_TRY_LOCK, {"k": lock}) is True
        await second.rollback()
