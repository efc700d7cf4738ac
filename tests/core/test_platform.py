"""Health, readiness, the problem catalogue and the error shape of the framework's own errors."""

from __future__ import annotations

import gc
from typing import Any

import httpx

PROBLEM = "application/problem+json"


async def test_healthz_and_readyz_answer(client: httpx.AsyncClient) -> None:
    assert (await client.get("/healthz")).json() == {"status": "ok"}
    ready = await client.get("/readyz")
    assert ready.status_code == 200
    assert ready.json()["status"] == "ready"


async def test_every_response_carries_a_request_id(client: httpx.AsyncClient) -> None:
    response = await client.get("/healthz", headers={"X-Request-ID": "abc-123"})
    assert response.headers["x-request-id"] == "abc-123"
    generated = await client.get("/healthz")
    assert len(generated.headers["x-request-id"]) == 32


async def test_unknown_route_is_a_problem(client: httpx.AsyncClient) -> None:
    response = await client.get("/v1/nowhere")
    assert response.status_code == 404
    assert response.headers["content-type"] == PROBLEM
    body = response.json()
    assert body["code"] == "not_found"
    assert body["type"] == "/problems/not_found"
    assert body["instance"] == "/v1/nowhere"


async def test_wrong_method_is_a_problem(client: httpx.AsyncClient) -> None:
    response = await client.delete("/healthz")
    assert response.status_code == 405
    assert response.headers["content-type"] == PROBLEM
    assert response.json()["code"] == "method_not_allowed"


async def test_problem_catalogue_lists_codes(client: httpx.AsyncClient) -> None:
    listing = (await client.get("/problems")).json()
    codes = {p["code"] for p in listing}
    assert {"not_found", "validation_failed", "token_expired", "idempotency_key_reused"} <= codes
    one = await client.get("/problems/token_expired")
    assert one.json()["status"] == 401
    assert (await client.get("/problems/nope")).status_code == 404


async def test_jwks_publishes_the_signing_key(client: httpx.AsyncClient) -> None:
    keys = (await client.get("/.well-known/jwks.json")).json()["keys"]
    assert keys[0]["kid"] == "test-key"
    assert keys[0]["alg"] == "ES256"
    assert "d" not in keys[0]


async def test_an_unexpected_error_is_a_500_problem_without_a_trace(app: Any) -> None:
    async def boom() -> None:
        raise RuntimeError("secret internals: /srv/app.py line 42")

    app.add_api_route("/v1/_test/boom", boom, methods=["GET"])
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as c:
        response = await c.get("/v1/_test/boom")
    assert response.status_code == 500
    assert response.headers["content-type"] == PROBLEM
    body = response.json()
    assert body["code"] == "internal_error"
    assert "secret internals" not in response.text
    assert "Traceback" not in response.text


async def test_malformed_json_and_wrong_content_type_are_problems(
    client: httpx.AsyncClient, world: Any
) -> None:
    headers = {**world.auth["volunteer_a"], "Content-Type": "application/json"}
    malformed = await client.patch("/v1/me", content=b"{not json", headers=headers)
    assert malformed.status_code == 400
    assert malformed.json()["code"] == "malformed_body"
    wrong_type = await client.patch(
        "/v1/me", content=b"name=x", headers={**headers, "Content-Type": "text/plain"}
    )
    assert wrong_type.status_code == 415
    assert wrong_type.json()["code"] == "unsupported_media_type"


async def test_a_body_that_is_not_utf8_is_a_malformed_body(
    client: httpx.AsyncClient, world: Any
) -> None:
    headers = {**world.auth["volunteer_a"], "Content-Type": "application/json"}
    response = await client.patch("/v1/me", content=b'{"name": "\xff\xfe"}', headers=headers)
    assert response.status_code == 400
    assert response.json()["code"] == "malformed_body"


async def test_a_served_process_tunes_the_collector_and_a_zero_leaves_it(settings: Any) -> None:
    from app.main import create_app

    before = gc.get_threshold()
    try:
        tuned = create_app(settings.model_copy(update={"gc_gen0_threshold": 12_345}))
        async with tuned.router.lifespan_context(tuned):
            assert gc.get_threshold() == (12_345, before[1], before[2])
            assert gc.get_freeze_count() > 0
        gc.unfreeze()
        gc.set_threshold(*before)
        untouched = create_app(settings.model_copy(update={"gc_gen0_threshold": 0}))
        async with untouched.router.lifespan_context(untouched):
            assert gc.get_threshold() == before
            assert gc.get_freeze_count() == 0
    finally:
        gc.unfreeze()
        gc.set_threshold(*before)


RETIRED = (
    "not_center_admin",
    "ledger_admin_required",
    "outbox_admin_required",
    "activity_policy_admin_required",
)


async def test_retired_center_admin_codes_are_gone_and_the_spec_names_their_successor(
    client: httpx.AsyncClient,
) -> None:
    listing = (await client.get("/problems")).json()
    codes = {entry["code"] for entry in listing}
    assert "center_admin_required" in codes
    assert codes.isdisjoint(RETIRED)
    description = (await client.get("/openapi.json")).json()["info"]["description"]
    assert all(f"`{code}`" in description for code in RETIRED)
