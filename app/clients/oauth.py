"""OAuth2 for third-party clients: the client credentials grant (RFC 6749 §4.4), client
authentication (`client_secret_basic`, `client_secret_post`, `private_key_jwt` of RFC
7523), token revocation (RFC 7009) and the server's metadata (RFC 8414).

Access tokens follow RFC 9068: ES256 JWTs signed by the service's key ring (so
`/.well-known/jwks.json` verifies them), header `typ: at+jwt`, claims `client_id`,
`sub` (the client), `scope`, the region (`rid`) and a `jti` for revocation; they
live ten minutes. Requests are form-encoded and every refusal is RFC 6749 §5.2's
JSON, parsed here by the letter: a parameter given twice is `invalid_request`, and
so is a client authenticating in two ways at once.
"""

from __future__ import annotations

import base64
import binascii
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qsl, unquote_plus

import jwt
from sqlalchemy.ext.asyncio import AsyncSession

from app.clients import repository
from app.clients.errors import (
    InvalidClient,
    InvalidRequest,
    InvalidScope,
    OAuthError,
    UnsupportedGrantType,
)
from app.clients.models import ClientStatus, OAuthClient
from app.core import clock
from app.core.errors import TokenExpired, TokenInvalid
from app.core.security import (
    LEEWAY_SECONDS,
    KeyRing,
    TokenClaims,
    constant_time_equals,
    hash_secret,
)
from app.identity import revocation
from app.identity.scopes import SCOPES

ACCESS_TOKEN_TTL = timedelta(minutes=10)
CLIENT_TOKEN_TYP = "client"  # noqa: S105 - the `typ` claim that names the principal kind
JWT_BEARER = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
ASSERTION_MAX_LIFETIME = timedelta(minutes=10)
ASSERTION_ALGORITHMS = {"EC": ["ES256"], "RSA": ["RS256", "PS256"]}
AUTH_METHODS = ["client_secret_basic", "client_secret_post", "private_key_jwt"]
FORM = "application/x-www-form-urlencoded"
MAX_PARAM_LENGTH = 4096


def parse_form(content_type: str | None, body: bytes) -> dict[str, str]:
    """The form's parameters; RFC 6749 §3.2 forbids any of them twice."""
    media = (content_type or "").split(";")[0].strip().lower()
    if media != FORM:
        raise InvalidRequest(f"Send the parameters as {FORM}")
    try:
        text = body.decode("ascii")
        pairs = parse_qsl(text, keep_blank_values=True, strict_parsing=bool(text))
    except (UnicodeDecodeError, ValueError) as exc:
        raise InvalidRequest("The body is not a valid form") from exc
    params: dict[str, str] = {}
    for name, value in pairs:
        if name in params:
            raise InvalidRequest(f"The parameter {name!r} is given more than once")
        if len(value) > MAX_PARAM_LENGTH:
            raise InvalidRequest(f"The parameter {name!r} is too long")
        params[name] = value
    return params


@dataclass(frozen=True)
class Endpoint:
    """Where the server is reached, for assertion audiences and the metadata."""

    issuer: str
    token_url: str


def _basic(authorization: str | None) -> tuple[str, str] | None:
    if not authorization:
        return None
    scheme, _, credentials = authorization.partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        decoded = base64.b64decode(credentials.strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError) as exc:
        raise InvalidClient("The Basic credentials are not valid base64") from exc
    client_id, sep, secret = decoded.partition(":")
    if not sep:
        raise InvalidClient("The Basic credentials are not client_id:client_secret")
    # RFC 6749 §2.3.1: both halves are form-encoded before they are joined.
    return unquote_plus(client_id), unquote_plus(secret)


def _client_uuid(value: str) -> uuid.UUID:
    try:
        return uuid.UUID(value)
    except ValueError as exc:
        raise InvalidClient("Unknown client or wrong credentials") from exc


async def _active_client(session: AsyncSession, client_id: str) -> OAuthClient:
    client = await repository.client_by_id(session, client_id=_client_uuid(client_id))
    if client is None:
        raise InvalidClient("Unknown client or wrong credentials")
    if client.status != ClientStatus.active:
        raise InvalidClient(f"The client is {client.status}")
    return client


async def _by_secret(session: AsyncSession, client_id: str, secret: str) -> OAuthClient:
    client = await _active_client(session, client_id)
    offered = hash_secret(secret)
    hashes = await repository.live_secret_hashes(session, client_id=client.id)
    # Every live hash is compared, so the time taken says nothing about which matched.
    matched = [constant_time_equals(offered, h) for h in hashes]
    if client.jwk or not any(matched):
        raise InvalidClient("Unknown client or wrong credentials")
    return client


async def _by_assertion(
    session: AsyncSession, params: Mapping[str, str], endpoint: Endpoint
) -> OAuthClient:
    """RFC 7523 §3: a JWT the client signed with the key it registered."""
    if params.get("client_assertion_type") != JWT_BEARER:
        raise InvalidClient(f"client_assertion_type must be {JWT_BEARER}")
    assertion = params.get("client_assertion", "")
    try:
        unverified = jwt.decode(assertion, options={"verify_signature": False})
    except jwt.PyJWTError as exc:
        raise InvalidClient("The client assertion is not a JWT") from exc
    issuer = unverified.get("iss")
    if not isinstance(issuer, str) or unverified.get("sub") != issuer:
        raise InvalidClient("The assertion's iss and sub must both be the client_id")
    if "client_id" in params and params["client_id"] != issuer:
        raise InvalidClient("client_id and the assertion's issuer differ")
    client = await _active_client(session, issuer)
    if not client.jwk:
        raise InvalidClient("The client has no registered key")
    kty = str(client.jwk["kty"])
    algorithm = jwt.algorithms.ECAlgorithm if kty == "EC" else jwt.algorithms.RSAAlgorithm
    try:
        claims: dict[str, Any] = jwt.decode(
            assertion,
            algorithm.from_jwk(client.jwk),  # type: ignore[arg-type]
            algorithms=ASSERTION_ALGORITHMS[kty],
            audience=[endpoint.token_url, endpoint.issuer],
            options={
                "require": ["iss", "sub", "aud", "exp", "jti"],
                "verify_exp": False,
                "verify_nbf": False,
                "verify_iat": False,
            },
        )
    except jwt.PyJWTError as exc:
        raise InvalidClient("The client assertion's signature or audience is wrong") from exc
    now = int(clock.now().timestamp())
    exp, jti = claims["exp"], claims["jti"]
    if not isinstance(exp, int) or not isinstance(jti, str) or not 0 < len(jti) <= 128:
        raise InvalidClient("The client assertion's exp or jti is malformed")
    # Compared as integers first: an absurd `exp` is refused, never turned into a date.
    if exp + LEEWAY_SECONDS < now:
        raise InvalidClient("The client assertion has expired")
    if exp > now + int(ASSERTION_MAX_LIFETIME.total_seconds()):
        raise InvalidClient("The client assertion lives too long: at most ten minutes")
    expires = datetime.fromtimestamp(exp, UTC)
    if not await repository.spend_assertion(
        session, client_id=client.id, jti=jti, expires_at=expires
    ):
        raise InvalidClient("The client assertion was already used")
    return client


async def authenticate(
    session: AsyncSession,
    *,
    params: Mapping[str, str],
    authorization: str | None,
    endpoint: Endpoint,
) -> OAuthClient:
    """The client a token or revocation request comes from, by exactly one method."""
    basic = _basic(authorization)
    methods = [
        basic is not None,
        "client_secret" in params,
        "client_assertion" in params or "client_assertion_type" in params,
    ]
    if sum(methods) > 1:
        raise InvalidRequest("Authenticate the client one way only")
    if basic is not None:
        client_id, secret = basic
        if "client_id" in params and params["client_id"] != client_id:
            raise InvalidRequest("client_id differs from the Basic credentials")
        return await _by_secret(session, client_id, secret)
    if "client_secret" in params:
        return await _by_secret(session, params.get("client_id", ""), params["client_secret"])
    if methods[2]:
        return await _by_assertion(session, params, endpoint)
    raise InvalidClient("Client authentication is required")


def granted_scopes(client: OAuthClient, requested: str | None) -> list[str]:
    """RFC 6749 §3.3: what was asked for, if the client may have all of it; without a
    `scope`, everything it may have."""
    allowed = set(client.scopes)
    if requested is None:
        return sorted(allowed)
    asked = requested.split(" ")
    if not requested or any(not s for s in asked):
        raise InvalidScope("scope is a list of scopes separated by single spaces")
    refused = sorted(set(asked) - allowed)
    if refused:
        raise InvalidScope(f"The client may not have: {' '.join(refused)}")
    return sorted(set(asked))


@dataclass(frozen=True)
class IssuedToken:
    access_token: str
    expires_in: int
    scope: str


async def token(
    session: AsyncSession,
    *,
    keyring: KeyRing,
    params: Mapping[str, str],
    authorization: str | None,
    endpoint: Endpoint,
) -> IssuedToken:
    grant_type = params.get("grant_type")
    if not grant_type:
        raise InvalidRequest("grant_type is required")
    if grant_type != "client_credentials":
        raise UnsupportedGrantType("Only grant_type=client_credentials is supported")
    client = await authenticate(
        session, params=params, authorization=authorization, endpoint=endpoint
    )
    scopes = granted_scopes(client, params.get("scope"))
    access, expires_in = access_token_for(
        keyring, client_id=client.id, region_id=client.region_id, scopes=scopes
    )
    return IssuedToken(access_token=access, expires_in=expires_in, scope=" ".join(scopes))


def access_token_for(
    keyring: KeyRing, *, client_id: uuid.UUID, region_id: uuid.UUID, scopes: list[str]
) -> tuple[str, int]:
    """An RFC 9068 access token of the client, and its lifetime in seconds."""
    return keyring.issue(
        sub=client_id,
        typ=CLIENT_TOKEN_TYP,
        region_id=region_id,
        scopes=scopes,
        ttl=ACCESS_TOKEN_TTL,
        header_typ="at+jwt",
        extra={"client_id": str(client_id)},
    )


async def revoke(
    session: AsyncSession,
    *,
    keyring: KeyRing,
    params: Mapping[str, str],
    authorization: str | None,
    endpoint: Endpoint,
) -> None:
    """RFC 7009: the token, if it is this client's, is refused from now on. A token
    that is invalid, expired or another's gets the same answer: nothing to say."""
    client = await authenticate(
        session, params=params, authorization=authorization, endpoint=endpoint
    )
    value = params.get("token")
    if not value:
        raise InvalidRequest("token is required")
    try:
        claims: TokenClaims = keyring.verify(value)
    except (TokenInvalid, TokenExpired):
        return
    if claims.typ != CLIENT_TOKEN_TYP or claims.sub != str(client.id):
        return
    await revocation.deny_access_token(
        session,
        jti=claims.jti,
        region_id=client.region_id,
        until=clock.now() + ACCESS_TOKEN_TTL + timedelta(seconds=LEEWAY_SECONDS + 1),
    )


def metadata(endpoint: Endpoint, base_url: str) -> dict[str, Any]:
    """RFC 8414 §2: what a client library needs to find the token endpoint."""
    return {
        "issuer": endpoint.issuer,
        "token_endpoint": endpoint.token_url,
        "jwks_uri": f"{base_url}/.well-known/jwks.json",
        "revocation_endpoint": f"{base_url}/v1/oauth/revoke",
        "grant_types_supported": ["client_credentials"],
        "response_types_supported": [],
        "scopes_supported": sorted(SCOPES),
        "token_endpoint_auth_methods_supported": AUTH_METHODS,
        "token_endpoint_auth_signing_alg_values_supported": ["ES256", "RS256", "PS256"],
        "revocation_endpoint_auth_methods_supported": AUTH_METHODS,
        "revocation_endpoint_auth_signing_alg_values_supported": ["ES256", "RS256", "PS256"],
        "service_documentation": f"{base_url}/docs",
    }


def error_body(error: OAuthError) -> dict[str, str]:
    return {"error": error.error, "error_description": error.description}
