"""When receivers fail: a message whose attempts run out is `failed` until recovered or
retried, an endpoint failing for days is disabled and its client told, and a worker
that dies mid-delivery leaves the message to be sent again with the same id."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

import httpx
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from app.core import clock
from app.integrations import outbox
from app.integrations.models import OutboxEvent
from app.webhooks.delivery import Deliverer
from app.webhooks.models import MessageStatus, WebhookEndpoint, WebhookMessage
from app.worker import register_event_handlers, run_once
from tests.builders import World
from tests.orgs.support import Reader
from tests.webhooks.support import Integrator, Receiver, add_endpoint, integrator
from tests.webhooks.test_delivery import approved_hours


async def test_a_message_whose_attempts_run_out_fails_until_recovered(
    app: Any,
    client: httpx.AsyncClient,
    session: AsyncSession,
    world: World,
    city: Integrator,
    receiver: Receiver,
    db: Reader,
) -> None:
    endpoint = await add_endpoint(client, city, receiver, ["hours.approved"])
    before = clock.now()
    receiver.answers.extend([503] * 4)  # the first attempt and the schedule's three retries
    await approved_hours(client, session, world)
    for _ in range(6):
        await run_once(app.state.db)
    (message,) = await db.all(select(WebhookMessage))
    assert message.status == MessageStatus.failed
    assert message.attempts == 4
    assert len(receiver.deliveries) == 4
    assert receiver.unique == []
    failed = await client.get(
        f"/v1/webhook-endpoints/{endpoint['id']}/messages",
        params={"status": "failed"},
        headers=city.auth,
    )
    assert [m["id"] for m in failed.json()["items"]] == [str(message.id)]

    recovered = await client.post(
        f"/v1/webhook-endpoints/{endpoint['id']}/recover",
        json={"since": before.isoformat()},
        headers=city.auth,
    )
    assert recovered.status_code == 200, recovered.text
    assert recovered.json() == {"requeued": 1}
    await run_once(app.state.db)
    assert len(receiver.unique) == 1
    (message,) = await db.all(select(WebhookMessage))
    assert message.status == MessageStatus.delivered
    # Every attempt's id is the same: the receiver de-duplicates on it.
    assert {d.headers["webhook-id"] for d in receiver.deliveries} == {f"msg_{message.id.hex}"}

    # Recovering again finds nothing failed: the same request has the effect of one.
    again = await client.post(
        f"/v1/webhook-endpoints/{endpoint['id']}/recover",
        json={"since": before.isoformat()},
        headers=city.auth,
    )
    assert again.json() == {"requeued": 0}


async def test_recover_takes_only_what_failed_since_the_time_named(
    app: Any,
    client: httpx.AsyncClient,
    session: AsyncSession,
    world: World,
    city: Integrator,
    receiver: Receiver,
) -> None:
    endpoint = await add_endpoint(client, city, receiver, ["hours.approved"])
    receiver.answers.extend([503] * 4)
    await approved_hours(client, session, world)
    for _ in range(6):
        await run_once(app.state.db)
    later = clock.now() + timedelta(seconds=1)
    response = await client.post(
        f"/v1/webhook-endpoints/{endpoint['id']}/recover",
        json={"since": later.isoformat()},
        headers=city.auth,
    )
    assert response.json() == {"requeued": 0}
    naive = await client.post(
        f"/v1/webhook-endpoints/{endpoint['id']}/recover",
        json={"since": "2026-01-01T00:00:00"},
        headers=city.auth,
    )
    assert naive.status_code == 422


async def test_one_message_is_retried_on_request_even_once_delivered(
    app: Any,
    client: httpx.AsyncClient,
    session: AsyncSession,
    world: World,
    city: Integrator,
    receiver: Receiver,
) -> None:
    endpoint = await add_endpoint(client, city, receiver, ["hours.approved"])
    await approved_hours(client, session, world)
    await run_once(app.state.db)
    (item,) = (
        await client.get(f"/v1/webhook-endpoints/{endpoint['id']}/messages", headers=city.auth)
    ).json()["items"]
    retried = await client.post(
        f"/v1/webhook-endpoints/{endpoint['id']}/messages/{item['id']}/retry", headers=city.auth
    )
    assert retried.status_code == 200, retried.text
    assert retried.json()["status"] == "pending"
    await run_once(app.state.db)
    assert len(receiver.deliveries) == 2
    assert receiver.deliveries[0].headers["webhook-id"] == item["webhook_id"]
    assert receiver.deliveries[1].headers["webhook-id"] == item["webhook_id"]
    assert len(receiver.unique) == 1
    unknown = await client.post(
        f"/v1/webhook-endpoints/{endpoint['id']}/messages/{endpoint['id']}/retry",
        headers=city.auth,
    )
    assert unknown.status_code == 404
    assert unknown.json()["code"] == "webhook_message_not_found"


async def test_a_test_ping_is_delivered_signed(
    app: Any, client: httpx.AsyncClient, city: Integrator, receiver: Receiver
) -> None:
    endpoint = await add_endpoint(client, city, receiver, ["hours.approved"])
    sent = await client.post(f"/v1/webhook-endpoints/{endpoint['id']}/test", headers=city.auth)
    assert sent.status_code == 202, sent.text
    assert sent.json()["event_type"] == "ping"
    await run_once(app.state.db)
    (ping,) = receiver.unique
    assert ping["type"] == "ping"
    assert ping["data"]["endpoint_id"] == endpoint["id"]
    assert receiver.deliveries[0].verified_by == [0]


async def test_an_endpoint_failing_for_five_days_is_disabled_and_its_client_told(
    app: Any,
    client: httpx.AsyncClient,
    session: AsyncSession,
    world: World,
    city: Integrator,
    receiver: Receiver,
    db: Reader,
) -> None:
    async with Receiver() as broken, Receiver() as theirs:
        failing = await add_endpoint(client, city, broken, ["hours.approved"])
        ops = await add_endpoint(client, city, receiver, ["webhook_endpoint.disabled"], path="ops")
        other = await integrator(client, world, scopes=["hours:read", "webhooks:manage"])
        await add_endpoint(client, other, theirs, ["webhook_endpoint.disabled"])
        broken.answers.extend([500] * 10)
        # It has failed since six days ago; one more failure disables it.
        since = clock.now() - timedelta(days=6)
        async with app.state.db.sessions() as s, s.begin():
            await s.execute(
                update(WebhookEndpoint)
                .where(WebhookEndpoint.url == broken.url())
                .values(failing_since=since)
            )
        await approved_hours(client, session, world)
        for _ in range(3):
            await run_once(app.state.db)

        read = await client.get(f"/v1/webhook-endpoints/{failing['id']}", headers=city.auth)
        assert read.json()["status"] == "disabled"
        assert read.json()["disabled_reason"] == "failing"
        # Only one attempt: a disabled endpoint is sent nothing more.
        assert len(broken.deliveries) == 1
        (notice,) = receiver.unique
        assert notice["type"] == "webhook_endpoint.disabled"
        assert notice["data"]["endpoint_id"] == failing["id"]
        assert notice["data"]["client_id"] == city.client_id
        # Another client's endpoint hears nothing of it.
        assert theirs.deliveries == []
        events = await db.all(
            select(OutboxEvent).where(OutboxEvent.topic == "webhook_endpoint.disabled")
        )
        assert len(events) == 1
        assert ops["id"] != failing["id"]

        # Enabled again, it starts afresh and its pending message is sent.
        broken.answers.clear()
        enabled = await client.patch(
            f"/v1/webhook-endpoints/{failing['id']}", json={"enabled": True}, headers=city.auth
        )
        assert enabled.json()["failing_since"] is None
        await run_once(app.state.db)
        assert len(broken.unique) == 1


async def test_a_worker_dying_mid_delivery_leaves_the_message_to_be_sent_again(
    app: Any,
    client: httpx.AsyncClient,
    session: AsyncSession,
    world: World,
    city: Integrator,
    receiver: Receiver,
    db: Reader,
) -> None:
    await add_endpoint(client, city, receiver, ["hours.approved"])
    await approved_hours(client, session, world)
    register_event_handlers()
    # The fan-out of `hours.approved`, and the `rewards.issued` its issuance emits.
    assert await outbox.dispatch_batch(app.state.db.sessions) == 2
    (message,) = await db.all(select(WebhookMessage))
    deliverer = Deliverer(app.state.settings)
    claimed = await deliverer._claim(app.state.db.sessions, excluding=())
    assert [c.id for c in claimed] == [message.id]
    # Sent and answered 200; the worker dies before recording it.
    assert (await deliverer._send(claimed[0])).succeeded
    # The lease holds off other workers meanwhile…
    assert await deliverer.deliver_due(app.state.db.sessions) == 0
    # …and when it runs out the message is sent again, with the same webhook-id.
    with clock.travel(clock.now() + timedelta(minutes=2)):
        assert await deliverer.deliver_due(app.state.db.sessions) == 1
    await deliverer.aclose()
    assert [d.headers["webhook-id"] for d in receiver.deliveries] == [f"msg_{message.id.hex}"] * 2
    assert len(receiver.unique) == 1
    (message,) = await db.all(select(WebhookMessage))
    assert message.status == MessageStatus.delivered


async def test_a_secret_altered_in_the_database_signs_nothing_and_holds_up_no_one(
    app: Any,
    client: httpx.AsyncClient,
    session: AsyncSession,
    world: World,
    city: Integrator,
    receiver: Receiver,
    db: Reader,
) -> None:
    from app.webhooks.models import WebhookAttempt, WebhookSecret

    async with Receiver() as tampered:
        victim = await add_endpoint(client, city, tampered, ["hours.approved"])
        await add_endpoint(client, city, receiver, ["hours.approved"], path="ok")
        async with app.state.db.sessions() as s, s.begin():
            row = await s.scalar(
                select(WebhookSecret).where(WebhookSecret.endpoint_id == uuid.UUID(victim["id"]))
            )
            assert row is not None
            row.sealed = row.sealed[:-1] + bytes([row.sealed[-1] ^ 1])
        await approved_hours(client, session, world)
        await run_once(app.state.db)
        # Nothing unsigned (or signed with a forged key) leaves for the tampered endpoint.
        assert tampered.deliveries == []
        assert len(receiver.unique) == 1
        attempts = await db.all(
            select(WebhookAttempt).where(WebhookAttempt.endpoint_id == uuid.UUID(victim["id"]))
        )
        assert attempts
        assert {a.error for a in attempts} == {"no signing secret opens: rotate the secret"}
        # A rotation gives it a secret that opens, and the recovered message goes.
        rotated = await client.post(
            f"/v1/webhook-endpoints/{victim['id']}/secret/rotate", headers=city.auth
        )
        tampered.secrets[:] = [rotated.json()["secret"]]
        recovered = await client.post(
            f"/v1/webhook-endpoints/{victim['id']}/recover",
            json={"since": "2026-01-01T00:00:00Z"},
            headers=city.auth,
        )
        assert recovered.json() == {"requeued": 1}
        for _ in range(3):
            await run_once(app.state.db)
        assert len(tampered.unique) == 1


async def test_each_retry_waits_its_step_of_the_schedule_drawn_up_to_a_fifth_longer(
    app: Any,
    client: httpx.AsyncClient,
    session: AsyncSession,
    world: World,
    city: Integrator,
    receiver: Receiver,
    db: Reader,
) -> None:
    await add_endpoint(client, city, receiver, ["hours.approved"])
    receiver.answers.append(500)
    await approved_hours(client, session, world)
    register_event_handlers()
    await outbox.dispatch_batch(app.state.db.sessions)
    schedule = [300.0, 1800.0]
    deliverer = Deliverer(
        app.state.settings.model_copy(update={"webhook_retry_schedule": schedule})
    )
    waits = []
    for step in schedule:
        # Later attempts happen in the future, where the receiver finds the timestamp too
        # new and refuses them (401): each is another failure.
        with clock.travel(clock.now() + timedelta(seconds=sum(waits))):
            assert await deliverer.deliver_due(app.state.db.sessions) == 1
            assert await deliverer.deliver_due(app.state.db.sessions) == 0  # not due yet
            (message,) = await db.all(select(WebhookMessage))
            assert message.next_attempt_at is not None
            wait = (message.next_attempt_at - clock.now()).total_seconds()
        assert step * 0.99 <= wait <= step * 1.2
        waits.append(wait + 1)
    with clock.travel(clock.now() + timedelta(seconds=sum(waits))):
        assert await deliverer.deliver_due(app.state.db.sessions) == 1
    await deliverer.aclose()
    # The schedule's steps used up, the third failure fails the message.
    (message,) = await db.all(select(WebhookMessage))
    assert (message.status, message.attempts) == (MessageStatus.failed, 3)
