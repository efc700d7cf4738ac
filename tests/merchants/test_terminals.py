"""Terminals: registration, status, and the signed requests they must send."""

from __future__ import annotations

import base64
import uuid

import httpx
from cryptography.hazmat.primitives import serialization
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.core import clock
from app.merchants.models import Terminal, TerminalNonce, TerminalStatus
from bench.terminal_client import TerminalClient, TerminalSigner, new_key_pair
from tests.merchants.conftest import Shop, fetch_all, fetch_one, fund, server_clock


async def _redeemable(client: httpx.AsyncClient, session: AsyncSession, shop: Shop) -> str:
    await fund(session, shop.world.volunteer_a, 100)
    return await shop.code(client)


# Registration


async def test_the_owner_registers_a_terminal_and_sees_its_private_key_once(
    client: httpx.AsyncClient, session: AsyncSession, shop: Shop
) -> None:
    url = f"/v1/merchants/{shop.merchant.id}/terminals"

    response = await client.post(url, json={"name": "前台"}, headers=shop.auth("owner"))

    assert response.status_code == 201, response.text
    body = response.json()
    assert body["algorithm"] == "ed25519"
    assert body["status"] == "active"
    assert body["key_id"] == body["id"]
    assert body["private_key"].startswith("-----BEGIN PRIVATE KEY-----")
    listed = await client.get(url, headers=shop.auth("owner"))
    assert listed.status_code == 200
    assert all("private_key" not in t for t in listed.json())
    row = await fetch_one(session, select(Terminal).where(Terminal.id == uuid.UUID(body["id"])))
    assert row.public_key == body["public_key"]
    assert body["private_key"] not in str(vars(row))
    # The generated key signs requests the server accepts.
    signer = TerminalSigner(
        key_id=body["key_id"], private_key_pem=body["private_key"], clock=server_clock
    )
    code = await _redeemable(client, session, shop)
    redeemed = await TerminalClient(client, signer).redeem(code, request_no="T-1", amount=1)
    assert redeemed.status_code == 201, redeemed.text


async def test_a_terminal_may_register_its_own_public_key(
    client: httpx.AsyncClient, session: AsyncSession, shop: Shop
) -> None:
    key, public = new_key_pair()
    response = await client.post(
        f"/v1/merchants/{shop.merchant.id}/terminals",
        json={"name": "自助机", "public_key": public},
        headers=shop.auth("station_admin_x"),
    )

    assert response.status_code == 201, response.text
    assert response.json()["private_key"] is None
    assert response.json()["public_key"] == public
    signer = TerminalSigner(key_id=response.json()["key_id"], private_key=key, clock=server_clock)
    code = await _redeemable(client, session, shop)
    redeemed = await TerminalClient(client, signer).redeem(code, request_no="T-1", amount=1)
    assert redeemed.status_code == 201, redeemed.text


async def test_registration_refuses_a_bad_public_key_cashiers_and_strangers(
    client: httpx.AsyncClient, session: AsyncSession, shop: Shop
) -> None:
    url = f"/v1/merchants/{shop.merchant.id}/terminals"
    not_a_key = base64.b64encode(b"x" * 31).decode()
    cases = [
        (
            {"name": "a", "public_key": not_a_key},
            shop.auth("owner"),
            422,
            "terminal_public_key_invalid",
        ),
        ({"name": "a"}, shop.auth("cashier"), 403, "merchant_owner_required"),
        ({"name": "a"}, shop.auth("organizer_y"), 403, "not_merchant_manager"),
        ({"name": "a"}, shop.auth("other_admin"), 404, "merchant_not_found"),
        ({"name": "a"}, shop.auth("volunteer_a"), 403, "forbidden"),
        ({"name": "a", "extra": 1}, shop.auth("owner"), 422, "validation_failed"),
    ]
    for body, headers, status, code in cases:
        response = await client.post(url, json=body, headers=headers)
        assert (response.status_code, response.json()["code"]) == (status, code), body
    assert len(await fetch_all(session, select(Terminal))) == 1


async def test_suspend_resume_and_revoke_take_effect_on_the_next_request(
    client: httpx.AsyncClient, session: AsyncSession, shop: Shop
) -> None:
    base = f"/v1/merchants/{shop.merchant.id}/terminals/{shop.terminal.id}"
    owner = shop.auth("owner")

    suspended = await client.post(f"{base}/suspend", headers=owner)
    assert suspended.json()["status"] == "suspended"
    refused = await shop.client.query("T-1")
    assert (refused.status_code, refused.json()["code"]) == (403, "terminal_suspended")

    resumed = await client.post(f"{base}/resume", headers=owner)
    assert resumed.json()["status"] == "active"
    assert (await shop.client.query("T-1")).json()["code"] == "redemption_not_found"

    revoked = await client.post(f"{base}/revoke", headers=owner)
    assert revoked.json()["status"] == "revoked"
    assert revoked.json()["revoked_at"] is not None
    refused = await shop.client.query("T-1")
    assert (refused.status_code, refused.json()["code"]) == (403, "terminal_revoked")

    again = await client.post(f"{base}/resume", headers=owner)
    assert (again.status_code, again.json()["code"]) == (409, "terminal_status_transition_invalid")
    missing = await client.post(
        f"/v1/merchants/{shop.merchant.id}/terminals/{uuid.uuid4()}/revoke", headers=owner
    )
    assert (missing.status_code, missing.json()["code"]) == (404, "terminal_not_found")
    row = await fetch_one(session, select(Terminal))
    assert row.status == TerminalStatus.revoked


# Signed requests


async def test_an_unsigned_request_is_refused(client: httpx.AsyncClient, shop: Shop) -> None:
    response = await client.get("/v1/terminal/redemptions/T-1")

    assert response.status_code == 401
    assert response.json()["code"] == "signature_missing"


async def test_a_body_that_is_not_the_signed_one_is_refused(
    client: httpx.AsyncClient, session: AsyncSession, shop: Shop
) -> None:
    code = await _redeemable(client, session, shop)
    signed = shop.signer.sign_json(
        "POST", "/v1/terminal/redemptions", {"code": code, "request_no": "T-1", "amount": 1}
    )
    tampered = signed.body.replace(b'"amount":1', b'"amount":9')

    response = await client.post(signed.url, content=tampered, headers=signed.headers)

    assert response.status_code == 401
    assert response.json()["code"] == "content_digest_mismatch"


async def test_a_signature_by_another_key_or_over_another_request_is_refused(
    client: httpx.AsyncClient, shop: Shop
) -> None:
    key, _ = new_key_pair()
    impostor = TerminalSigner(key_id=str(shop.terminal.id), private_key=key, clock=server_clock)
    wrong_key = impostor.sign("GET", "/v1/terminal/redemptions/T-1")
    other_path = shop.signer.sign("GET", "/v1/terminal/redemptions/T-2")
    other_query = shop.signer.sign("GET", "/v1/terminal/redemptions/T-1", query="a=1")

    responses = [
        await client.get("/v1/terminal/redemptions/T-1", headers=wrong_key.headers),
        await client.get("/v1/terminal/redemptions/T-1", headers=other_path.headers),
        # Signed over `?a=1`, sent without: the base's `@query` line differs.
        await client.get("/v1/terminal/redemptions/T-1", headers=other_query.headers),
        await client.post("/v1/terminal/redemptions/T-1/void", headers=other_path.headers),
    ]

    for response in responses:
        assert response.status_code == 401
        assert response.json()["code"] == "signature_invalid"
    # A query the route does not take is refused before the signature is even read.
    stray = await client.get("/v1/terminal/redemptions/T-1?a=1", headers=other_query.headers)
    assert (stray.status_code, stray.json()["code"]) == (400, "unknown_query_parameter")


async def test_the_timestamp_must_be_within_300_seconds_of_the_server_clock(
    client: httpx.AsyncClient, shop: Shop
) -> None:
    now = int(clock.now().timestamp())
    path = "/v1/terminal/redemptions/T-1"
    for created, expected in (
        (now - 310, "signature_stale"),
        (now + 310, "signature_stale"),
        (now - 290, "redemption_not_found"),
        (now + 290, "redemption_not_found"),
    ):
        signed = shop.signer.sign("GET", path, created=created)
        response = await client.get(path, headers=signed.headers)
        assert response.json()["code"] == expected, created


async def test_a_nonce_is_accepted_once(
    client: httpx.AsyncClient, session: AsyncSession, shop: Shop
) -> None:
    code = await _redeemable(client, session, shop)
    signed = shop.signer.sign_json(
        "POST", "/v1/terminal/redemptions", {"code": code, "request_no": "T-1", "amount": 1}
    )
    first = await client.post(signed.url, content=signed.body, headers=signed.headers)
    assert first.status_code == 201

    replayed = await client.post(signed.url, content=signed.body, headers=signed.headers)

    assert replayed.status_code == 401
    assert replayed.json()["code"] == "nonce_replayed"
    # Even a refused request spends its nonce, so it cannot be replayed once it would succeed.
    query = shop.signer.sign("GET", "/v1/terminal/redemptions/T-9")
    assert (await client.get(query.url, headers=query.headers)).status_code == 404
    again = await client.get(query.url, headers=query.headers)
    assert again.json()["code"] == "nonce_replayed"
    nonces = await fetch_all(session, select(TerminalNonce))
    assert len(nonces) == 2


async def test_a_nonce_of_one_terminal_does_not_block_another(
    client: httpx.AsyncClient, session: AsyncSession, shop: Shop
) -> None:
    from tests.merchants.conftest import make_terminal

    _, other = await make_terminal(session, shop.merchant)
    path = "/v1/terminal/redemptions/T-1"
    one = shop.signer.sign("GET", path, nonce="same-nonce-0123456789")
    two = other.sign("GET", path, nonce="same-nonce-0123456789")

    assert (await client.get(path, headers=one.headers)).json()["code"] == "redemption_not_found"
    assert (await client.get(path, headers=two.headers)).json()["code"] == "redemption_not_found"


async def test_malformed_signature_headers_are_refused(
    client: httpx.AsyncClient, shop: Shop
) -> None:
    path = "/v1/terminal/redemptions/T-1"
    good = shop.signer.sign("GET", path)
    params = good.headers["Signature-Input"].split("=", 1)[1]
    variants = [
        {**good.headers, "Signature-Input": params},
        {
            **good.headers,
            "Signature-Input": good.headers["Signature-Input"].replace('"content-digest"', ""),
        },
        {
            **good.headers,
            "Signature-Input": good.headers["Signature-Input"].replace(
                'alg="ed25519"', 'alg="hmac-sha256"'
            ),
        },
        {
            **good.headers,
            "Signature-Input": good.headers["Signature-Input"].replace("sig1=", "sig2="),
        },
        {**good.headers, "Signature": "sig1=:not base64!:"},
        {**good.headers, "Content-Digest": "sha-512=:AAAA:"},
        {
            **good.headers,
            "Signature-Input": good.headers["Signature-Input"].replace(
                "nonce=", 'nonce="short";x='
            ),
        },
    ]
    for headers in variants:
        response = await client.get(path, headers=headers)
        assert response.status_code == 401, headers
        assert response.json()["code"] == "signature_malformed", headers


async def test_an_unknown_key_id_is_refused(client: httpx.AsyncClient, shop: Shop) -> None:
    key, _ = new_key_pair()
    for key_id in (str(uuid.uuid4()), "not-a-uuid"):
        signer = TerminalSigner(key_id=key_id, private_key=key, clock=server_clock)
        signed = signer.sign("GET", "/v1/terminal/redemptions/T-1")
        response = await client.get(signed.url, headers=signed.headers)
        assert (response.status_code, response.json()["code"]) == (401, "terminal_unknown")


async def test_the_private_key_pem_round_trips(shop: Shop) -> None:
    key, _ = new_key_pair()
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    signer = TerminalSigner(key_id="k", private_key_pem=pem)
    assert signer.sign("GET", "/x").headers["Signature"].startswith("sig1=:")


async def test_a_refused_terminal_request_moves_nothing_and_records_nothing(
    client: httpx.AsyncClient, session: AsyncSession, shop: Shop
) -> None:
    from tests.merchants.conftest import make_terminal, redemptions, wallet_balance

    code = await _redeemable(client, session, shop)
    body = {"code": code, "request_no": "T-1", "amount": 5}
    path = "/v1/terminal/redemptions"
    key, _ = new_key_pair()
    impostor = TerminalSigner(key_id=str(shop.terminal.id), private_key=key, clock=server_clock)
    _, suspended_signer = await make_terminal(
        session, shop.merchant, status=TerminalStatus.suspended
    )
    _, revoked_signer = await make_terminal(session, shop.merchant, status=TerminalStatus.revoked)
    stale = shop.signer.sign("POST", path, body=b"{}", created=int(clock.now().timestamp()) - 400)
    cases = [
        (impostor.sign_json("POST", path, body), "signature_invalid"),
        (suspended_signer.sign_json("POST", path, body), "terminal_suspended"),
        (revoked_signer.sign_json("POST", path, body), "terminal_revoked"),
        (stale, "signature_stale"),
    ]
    for signed, problem in cases:
        response = await client.post(signed.url, content=signed.body, headers=signed.headers)
        assert response.json()["code"] == problem

    assert await wallet_balance(session, shop.world.volunteer_a) == 100
    assert await redemptions(session) == []
    # The code is still good for the real terminal.
    assert (await shop.client.redeem(code, request_no="T-1", amount=5)).status_code == 201
