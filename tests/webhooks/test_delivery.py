"""End to end: a client subscribes, an effect commits, the worker delivers it signed per
Standard Webhooks, retries after failures with the same id, and signs with both secrets
while a rotation overlaps."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.activities.models import ActivityStatus
from app.integrations import outbox
from app.webhooks.delivery import Deliverer
from app.webhooks.models import MessageStatus, WebhookAttempt, WebhookMessage
from app.worker import register_event_handlers, run_once
from tests.activities.hours.support import approve, checkin_hours, make_activity
from tests.builders import World
from tests.orgs.support import Reader
from tests.webhooks.support import Integrator, Receiver, add_endpoint


async def approved_hours(
    client: httpx.AsyncClient, session: AsyncSession, world: World, *, minutes: int = 90
) -> str:
    activity = await make_activity(
        session, world.station_x, world.organizer_x, status=ActivityStatus.published
    )
    record = await checkin_hours(session, activity, world.volunteer_a, minutes=minutes)
    await approve(client, world.auth["organizer_x"], record.id)
    return str(record.id)


async def test_a_committed_event_reaches_the_endpoint_signed_after_two_failures(
    app: Any,
    client: httpx.AsyncClient,
    session: AsyncSession,
    world: World,
    city: Integrator,
    receiver: Receiver,
    db: Reader,
) -> None:
    endpoint = await add_endpoint(client, city, receiver, ["hours.approved"])
    assert endpoint["secret"].startswith("whsec_")
    receiver.answers.extend([500, 500])

    record_id = await approved_hours(client, session, world)
    for _ in range(5):
        await run_once(app.state.db)

    # Three attempts, one id, each verified by the library with the endpoint's secret.
    assert len(receiver.deliveries) == 3
    ids = {d.headers["webhook-id"] for d in receiver.deliveries}
    assert len(ids) == 1
    assert all(d.verified_by == [0] for d in receiver.deliveries)
    assert all(d.body == receiver.deliveries[0].body for d in receiver.deliveries)
    # De-duplicated by webhook-id, the receiver has the event once.
    assert len(receiver.unique) == 1
    message = receiver.unique[0]
    assert message["type"] == "hours.approved"
    assert message["data"]["hours_record_id"] == record_id
    assert message["data"]["minutes"] == 90
    assert message["data"]["volunteer_id"] == str(world.volunteer_a.id)

    # The delivery log, as the client reads it.
    listed = await client.get(f"/v1/webhook-endpoints/{endpoint['id']}/messages", headers=city.auth)
    assert listed.status_code == 200, listed.text
    (item,) = listed.json()["items"]
    assert item["webhook_id"] == ids.pop()
    assert item["status"] == "delivered"
    assert item["attempts"] == 3
    assert item["payload"]["data"]["hours_record_id"] == record_id
    attempts = await client.get(
        f"/v1/webhook-endpoints/{endpoint['id']}/messages/{item['id']}/attempts",
        headers=city.auth,
    )
    assert attempts.status_code == 200, attempts.text
    log = attempts.json()["items"]
    assert [a["response_status"] for a in log] == [500, 500, 200]
    assert [a["succeeded"] for a in log] == [False, False, True]
    assert log[0]["response_body"] == "receiver error"
    assert all(a["latency_ms"] >= 0 for a in log)

    rows = await db.all(select(WebhookMessage))
    assert [(r.status, r.attempts) for r in rows] == [(MessageStatus.delivered, 3)]


async def test_a_rotated_secret_signs_beside_its_successor_until_it_expires(
    app: Any,
    client: httpx.AsyncClient,
    session: AsyncSession,
    world: World,
    city: Integrator,
    receiver: Receiver,
) -> None:
    endpoint = await add_endpoint(client, city, receiver, ["hours.approved"])
    rotated = await client.post(
        f"/v1/webhook-endpoints/{endpoint['id']}/secret/rotate", headers=city.auth
    )
    assert rotated.status_code == 200, rotated.text
    new_secret = rotated.json()["secret"]
    assert new_secret.startswith("whsec_")
    assert new_secret != endpoint["secret"]
    assert rotated.json()["previous_expires_at"] is not None
    assert len(rotated.json()["endpoint"]["secrets"]) == 2
    receiver.secrets.append(new_secret)

    await approved_hours(client, session, world)
    await run_once(app.state.db)

    (delivery,) = receiver.deliveries
    # Two signatures: a receiver that knows either secret verifies the message.
    assert len(delivery.headers["webhook-signature"].split(" ")) == 2
    assert delivery.verified_by == [0, 1]

    # A receiver that knows only the new secret verifies it; one that knows neither not.
    receiver.secrets[:] = ["whsec_" + "A" * 32, new_secret]
    await approved_hours(client, session, world, minutes=30)
    await run_once(app.state.db)
    assert receiver.deliveries[-1].verified_by == [1]


async def test_the_endpoint_gets_only_what_it_subscribed_to_and_its_scopes_cover(
    app: Any,
    client: httpx.AsyncClient,
    session: AsyncSession,
    world: World,
    city: Integrator,
    receiver: Receiver,
) -> None:
    await add_endpoint(client, city, receiver, ["redemption.succeeded"])
    await approved_hours(client, session, world)
    await run_once(app.state.db)
    assert receiver.deliveries == []


async def test_a_receiver_that_never_answers_in_time_holds_up_no_other_endpoint(
    app: Any,
    client: httpx.AsyncClient,
    session: AsyncSession,
    world: World,
    city: Integrator,
    receiver: Receiver,
    db: Reader,
) -> None:
    async with Receiver() as slow:
        slow.delay_seconds = 5.0
        await add_endpoint(client, city, slow, ["hours.approved"])
        await add_endpoint(client, city, receiver, ["hours.approved"])
        await approved_hours(client, session, world)
        deliverer = Deliverer(app.state.settings)
        # The outbox job fans out; the deliverer then sends each message on its own task.
        register_event_handlers()
        await outbox.dispatch_batch(app.state.db.sessions)
        assert await deliverer.start_due(app.state.db.sessions) == 2
        for _ in range(100):
            if receiver.unique:
                break
            await asyncio.sleep(0.02)
        # The fast receiver has its message while the slow one is still being waited on.
        assert len(receiver.unique) == 1
        assert len(slow.deliveries) == 1
        assert not slow.unique
        # Waiting for it: the whole exchange is cut off at the timeout, and retried later.
        await deliverer.aclose()
    rows = await db.all(select(WebhookMessage))
    assert sorted(r.status for r in rows) == [MessageStatus.delivered, MessageStatus.pending]
    attempts = await db.all(select(WebhookAttempt).where(WebhookAttempt.succeeded.is_(False)))
    assert [(a.error, a.response_status) for a in attempts] == [("timeout", None)]


async def test_two_workers_send_each_message_once(
    app: Any,
    client: httpx.AsyncClient,
    session: AsyncSession,
    world: World,
    city: Integrator,
    receiver: Receiver,
    db: Reader,
) -> None:
    endpoint = await add_endpoint(client, city, receiver, ["ping"])
    for _ in range(30):
        sent = await client.post(f"/v1/webhook-endpoints/{endpoint['id']}/test", headers=city.auth)
        assert sent.status_code == 202
    first, second = Deliverer(app.state.settings), Deliverer(app.state.settings)
    # Both claim at once (on PostgreSQL each skips the rows the other has locked).
    counts = await asyncio.gather(
        first.deliver_due(app.state.db.sessions), second.deliver_due(app.state.db.sessions)
    )
    while await first.deliver_due(app.state.db.sessions):
        pass
    await first.aclose()
    await second.aclose()
    assert sum(counts) <= 30
    assert len(receiver.deliveries) == 30
    assert len({d.headers["webhook-id"] for d in receiver.deliveries}) == 30
    rows = await db.all(select(WebhookMessage))
    assert {(r.status, r.attempts) for r in rows} == {(MessageStatus.delivered, 1)}
