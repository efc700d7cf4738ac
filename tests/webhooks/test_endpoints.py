"""A client's endpoints: saved with a secret shown once, changed, refused when the URL,
the event types or the caller is wrong, and never another client's."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest
from cryptography.exceptions import InvalidTag
from sqlalchemy import select

from app.core.config import Settings
from app.webhooks import service
from app.webhooks.addresses import AddressRefused, check_before_sending, check_url
from app.webhooks.errors import WebhookUrlRefused
from app.webhooks.models import WebhookEndpoint, WebhookSecret
from app.webhooks.signing import SecretBox
from tests.builders import World
from tests.orgs.support import Reader
from tests.webhooks.support import Integrator, Receiver, add_endpoint, integrator


def problem(response: httpx.Response, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    body: dict[str, Any] = response.json()
    assert body["code"] == code
    return body


async def test_the_secret_is_shown_once_and_kept_sealed(
    client: httpx.AsyncClient, city: Integrator, receiver: Receiver, db: Reader, app: Any
) -> None:
    created = await add_endpoint(client, city, receiver, ["hours.approved", "ping"])
    assert created["event_types"] == ["hours.approved", "ping"]
    assert created["status"] == "enabled"
    read = await client.get(f"/v1/webhook-endpoints/{created['id']}", headers=city.auth)
    assert read.status_code == 200
    assert "secret" not in read.json()
    assert created["secret"] not in read.text
    listed = await client.get("/v1/webhook-endpoints", headers=city.auth)
    assert [e["id"] for e in listed.json()["items"]] == [created["id"]]
    assert created["secret"] not in listed.text

    (row,) = await db.all(select(WebhookSecret))
    # The database holds the secret sealed, bound to its endpoint.
    assert created["secret"].encode() not in row.sealed
    box = SecretBox(app.state.settings)
    assert box.open(row.sealed, endpoint_id=row.endpoint_id) == created["secret"]
    with pytest.raises(InvalidTag):
        box.open(row.sealed, endpoint_id=uuid.uuid4())


async def test_a_replayed_creation_answers_the_same_endpoint_without_its_secret(
    client: httpx.AsyncClient, city: Integrator, receiver: Receiver, db: Reader
) -> None:
    body = {"url": receiver.url(), "event_types": ["hours.approved"]}
    headers = {**city.auth, "Idempotency-Key": "endpoint-1"}
    first = await client.post("/v1/webhook-endpoints", json=body, headers=headers)
    again = await client.post("/v1/webhook-endpoints", json=body, headers=headers)
    assert first.status_code == again.status_code == 201
    assert first.json()["secret"].startswith("whsec_")
    assert again.json()["secret"] is None
    assert again.json()["id"] == first.json()["id"]
    assert len(await db.all(select(WebhookEndpoint))) == 1


async def test_changes_and_disabling(
    client: httpx.AsyncClient, city: Integrator, receiver: Receiver
) -> None:
    created = await add_endpoint(client, city, receiver, ["hours.approved"])
    url = f"/v1/webhook-endpoints/{created['id']}"
    changed = await client.patch(
        url,
        json={"event_types": ["redemption.succeeded", "hours.approved"], "enabled": False},
        headers=city.auth,
    )
    assert changed.status_code == 200, changed.text
    assert changed.json()["event_types"] == ["hours.approved", "redemption.succeeded"]
    assert changed.json()["status"] == "disabled"
    assert changed.json()["disabled_reason"] == "client"
    test = await client.post(f"{url}/test", headers=city.auth)
    problem(test, 409, "webhook_endpoint_disabled")
    enabled = await client.patch(url, json={"enabled": True}, headers=city.auth)
    assert enabled.json()["status"] == "enabled"
    assert enabled.json()["disabled_reason"] is None


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ({"event_types": ["hours.exploded"]}, "webhook_event_type_unknown"),
        ({"url": "ftp://example.com/x"}, "webhook_url_refused"),
        ({"url": "https://user:pw@example.com/x"}, "webhook_url_refused"),
        ({"event_types": []}, "validation_failed"),
    ],
)
async def test_bad_endpoints_are_refused_and_nothing_is_saved(
    client: httpx.AsyncClient,
    city: Integrator,
    receiver: Receiver,
    db: Reader,
    body: dict[str, Any],
    code: str,
) -> None:
    full = {"url": receiver.url(), "event_types": ["hours.approved"], **body}
    response = await client.post("/v1/webhook-endpoints", json=full, headers=city.auth)
    problem(response, 422, code)
    assert await db.all(select(WebhookEndpoint)) == []


async def test_an_endpoint_subscribes_only_to_what_its_scopes_cover(
    client: httpx.AsyncClient, world: World, receiver: Receiver, db: Reader
) -> None:
    news = await integrator(client, world, scopes=["activities:read", "webhooks:manage"])
    response = await client.post(
        "/v1/webhook-endpoints",
        json={"url": receiver.url(), "event_types": ["hours.approved"]},
        headers=news.auth,
    )
    body = problem(response, 422, "webhook_event_type_not_allowed")
    assert "hours:read" in body["detail"]
    assert await db.all(select(WebhookEndpoint)) == []


async def test_another_clients_endpoint_does_not_exist(
    client: httpx.AsyncClient, world: World, city: Integrator, receiver: Receiver
) -> None:
    created = await add_endpoint(client, city, receiver, ["hours.approved"])
    other = await integrator(client, world, scopes=["hours:read", "webhooks:manage"])
    for method, path in [
        ("GET", ""),
        ("PATCH", ""),
        ("POST", "/secret/rotate"),
        ("POST", "/test"),
        ("GET", "/messages"),
    ]:
        kwargs: dict[str, Any] = {"json": {"description": "x"}} if method == "PATCH" else {}
        theirs = await client.request(
            method, f"/v1/webhook-endpoints/{created['id']}{path}", headers=other.auth, **kwargs
        )
        nowhere = await client.request(
            method, f"/v1/webhook-endpoints/{uuid.uuid4()}{path}", headers=other.auth, **kwargs
        )
        problem(theirs, 404, "webhook_endpoint_not_found")
        assert theirs.json()["detail"] == nowhere.json()["detail"]
    listed = await client.get("/v1/webhook-endpoints", headers=other.auth)
    assert listed.json()["items"] == []


async def test_a_person_or_a_client_without_the_scope_is_refused(
    client: httpx.AsyncClient, world: World, receiver: Receiver
) -> None:
    reader = await integrator(client, world, scopes=["hours:read"])
    body = {"url": receiver.url(), "event_types": ["hours.approved"]}
    scoped = await client.post("/v1/webhook-endpoints", json=body, headers=reader.auth)
    problem(scoped, 403, "insufficient_scope")
    staff = await client.post(
        "/v1/webhook-endpoints", json=body, headers=world.auth["center_admin"]
    )
    problem(staff, 403, "forbidden")


def prod(settings: Settings) -> Settings:
    return settings.model_copy(update={"environment": "prod"})


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1/hooks",
        "https://127.0.0.1/hooks",
        "https://localhost/hooks",
        "https://hooks.localhost/x",
        "https://10.1.2.3/x",
        "https://192.168.1.20/x",
        "https://172.16.0.1/x",
        "https://169.254.169.254/latest/meta-data",
        "https://[::1]/x",
        "https://[fe80::1]/x",
        "https://[::ffff:127.0.0.1]/x",
        "https://0.0.0.0/x",
        "http://city-app.example.com/hooks",
    ],
)
def test_prod_refuses_urls_that_reach_inside(settings: Settings, url: str) -> None:
    with pytest.raises(AddressRefused):
        check_url(url, prod(settings))
    # Dev and test allow a receiver on this machine.
    assert check_url(url, settings) == url


def test_prod_accepts_a_public_https_url(settings: Settings) -> None:
    assert check_url("https://api.city.example.com/hooks", prod(settings))
    assert check_url("https://101.226.4.6/hooks", prod(settings)) == "https://101.226.4.6/hooks"
    # Documentation's example range is no public address either.
    with pytest.raises(AddressRefused):
        check_url("https://203.0.113.9/hooks", prod(settings))


async def test_prod_checks_the_resolved_address_before_each_attempt(settings: Settings) -> None:
    # A name that resolves to loopback (localhost's own name is refused by form first).
    with pytest.raises(AddressRefused):
        await check_before_sending("https://localhost./x", prod(settings))


async def test_the_route_refuses_loopback_in_prod(
    app: Any, session: Any, settings: Settings
) -> None:
    from app.identity.principals import Principal

    client = Principal(
        kind="client",
        id=uuid.uuid4(),
        region_id=uuid.uuid4(),
        scopes=("hours:read", "webhooks:manage"),
    )
    data = service.schemas.EndpointCreate(
        url="http://127.0.0.1:9000/hooks", event_types=["hours.approved"]
    )
    with pytest.raises(WebhookUrlRefused):
        await service.create_endpoint(session, client=client, data=data, settings=prod(settings))
