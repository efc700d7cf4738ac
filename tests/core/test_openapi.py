"""The committed OpenAPI document is the one the code generates."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import httpx

from app.core.errors import PROBLEM_JSON, catalogue

SPEC = Path(__file__).resolve().parents[2] / "openapi" / "openapi.json"


def test_committed_openapi_matches_the_app(app: Any) -> None:
    committed = json.loads(SPEC.read_text())
    assert committed == app.openapi(), "run `make openapi` and commit openapi/openapi.json"


def test_every_operation_has_an_id_a_summary_and_error_responses(app: Any) -> None:
    spec = app.openapi()
    seen: set[str] = set()
    for path, item in spec["paths"].items():
        for method, op in item.items():
            assert op.get("operationId"), f"{method} {path} has no operationId"
            assert op["operationId"] not in seen, f"duplicate operationId {op['operationId']}"
            seen.add(op["operationId"])
            assert op.get("summary"), f"{method} {path} has no summary"
            errors = [s for s in op["responses"] if s.startswith(("4", "5"))]
            assert errors, f"{method} {path} documents no error response"


def test_terminal_routes_declare_the_signature_scheme_and_their_refusals(app: Any) -> None:
    spec = app.openapi()
    scheme = spec["components"]["securitySchemes"]["TerminalSignature"]
    assert (scheme["type"], scheme["in"], scheme["name"]) == ("apiKey", "header", "Signature")
    terminal_ops = [
        (method, path, op)
        for path, item in spec["paths"].items()
        if path.startswith("/v1/terminal/")
        for method, op in item.items()
    ]
    assert len(terminal_ops) >= 3
    for method, path, op in terminal_ops:
        assert op.get("security") == [{"TerminalSignature": []}], f"{method} {path}"
        codes = {
            code
            for status, response in op["responses"].items()
            if status.startswith("4")
            for code in re.findall(r"`([a-z_]+)`", response["description"])
        }
        assert {"signature_invalid", "nonce_replayed", "terminal_revoked"} <= codes, path
    bearer_ops = [
        path
        for path, item in spec["paths"].items()
        if not path.startswith("/v1/terminal/")
        for op in item.values()
        if {"TerminalSignature": []} in op.get("security", [])
    ]
    assert bearer_ops == []


# POSTs that take no Idempotency-Key, each for its reason. Every other POST documents it.
NATURALLY_SAFE_POSTS = {
    # Logins answer fresh tokens; a retry is another login, and tokens are never stored.
    "/v1/auth/wechat": "a login",
    "/v1/auth/login": "a login",
    "/v1/platform/auth/login": "a login",
    "/v1/auth/refresh": "rotation: a reused refresh token is the theft signal",
    "/v1/auth/logout": "ending a login twice ends it once",
    "/v1/me/phone": "binds the number WeChat vouches for; the same again changes nothing",
    # A long-lived secret, shown once: never stored for a replay; a retry replaces it.
    "/v1/me/offline-code-secret": "a new secret replaces the old",
    # A client's secret likewise: a replay would have to store it. A retried registration
    # makes a second client, listed for the admin to revoke; a retried rotation meets
    # the two-live-secrets limit (client_secret_limit).
    "/v1/clients": "a secret shown once is never stored for a replay",
    "/v1/clients/{client_id}/secrets": "at most two live secrets: client_secret_limit",
    "/v1/clients/{client_id}/secrets/{secret_id}/retire": "a state change",
    # A webhook endpoint's redeliveries: each sends a message again with its own
    # webhook-id, which the receiver de-duplicates by; a repeated recover finds nothing
    # failed. A second test ping is one more ping.
    "/v1/webhook-endpoints/{endpoint_id}/messages/{message_id}/retry": "the webhook-id",
    "/v1/webhook-endpoints/{endpoint_id}/recover": "requeues what failed, once",
    "/v1/webhook-endpoints/{endpoint_id}/test": "a ping, harmless twice",
    # Reading a notification twice reads it once.
    "/v1/me/notifications/{notification_id}/read": "a state change",
    "/v1/me/notifications/read-all": "a state change",
    # OAuth's endpoints (RFC 6749, RFC 7009): a token request is a login; revoking twice
    # revokes once.
    "/v1/oauth/token": "a login",
    "/v1/oauth/revoke": "revoking twice revokes once",
    # State changes: repeating one leaves the state as it is, or answers a conflict.
    "/v1/activities/{activity_id}/publish": "a state change",
    "/v1/activities/{activity_id}/cancel": "a state change",
    "/v1/activities/{activity_id}/finish": "a state change",
    "/v1/hours/{record_id}/approve": "a decision, taken once",
    "/v1/hours/{record_id}/reject": "a decision, taken once",
    "/v1/hours/bulk-decisions": "decisions, each taken once",
    "/v1/activities/{activity_id}/bulk-credit": "one record per volunteer: already_credited",
    "/v1/hours/{record_id}/corrections": "one open correction: correction_already_open",
    "/v1/hours/corrections/{correction_id}/accept": "a decision, taken once",
    "/v1/hours/corrections/{correction_id}/refuse": "a decision, taken once",
    "/v1/grid-enrolments/{enrolment_id}/confirm": "a decision, taken once",
    "/v1/grid-enrolments/{enrolment_id}/refuse": "a decision, taken once",
    "/v1/grid-enrolments/{enrolment_id}/withdraw": "a state change",
    "/v1/alerts/{alert_id}/stand-down": "a state change: alert_closed",
    "/v1/merchants/settlements": "one settlement per merchant and month",
    "/v1/staff/{staff_id}/grants/{grant_id}/revoke": "a state change: a grant is revoked once",
    "/v1/outbox/dead-letters/{event_id}/retry": "a state change: a live event is not retried",
    "/v1/merchants/{merchant_id}/status": "a state change",
    "/v1/merchants/{merchant_id}/terminals/{terminal_id}/suspend": "a state change",
    "/v1/merchants/{merchant_id}/terminals/{terminal_id}/resume": "a state change",
    "/v1/merchants/{merchant_id}/terminals/{terminal_id}/revoke": "a state change",
    "/v1/merchants/{merchant_id}/redemptions/{redemption_id}/refunds": "the client's refund_no",
    "/v1/me/reservations/{reservation_id}/cancel": "a state change",
    "/v1/volunteers/{volunteer_id}/id-verification": "a state change: verified once, kept",
    # Terminals name each attempt with their own request_no.
    "/v1/terminal/redemptions": "request_no",
    "/v1/terminal/redemptions/{request_no}/void": "voiding twice is a no-op",
    "/v1/terminal/reservations/pickups": "request_no",
}


def test_every_post_documents_the_idempotency_key_or_its_reason_not_to(app: Any) -> None:
    spec = app.openapi()
    missing = []
    for path, item in spec["paths"].items():
        op = item.get("post")
        if op is None or path in NATURALLY_SAFE_POSTS:
            continue
        headers = {p["name"] for p in op.get("parameters", []) if p["in"] == "header"}
        if "Idempotency-Key" not in headers:
            missing.append(path)
            continue
        described = " ".join(op["responses"].get("422", {}).get("description", "").split())
        assert "idempotency_key_reused" in described, path
    assert missing == []
    stale = [p for p in NATURALLY_SAFE_POSTS if "post" not in spec["paths"].get(p, {})]
    assert stale == []


def _problem_responses(spec: dict[str, Any]) -> list[tuple[str, str, str, dict[str, Any]]]:
    return [
        (method, path, status, response)
        for path, item in spec["paths"].items()
        for method, op in item.items()
        for status, response in op["responses"].items()
        if PROBLEM_JSON in response.get("content", {})
    ]


def test_each_status_names_every_problem_code_it_may_carry_with_its_title(app: Any) -> None:
    spec = app.openapi()
    titles = {code: cls.title for code, cls in catalogue().items()}
    for method, path, status, response in _problem_responses(spec):
        codes = response["x-problem-codes"]
        assert codes, f"{method} {path} {status}"
        described = re.findall(r"`([a-z_]+)`", response["description"])
        assert [c for c in described if c in titles] == codes, f"{method} {path} {status}"
        for code in codes:
            assert catalogue()[code].status == int(status), f"{method} {path}: {code}"
            assert titles[code] in response["description"], f"{method} {path}: {code}"

    # Several codes on one status: the route's own, and what every route may answer.
    wechat = spec["paths"]["/v1/auth/wechat"]["post"]["responses"]
    assert wechat["422"]["x-problem-codes"] == [
        "region_code_required",
        "region_code_unknown",
        "validation_failed",
    ]
    assert "No region has this code" in wechat["422"]["description"]
    assert "The request has invalid fields" in wechat["422"]["description"]
    assert "rate_limited" in wechat["429"]["x-problem-codes"]
    redeem = spec["paths"]["/v1/terminal/redemptions"]["post"]["responses"]
    assert {"signature_invalid", "signature_missing", "nonce_replayed"} <= set(
        redeem["401"]["x-problem-codes"]
    )


async def test_a_code_the_spec_adds_to_a_routes_own_status_is_answered(
    client: httpx.AsyncClient,
) -> None:
    response = await client.post("/v1/auth/wechat", json={"code": 7})
    assert response.status_code == 422
    assert response.json()["code"] == "validation_failed"


def test_schemes_are_declared_and_public_operations_say_they_need_none(app: Any) -> None:
    from tests.security.test_authorization_matrix import ANONYMOUS, MATRIX

    spec = app.openapi()
    schemes = spec["components"]["securitySchemes"]
    assert schemes["HTTPBearer"] == {
        "type": "http",
        "scheme": "bearer",
        "bearerFormat": "JWT",
        "description": schemes["HTTPBearer"]["description"],
    }
    assert set(schemes["oauth2"]["flows"]) == {"clientCredentials"}
    assert schemes["oauth2"]["flows"]["clientCredentials"]["tokenUrl"] == "/v1/oauth/token"
    assert schemes["TerminalSignature"]["type"] == "apiKey"
    assert schemes["OAuthClientBasic"] == {**schemes["OAuthClientBasic"], "scheme": "basic"}

    # What an anonymous caller may call (the authorization matrix) says `security: []`;
    # OAuth's endpoints take the client's Basic credentials or none (they are in the form).
    anonymous = {route for route, access in MATRIX.items() if ANONYMOUS in access.allow}
    for path, item in spec["paths"].items():
        for method, op in item.items():
            route = f"{method.upper()} {path}"
            if path in ("/v1/oauth/token", "/v1/oauth/revoke"):
                assert op["security"] == [{"OAuthClientBasic": []}, {}], route
            elif route in anonymous:
                assert op["security"] == [], route
            else:
                assert op["security"], route
    assert spec["servers"] == [{"url": "/", "description": spec["servers"][0]["description"]}]
    assert spec["info"]["license"] == {"name": "Apache 2.0", "identifier": "Apache-2.0"}
    assert spec["info"]["contact"]["name"]
    assert [t["name"] for t in spec["tags"]][:3] == ["auth", "me", "regions"]
