"""The client registry: center admins register their region's clients, see each secret
once, and rotate secrets with an overlap."""

from __future__ import annotations

import hashlib
import uuid
from typing import Any

import httpx
from sqlalchemy import select

from app.clients.models import ClientSecret, ClientStatus, OAuthClient
from tests.builders import World
from tests.clients.support import register, token_response
from tests.orgs.support import Reader, assert_problem


async def test_a_center_admin_registers_a_client_and_sees_its_secret_once(
    client: httpx.AsyncClient, world: World, db: Reader
) -> None:
    created = await register(client, world, scopes=["activities:read", "hours:read"])

    assert created["status"] == "active"
    assert created["scopes"] == ["activities:read", "hours:read"]
    assert created["region_id"] == str(world.region.id)
    secret = created["client_secret"]
    assert secret.startswith("lps_")
    assert len(secret) > 40
    again = await client.get(
        f"/v1/clients/{created['client_id']}", headers=world.auth["center_admin"]
    )
    assert again.status_code == 200
    assert secret not in again.text
    assert "client_secret" not in again.json()
    assert [s["hint"] for s in again.json()["secrets"]] == [secret[-4:]]
    rows = await db.all(
        select(ClientSecret).where(ClientSecret.client_id == uuid.UUID(created["client_id"]))
    )
    assert [r.secret_hash for r in rows] == [hashlib.sha256(secret.encode()).hexdigest()]
    assert all(secret not in str(vars(r)) for r in rows)


async def test_only_center_admins_manage_clients_and_others_learn_nothing(
    client: httpx.AsyncClient, world: World
) -> None:
    created = await register(client, world, scopes=["activities:read"])
    one = f"/v1/clients/{created['client_id']}"
    nowhere = f"/v1/clients/{uuid.uuid4()}"
    body = {"name": "x", "contact": "y", "scopes": []}

    for who in ("station_admin_x", "organizer_x", "volunteer_a"):
        assert (
            await client.post("/v1/clients", json=body, headers=world.auth[who])
        ).status_code == 403
        assert (await client.get("/v1/clients", headers=world.auth[who])).status_code == 403
    for who in ("station_admin_x", "organizer_x"):
        assert_problem(await client.get(one, headers=world.auth[who]), 403, "client_admin_required")
    # Another region's center admin: the client does not exist, exactly as one that never did.
    theirs = await client.get(one, headers=world.auth["other_admin"])
    missing = await client.get(nowhere, headers=world.auth["other_admin"])
    assert_problem(theirs, 404, "client_not_found")
    assert theirs.json()["detail"] == missing.json()["detail"]
    listed = await client.get("/v1/clients", headers=world.auth["other_admin"])
    assert listed.json()["items"] == []
    mine = await client.get("/v1/clients", headers=world.auth["center_admin"])
    assert [c["client_id"] for c in mine.json()["items"]] == [created["client_id"]]


async def test_an_unknown_scope_is_refused_at_registration(
    client: httpx.AsyncClient, world: World
) -> None:
    response = await client.post(
        "/v1/clients",
        json={"name": "x", "contact": "y", "scopes": ["everything"]},
        headers=world.auth["center_admin"],
    )
    assert_problem(response, 422, "client_scope_unknown")


async def test_rotation_keeps_both_secrets_valid_until_the_old_is_retired(
    client: httpx.AsyncClient, world: World, db: Reader
) -> None:
    created = await register(client, world, scopes=["activities:read"])
    cid, old = created["client_id"], created["client_secret"]
    admin = world.auth["center_admin"]

    added = await client.post(f"/v1/clients/{cid}/secrets", headers=admin)
    assert added.status_code == 201, added.text
    new = added.json()["client_secret"]
    assert new != old
    assert (await token_response(client, cid, old)).status_code == 200
    assert (await token_response(client, cid, new)).status_code == 200
    third = await client.post(f"/v1/clients/{cid}/secrets", headers=admin)
    assert_problem(third, 409, "client_secret_limit")

    old_id = created["secrets"][0]["id"]
    retired = await client.post(f"/v1/clients/{cid}/secrets/{old_id}/retire", headers=admin)
    assert retired.status_code == 200, retired.text
    assert (await token_response(client, cid, old)).status_code == 401
    assert (await token_response(client, cid, new)).status_code == 200
    new_id = added.json()["id"]
    last = await client.post(f"/v1/clients/{cid}/secrets/{new_id}/retire", headers=admin)
    assert_problem(last, 409, "client_last_secret")
    row = await db.get(ClientSecret, uuid.UUID(old_id))
    assert row.retired_at is not None


async def _set_status(client: httpx.AsyncClient, world: World, cid: str, status: str) -> Any:
    return await client.patch(
        f"/v1/clients/{cid}", json={"status": status}, headers=world.auth["center_admin"]
    )


async def test_a_suspended_client_is_refused_until_resumed_and_a_revoked_one_for_good(
    client: httpx.AsyncClient, world: World, db: Reader
) -> None:
    created = await register(client, world, scopes=["activities:read"])
    cid, secret = created["client_id"], created["client_secret"]

    assert (await _set_status(client, world, cid, "suspended")).status_code == 200
    refused = await token_response(client, cid, secret)
    assert refused.status_code == 401
    assert refused.json() == {
        "error": "invalid_client",
        "error_description": "The client is suspended",
    }
    assert (await _set_status(client, world, cid, "active")).status_code == 200
    assert (await token_response(client, cid, secret)).status_code == 200

    assert (await _set_status(client, world, cid, "revoked")).status_code == 200
    assert (await token_response(client, cid, secret)).json()["error"] == "invalid_client"
    assert_problem(await _set_status(client, world, cid, "active"), 409, "client_revoked")
    row = await db.get(OAuthClient, uuid.UUID(cid))
    assert row.status == ClientStatus.revoked
