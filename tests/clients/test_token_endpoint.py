"""The token endpoint by RFC 6749 §4.4 and §5.2, its tokens by RFC 9068, the metadata
by RFC 8414 and revocation by RFC 7009."""

from __future__ import annotations

import json
import uuid
from datetime import timedelta
from typing import Any

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ec

from app.clients.jobs import purge_spent_assertions
from app.clients.models import SpentAssertion
from app.core import clock
from tests.builders import World
from tests.clients.support import FORM, REVOKE, TOKEN, basic, bearer, register, token
from tests.orgs.support import Reader

NO_STORE = "no-store"


@pytest.fixture
async def registered(client: httpx.AsyncClient, world: World) -> dict[str, Any]:
    return await register(client, world, scopes=["activities:read", "hours:read"])


def _oauth_error(response: httpx.Response, status: int, error: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/json"
    assert response.headers["cache-control"] == NO_STORE
    body: dict[str, Any] = response.json()
    assert set(body) == {"error", "error_description"}
    assert body["error"] == error
    return body


async def test_client_secret_basic_gets_a_bearer_token_for_ten_minutes(
    client: httpx.AsyncClient, registered: dict[str, Any]
) -> None:
    response = await client.post(
        TOKEN,
        data={"grant_type": "client_credentials"},
        headers=basic(registered["client_id"], registered["client_secret"]),
    )

    assert response.status_code == 200, response.text
    assert response.headers["cache-control"] == NO_STORE
    assert response.headers["pragma"] == "no-cache"
    body = response.json()
    assert set(body) == {"access_token", "token_type", "expires_in", "scope"}
    assert body["token_type"] == "Bearer"
    assert body["expires_in"] == 600
    assert body["scope"] == "activities:read hours:read"


async def test_client_secret_post_works_as_well(
    client: httpx.AsyncClient, registered: dict[str, Any]
) -> None:
    response = await client.post(
        TOKEN,
        data={
            "grant_type": "client_credentials",
            "client_id": registered["client_id"],
            "client_secret": registered["client_secret"],
        },
    )
    assert response.status_code == 200, response.text


async def test_the_token_is_an_rfc_9068_jwt_verified_by_the_published_keys(
    client: httpx.AsyncClient, registered: dict[str, Any], world: World
) -> None:
    before = int(clock.now().timestamp())
    value = await token(client, registered, scope="activities:read")
    jwks = (await client.get("/.well-known/jwks.json")).json()
    metadata = (await client.get("/.well-known/oauth-authorization-server")).json()

    header = jwt.get_unverified_header(value)
    assert header["typ"] == "at+jwt"
    assert header["alg"] == "ES256"
    key = next(k for k in jwks["keys"] if k["kid"] == header["kid"])
    claims = jwt.decode(
        value,
        jwt.PyJWK(key).key,
        algorithms=["ES256"],
        audience="liangpiao-api",
        issuer=metadata["issuer"],
        options={"verify_exp": False, "verify_iat": False, "verify_nbf": False},
    )
    assert claims["client_id"] == registered["client_id"]
    assert claims["sub"] == registered["client_id"]
    assert claims["scope"] == "activities:read"
    assert claims["rid"] == str(world.region.id)
    assert claims["exp"] - claims["iat"] == 600
    assert before <= claims["iat"] <= before + 5
    assert claims["jti"]


async def test_scope_narrows_the_token_and_one_beyond_the_client_is_invalid_scope(
    client: httpx.AsyncClient, registered: dict[str, Any]
) -> None:
    narrowed = await client.post(
        TOKEN,
        data={"grant_type": "client_credentials", "scope": "hours:read"},
        headers=basic(registered["client_id"], registered["client_secret"]),
    )
    beyond = await client.post(
        TOKEN,
        data={"grant_type": "client_credentials", "scope": "hours:read ledger:read"},
        headers=basic(registered["client_id"], registered["client_secret"]),
    )
    unknown = await client.post(
        TOKEN,
        data={"grant_type": "client_credentials", "scope": "admin"},
        headers=basic(registered["client_id"], registered["client_secret"]),
    )

    assert narrowed.json()["scope"] == "hours:read"
    assert _oauth_error(beyond, 400, "invalid_scope") == {
        "error": "invalid_scope",
        "error_description": "The client may not have: ledger:read",
    }
    _oauth_error(unknown, 400, "invalid_scope")


@pytest.mark.parametrize(
    ("auth", "expected"),
    [
        ("none", "Client authentication is required"),
        ("wrong_secret", "Unknown client or wrong credentials"),
        ("unknown_client", "Unknown client or wrong credentials"),
        ("not_a_uuid", "Unknown client or wrong credentials"),
        ("garbled_basic", "The Basic credentials are not valid base64"),
    ],
)
async def test_invalid_client_is_401_with_a_basic_challenge(
    client: httpx.AsyncClient, registered: dict[str, Any], auth: str, expected: str
) -> None:
    headers = {
        "none": {},
        "wrong_secret": basic(registered["client_id"], "lps_wrong"),
        "unknown_client": basic(str(uuid.uuid4()), registered["client_secret"]),
        "not_a_uuid": basic("city-app", registered["client_secret"]),
        "garbled_basic": {"Authorization": "Basic %%%"},
    }[auth]
    response = await client.post(TOKEN, data={"grant_type": "client_credentials"}, headers=headers)

    body = _oauth_error(response, 401, "invalid_client")
    assert body["error_description"] == expected
    assert response.headers["www-authenticate"] == 'Basic realm="liangpiao", charset="UTF-8"'


async def test_an_unknown_grant_type_is_unsupported_grant_type(
    client: httpx.AsyncClient, registered: dict[str, Any]
) -> None:
    response = await client.post(
        TOKEN,
        data={"grant_type": "password", "username": "a", "password": "b"},
        headers=basic(registered["client_id"], registered["client_secret"]),
    )
    assert _oauth_error(response, 400, "unsupported_grant_type") == {
        "error": "unsupported_grant_type",
        "error_description": "Only grant_type=client_credentials is supported",
    }


@pytest.mark.parametrize(
    ("content", "content_type", "auth", "expected"),
    [
        (b"", FORM["Content-Type"], True, "grant_type is required"),
        (
            b'{"grant_type": "client_credentials"}',
            "application/json",
            True,
            "Send the parameters as application/x-www-form-urlencoded",
        ),
        (
            b"grant_type=client_credentials&grant_type=client_credentials",
            FORM["Content-Type"],
            True,
            "The parameter 'grant_type' is given more than once",
        ),
        (
            b"grant_type=client_credentials&client_secret=x&client_id=y",
            FORM["Content-Type"],
            True,
            "Authenticate the client one way only",
        ),
    ],
)
async def test_a_malformed_request_is_invalid_request(
    client: httpx.AsyncClient,
    registered: dict[str, Any],
    content: bytes,
    content_type: str,
    auth: bool,
    expected: str,
) -> None:
    headers = {"Content-Type": content_type}
    if auth:
        headers.update(basic(registered["client_id"], registered["client_secret"]))
    response = await client.post(TOKEN, content=content, headers=headers)
    assert _oauth_error(response, 400, "invalid_request")["error_description"] == expected


async def test_the_metadata_describes_the_endpoint(client: httpx.AsyncClient) -> None:
    response = await client.get("/.well-known/oauth-authorization-server")

    assert response.status_code == 200
    body = response.json()
    assert body["issuer"] == "liangpiao"
    assert body["token_endpoint"] == "http://testserver/v1/oauth/token"
    assert body["jwks_uri"] == "http://testserver/.well-known/jwks.json"
    assert body["revocation_endpoint"] == "http://testserver/v1/oauth/revoke"
    assert body["grant_types_supported"] == ["client_credentials"]
    assert set(body["token_endpoint_auth_methods_supported"]) == {
        "client_secret_basic",
        "client_secret_post",
        "private_key_jwt",
    }
    assert "activities:read" in body["scopes_supported"]
    assert "hours:read" in body["scopes_supported"]


async def test_a_revoked_token_is_refused_and_revocation_always_answers_200(
    client: httpx.AsyncClient, registered: dict[str, Any], world: World
) -> None:
    value = await token(client, registered)
    assert (await client.get("/v1/activities", headers=bearer(value))).status_code == 200
    auth = basic(registered["client_id"], registered["client_secret"])

    revoked = await client.post(REVOKE, data={"token": value}, headers=auth)
    garbage = await client.post(REVOKE, data={"token": "not-a-token"}, headers=auth)
    unauthenticated = await client.post(REVOKE, data={"token": value})

    assert revoked.status_code == 200
    assert garbage.status_code == 200
    _oauth_error(unauthenticated, 401, "invalid_client")
    after = await client.get("/v1/activities", headers=bearer(value))
    assert after.status_code == 401
    assert after.json()["code"] == "token_invalid"
    # A fresh token still works: revocation named one token, not the client.
    assert (
        await client.get("/v1/activities", headers=bearer(await token(client, registered)))
    ).status_code == 200


async def test_a_client_cannot_revoke_another_clients_token(
    client: httpx.AsyncClient, registered: dict[str, Any], world: World
) -> None:
    other = await register(client, world, scopes=["activities:read"])
    value = await token(client, registered)

    answer = await client.post(
        REVOKE,
        data={"token": value},
        headers=basic(other["client_id"], other["client_secret"]),
    )

    assert answer.status_code == 200
    assert (await client.get("/v1/activities", headers=bearer(value))).status_code == 200


# private_key_jwt (RFC 7523)


def _public_jwk(key: ec.EllipticCurvePrivateKey) -> dict[str, Any]:
    jwk: dict[str, Any] = json.loads(jwt.algorithms.ECAlgorithm.to_jwk(key.public_key()))
    return jwk


def _assertion(
    key: ec.EllipticCurvePrivateKey, client_id: str, *, aud: str, lifetime: int = 60
) -> str:
    now = int(clock.now().timestamp())
    claims = {
        "iss": client_id,
        "sub": client_id,
        "aud": aud,
        "iat": now,
        "exp": now + lifetime,
        "jti": uuid.uuid4().hex,
    }
    return jwt.encode(claims, key, algorithm="ES256")


async def _with_assertion(client: httpx.AsyncClient, assertion: str) -> httpx.Response:
    return await client.post(
        TOKEN,
        data={
            "grant_type": "client_credentials",
            "client_assertion_type": "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
            "client_assertion": assertion,
        },
    )


async def test_a_client_with_a_key_authenticates_with_a_signed_assertion_once(
    client: httpx.AsyncClient, world: World
) -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    registered = await register(client, world, scopes=["activities:read"], jwk=_public_jwk(key))
    assert registered["client_secret"] is None
    assert registered["auth_method"] == "private_key_jwt"
    cid = registered["client_id"]
    assertion = _assertion(key, cid, aud="http://testserver/v1/oauth/token")

    first = await _with_assertion(client, assertion)
    replayed = await _with_assertion(client, assertion)
    wrong_key = await _with_assertion(
        client,
        _assertion(ec.generate_private_key(ec.SECP256R1()), cid, aud="liangpiao"),
    )
    wrong_audience = await _with_assertion(client, _assertion(key, cid, aud="https://elsewhere"))
    too_long = await _with_assertion(client, _assertion(key, cid, aud="liangpiao", lifetime=3600))
    absurd = await _with_assertion(client, _assertion(key, cid, aud="liangpiao", lifetime=10**15))

    assert first.status_code == 200, first.text
    assert (
        jwt.decode(first.json()["access_token"], options={"verify_signature": False})["client_id"]
        == cid
    )
    assert _oauth_error(replayed, 401, "invalid_client")["error_description"] == (
        "The client assertion was already used"
    )
    _oauth_error(wrong_key, 401, "invalid_client")
    _oauth_error(wrong_audience, 401, "invalid_client")
    _oauth_error(too_long, 401, "invalid_client")
    _oauth_error(absurd, 401, "invalid_client")


async def test_an_expired_assertion_is_refused(client: httpx.AsyncClient, world: World) -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    registered = await register(client, world, scopes=["activities:read"], jwk=_public_jwk(key))
    assertion = _assertion(key, registered["client_id"], aud="liangpiao", lifetime=30)

    with clock.travel(clock.now() + timedelta(minutes=5)):
        response = await _with_assertion(client, assertion)

    _oauth_error(response, 401, "invalid_client")


async def test_a_private_key_is_refused_as_a_client_key(
    client: httpx.AsyncClient, world: World
) -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    private = json.loads(jwt.algorithms.ECAlgorithm.to_jwk(key))
    response = await client.post(
        "/v1/clients",
        json={"name": "x", "contact": "y", "scopes": [], "jwk": private},
        headers=world.auth["center_admin"],
    )
    assert response.status_code == 422
    assert response.json()["code"] == "client_key_invalid"


async def test_spent_assertions_are_forgotten_once_expired(
    app: Any, client: httpx.AsyncClient, world: World
) -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    registered = await register(client, world, scopes=["activities:read"], jwk=_public_jwk(key))
    cid = registered["client_id"]
    assert (await _with_assertion(client, _assertion(key, cid, aud="liangpiao"))).status_code == 200
    reader = Reader(app)
    assert await reader.count(SpentAssertion) == 1

    assert await purge_spent_assertions(app.state.db.sessions) == 0
    with clock.travel(clock.now() + timedelta(minutes=2)):
        assert await purge_spent_assertions(app.state.db.sessions) == 1
    assert await reader.count(SpentAssertion) == 0
