"""The event catalogue: what `GET /v1/webhook-events` and the API document's `webhooks`
publish is exactly what the emitters write: every payload the flows produce validates
against its published schema, which admits no field it does not name (so no ID number
or phone can ride along)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import httpx
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.core import clock
from app.integrations.models import OutboxEvent
from app.webhooks.catalogue import EVENT_TYPES
from app.worker import run_once
from tests.merchants.conftest import Shop, fund, shop  # noqa: F401 - the fixture
from tests.orgs.support import Reader
from tests.webhooks.test_delivery import approved_hours


async def test_the_catalogue_lists_every_event_with_its_schema(client: httpx.AsyncClient) -> None:
    response = await client.get("/v1/webhook-events")
    assert response.status_code == 200
    listed = {e["name"]: e for e in response.json()}
    assert set(listed) == set(EVENT_TYPES)
    hours = listed["hours.approved"]
    assert hours["scope"] == "hours:read"
    assert "minutes" in hours["payload_schema"]["properties"]
    assert hours["payload_schema"]["additionalProperties"] is False


def test_the_api_document_publishes_the_catalogue_as_webhooks(app: Any) -> None:
    spec = app.openapi()
    assert spec["openapi"].startswith("3.1")
    assert set(spec["webhooks"]) == set(EVENT_TYPES)
    post = spec["webhooks"]["redemption.refunded"]["post"]
    headers = {p["name"] for p in post["parameters"] if p["required"]}
    assert headers == {"webhook-id", "webhook-timestamp", "webhook-signature"}
    ref = post["requestBody"]["content"]["application/json"]["schema"]["$ref"]
    message = spec["components"]["schemas"][ref.rsplit("/", 1)[-1]]
    data = spec["components"]["schemas"][message["properties"]["data"]["$ref"].rsplit("/", 1)[-1]]
    assert {"redemption_id", "refund_no", "amount"} <= set(data["properties"])


async def test_every_payload_the_flows_emit_matches_its_published_schema(
    app: Any,
    client: httpx.AsyncClient,
    session: AsyncSession,
    shop: Shop,  # noqa: F811
    db: Reader,
) -> None:
    world = shop.world
    await approved_hours(client, session, world)
    with clock.travel(datetime(2031, 5, 6, 2, 0, tzinfo=UTC)):
        await fund(session, world.volunteer_a, 5_000)
        receipt = (
            await shop.client.redeem(await shop.code(client), request_no="C-1", amount=300)
        ).json()
        voided = await shop.client.redeem(await shop.code(client), request_no="C-2", amount=200)
        assert voided.status_code == 201, voided.text
        assert (await shop.client.void("C-2")).status_code == 200
        refund = await client.post(
            f"/v1/merchants/{shop.merchant.id}/redemptions/{receipt['id']}/refunds",
            json={"refund_no": "F-1", "amount": 100},
            headers=shop.auth("owner"),
        )
        assert refund.status_code == 201, refund.text
        await run_once(app.state.db)  # seals a block of the ledger

    events = await db.all(select(OutboxEvent))
    topics = {e.topic for e in events}
    assert {
        "hours.approved",
        "redemption.succeeded",
        "redemption.voided",
        "redemption.refunded",
        "ledger.block_sealed",
    } <= topics
    for event in events:
        EVENT_TYPES[event.topic].payload.model_validate(event.payload)
