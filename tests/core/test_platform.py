"""Health, readiness, the problem catalogue and the error shape of the framework's own errors."""

from __future__ import annotations

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
