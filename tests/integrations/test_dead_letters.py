"""The outbox's attempt limit, its dead letters, and a centre admin's manual retry."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy.exc import IntegrityError

from app.core import clock
from app.integrations import outbox
from app.integrations.models import OutboxEvent, OutboxRetry
from app.integrations.outbox import RetryPolicy, describe_failure
from app.worker import jobs
from tests.builders import World
from tests.conftest import base_settings
from tests.orgs.support import Reader, assert_problem, walk

THREE_TRIES = RetryPolicy(max_attempts=3, base_seconds=1.0, max_seconds=1.0)
DEAD_LETTERS = "/v1/outbox/dead-letters"


class Handler:
    """A handler that fails while `broken`, quoting a secret and a phone number as a
    careless handler might, and counts the deliveries that got through."""

    def __init__(self) -> None:
        self.broken = True
        self.delivered: list[uuid.UUID] = []

    async def __call__(self, session: Any, event: OutboxEvent) -> None:
        if self.broken:
            raise RuntimeError(
                "upstream refused password=hunter2 for 13812345678\nTraceback-like second line"
            )
        self.delivered.append(event.id)


@pytest.fixture
def topic() -> Iterator[str]:
    name = f"test.poison.{uuid.uuid4().hex[:8]}"
    yield name
    outbox._handlers.pop(name, None)


@pytest.fixture
def handler(topic: str) -> Handler:
    handler = Handler()
    outbox.subscribe(topic, handler)
    return handler


async def _emit(app: Any, world: World, topic: str) -> uuid.UUID:
    async with app.state.db.sessions() as session, session.begin():
        return await outbox.emit(
            session, region_id=world.region.id, topic=topic, payload={"thing_id": "t-1"}
        )


async def _dispatch_later(app: Any, hours: int, retry: RetryPolicy = THREE_TRIES) -> int:
    """One worker pass, `hours` from now: every backoff so far has run out."""
    with clock.travel(clock.now() + timedelta(hours=hours)):
        return await outbox.dispatch_batch(app.state.db.sessions, retry=retry)


async def _dead_event(app: Any, world: World, topic: str, *, died_hours_ago: int = 0) -> uuid.UUID:
    event_id = uuid.uuid4()
    now = clock.now()
    async with app.state.db.sessions() as session, session.begin():
        session.add(
            OutboxEvent(
                id=event_id,
                region_id=world.region.id,
                topic=topic,
                payload={},
                attempts=3,
                last_error="RuntimeError: boom",
                dead_at=now - timedelta(hours=died_hours_ago),
            )
        )
    return event_id


async def test_a_poison_event_is_dead_lettered_then_retried_and_delivered_once(
    app: Any, client: httpx.AsyncClient, world: World, db: Reader, handler: Handler, topic: str
) -> None:
    event_id = await _emit(app, world, topic)
    for hour in range(1, 4):
        assert await _dispatch_later(app, hour) == 1

    event = await db.get(OutboxEvent, event_id)
    assert event.dead_at is not None
    assert event.processed_at is None
    assert event.attempts == 3
    # No worker claims a dead letter, however long it waits.
    assert await _dispatch_later(app, 48) == 0
    assert handler.delivered == []

    listed = await client.get(DEAD_LETTERS, headers=world.auth["center_admin"])
    assert listed.status_code == 200, listed.text
    (item,) = listed.json()["items"]
    assert (item["id"], item["status"], item["attempts"]) == (str(event_id), "dead", 3)
    assert item["payload"] == {"thing_id": "t-1"}
    # The kept error is the failure's type and first line, with the secrets masked.
    assert item["last_error"] == "RuntimeError: upstream refused password=[redacted] for [phone]"

    handler.broken = False
    retried = await client.post(
        f"{DEAD_LETTERS}/{event_id}/retry", headers=world.auth["center_admin"]
    )
    assert retried.status_code == 200, retried.text
    body = retried.json()
    assert (body["status"], body["attempts"], body["last_error"]) == ("pending", 0, None)
    (audit,) = body["retries"]
    assert audit["retried_by_id"] == str(world.center_admin.id)
    assert audit["attempts"] == 3
    assert audit["last_error"] == item["last_error"]

    # A repeated retry (a flaky network, a double click) changes nothing.
    again = await client.post(
        f"{DEAD_LETTERS}/{event_id}/retry", headers=world.auth["center_admin"]
    )
    assert again.status_code == 200
    assert again.json()["retries"] == body["retries"]
    assert await db.count(OutboxRetry, OutboxRetry.event_id == event_id) == 1

    assert await outbox.dispatch_batch(app.state.db.sessions, retry=THREE_TRIES) == 1
    assert await _dispatch_later(app, 48) == 0
    assert handler.delivered == [event_id]
    event = await db.get(OutboxEvent, event_id)
    assert event.processed_at is not None
    assert event.dead_at is None

    empty = await client.get(DEAD_LETTERS, headers=world.auth["center_admin"])
    assert empty.json() == {"items": [], "next_cursor": None}
    delivered = await client.post(
        f"{DEAD_LETTERS}/{event_id}/retry", headers=world.auth["center_admin"]
    )
    assert delivered.status_code == 200
    assert delivered.json()["status"] == "delivered"
    assert await db.count(OutboxRetry, OutboxRetry.event_id == event_id) == 1
    assert handler.delivered == [event_id]


async def test_a_retried_event_that_fails_again_gets_a_full_round_of_attempts(
    app: Any, client: httpx.AsyncClient, world: World, db: Reader, handler: Handler, topic: str
) -> None:
    event_id = await _emit(app, world, topic)
    for hour in range(1, 4):
        await _dispatch_later(app, hour)
    response = await client.post(
        f"{DEAD_LETTERS}/{event_id}/retry", headers=world.auth["center_admin"]
    )
    assert response.status_code == 200

    for hour in range(1, 3):
        assert await _dispatch_later(app, hour) == 1
        assert (await db.get(OutboxEvent, event_id)).dead_at is None
    assert await _dispatch_later(app, 3) == 1
    event = await db.get(OutboxEvent, event_id)
    assert event.dead_at is not None
    assert event.attempts == 3


async def test_the_worker_takes_its_attempt_limit_from_the_settings(
    app: Any, world: World, db: Reader, handler: Handler, topic: str
) -> None:
    event_id = await _emit(app, world, topic)
    (delivery,) = [
        job for job in jobs(base_settings(outbox_max_attempts=1)) if job.name == "outbox"
    ]
    assert await delivery.run(app.state.db.sessions) == 1

    event = await db.get(OutboxEvent, event_id)
    assert event.attempts == 1
    assert event.dead_at is not None


async def test_only_the_regions_center_admins_see_or_retry_its_dead_letters(
    app: Any, client: httpx.AsyncClient, world: World, db: Reader, topic: str
) -> None:
    event_id = await _dead_event(app, world, topic)
    retry = f"{DEAD_LETTERS}/{event_id}/retry"

    # Another region's admin cannot tell the event from one that does not exist.
    elsewhere = await client.post(retry, headers=world.auth["other_admin"])
    assert_problem(elsewhere, 404, "outbox_event_not_found")
    nowhere = await client.post(
        f"{DEAD_LETTERS}/{uuid.uuid4()}/retry", headers=world.auth["other_admin"]
    )
    assert_problem(nowhere, 404, "outbox_event_not_found")
    other_list = await client.get(DEAD_LETTERS, headers=world.auth["other_admin"])
    assert other_list.json()["items"] == []

    for who in ("station_admin_x", "organizer_x"):
        assert_problem(
            await client.post(retry, headers=world.auth[who]), 403, "center_admin_required"
        )
        assert_problem(
            await client.get(DEAD_LETTERS, headers=world.auth[who]), 403, "center_admin_required"
        )
    assert_problem(await client.post(retry, headers=world.auth["volunteer_a"]), 403, "forbidden")

    event = await db.get(OutboxEvent, event_id)
    assert event.dead_at is not None
    assert await db.count(OutboxRetry) == 0


async def test_dead_letters_page_by_cursor_the_latest_to_die_first(
    app: Any, client: httpx.AsyncClient, world: World, topic: str
) -> None:
    ids = [await _dead_event(app, world, topic, died_hours_ago=h) for h in (5, 1, 3, 2, 4)]
    items = await walk(client, DEAD_LETTERS, world.auth["center_admin"])
    by_age = [ids[1], ids[3], ids[2], ids[4], ids[0]]
    assert [i["id"] for i in items] == [str(i) for i in by_age]


async def test_a_cursor_that_is_not_one_is_refused(client: httpx.AsyncClient, world: World) -> None:
    response = await client.get(
        DEAD_LETTERS, params={"cursor": "not-a-cursor"}, headers=world.auth["center_admin"]
    )
    assert_problem(response, 400, "invalid_cursor")


async def test_a_retry_of_an_id_that_is_not_a_uuid_is_a_validation_problem(
    client: httpx.AsyncClient, world: World
) -> None:
    response = await client.post(
        f"{DEAD_LETTERS}/not-a-uuid/retry", headers=world.auth["center_admin"]
    )
    assert_problem(response, 422, "validation_failed")


def test_the_backoff_doubles_with_jitter_up_to_its_cap() -> None:
    policy = RetryPolicy(max_attempts=10, base_seconds=2.0, max_seconds=60.0)
    for attempts, ceiling in ((1, 2.0), (2, 4.0), (3, 8.0), (5, 32.0), (6, 60.0), (500, 60.0)):
        for _ in range(20):
            wait = policy.delay(attempts).total_seconds()
            assert ceiling / 2 <= wait <= ceiling


def test_a_database_error_keeps_only_the_drivers_first_line() -> None:
    driver = Exception(
        'duplicate key value violates unique constraint "uq_volunteers_phone"\n'
        "DETAIL:  Key (phone)=(13812345678) already exists."
    )
    error = IntegrityError("INSERT INTO volunteers (phone) VALUES ($1)", ("13812345678",), driver)
    text = describe_failure(error)
    assert text == (
        "IntegrityError (Exception): "
        'duplicate key value violates unique constraint "uq_volunteers_phone"'
    )


def test_a_long_error_is_truncated_to_what_the_column_holds() -> None:
    text = describe_failure(ValueError("x" * 2000))
    assert len(text) == 500
    assert text.endswith("…")


def test_an_error_without_a_message_keeps_its_type() -> None:
    assert describe_failure(TimeoutError()) == "TimeoutError"


async def test_an_events_region_filter_leaves_other_regions_dead_letters_alone(
    app: Any, client: httpx.AsyncClient, world: World, topic: str
) -> None:
    ours = await _dead_event(app, world, topic)
    async with app.state.db.sessions() as session, session.begin():
        session.add(
            OutboxEvent(
                region_id=world.other_region.id,
                topic=topic,
                payload={},
                attempts=3,
                dead_at=clock.now(),
            )
        )
    listed = await client.get(DEAD_LETTERS, headers=world.auth["center_admin"])
    assert [i["id"] for i in listed.json()["items"]] == [str(ours)]
