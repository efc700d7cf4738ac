"""Registering clients and getting their tokens the way an integrator does: httpx, with
RFC 6749's form encoding and HTTP Basic by the letter."""

from __future__ import annotations

import base64
from typing import Any
from urllib.parse import quote_plus

import httpx

from tests.builders import World

TOKEN = "/v1/oauth/token"
REVOKE = "/v1/oauth/revoke"
FORM = {"Content-Type": "application/x-www-form-urlencoded"}


async def register(
    client: httpx.AsyncClient,
    world: World,
    *,
    scopes: list[str],
    admin: str = "center_admin",
    **extra: Any,
) -> dict[str, Any]:
    body = {"name": "市志愿服务平台", "contact": "ops@city.example", "scopes": scopes, **extra}
    response = await client.post("/v1/clients", json=body, headers=world.auth[admin])
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


def basic(client_id: str, secret: str) -> dict[str, str]:
    """RFC 6749 §2.3.1: each half form-encoded, then joined and base64-encoded."""
    raw = f"{quote_plus(client_id)}:{quote_plus(secret)}".encode()
    return {"Authorization": "Basic " + base64.b64encode(raw).decode()}


async def token_response(
    client: httpx.AsyncClient, client_id: str, secret: str, **params: str
) -> httpx.Response:
    return await client.post(
        TOKEN,
        data={"grant_type": "client_credentials", **params},
        headers=basic(client_id, secret),
    )


async def token(client: httpx.AsyncClient, registered: dict[str, Any], **params: str) -> str:
    response = await token_response(
        client, registered["client_id"], registered["client_secret"], **params
    )
    assert response.status_code == 200, response.text
    value: str = response.json()["access_token"]
    return value


def bearer(value: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {value}"}
