"""The client registry: center admins register their region's clients, set their
scopes and status, and rotate their secrets.

A secret is 32 random bytes (`new_secret()`), shown once and stored as its SHA-256
only. That is enough for a secret nobody chose: with 256 bits of entropy there is no
dictionary to try, so a slow hash (argon2, as for passwords) would only cost every
token request its CPU without making a leaked hash any easier to reverse.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

import jwt
from sqlalchemy.ext.asyncio import AsyncSession

from app.clients import repository, schemas
from app.clients.errors import (
    ClientAdminRequired,
    ClientKeyInvalid,
    ClientLastSecret,
    ClientNotFound,
    ClientRevoked,
    ClientScopeUnknown,
    ClientSecretLimit,
    ClientSecretNotFound,
    ClientUsesKey,
)
from app.clients.models import ClientSecret, ClientStatus, OAuthClient
from app.core import clock
from app.core.pagination import Page, PageParams, keyset_page
from app.core.security import hash_secret, new_secret
from app.identity.principals import StaffContext
from app.identity.scopes import SCOPES

MAX_LIVE_SECRETS = 2
SECRET_PREFIX = "lps_"  # noqa: S105 - marks a secret as ours in a scanner's eyes
_PUBLIC_KEY_FIELDS = {"EC": ("kty", "crv", "x", "y"), "RSA": ("kty", "n", "e")}


def _require_admin(staff: StaffContext) -> None:
    if not staff.is_center_admin:
        raise ClientAdminRequired()


def _checked_scopes(scopes: Sequence[str]) -> list[str]:
    unknown = sorted(set(scopes) - SCOPES.keys())
    if unknown:
        raise ClientScopeUnknown(f"Unknown scopes: {unknown}; known: {sorted(SCOPES)}")
    return sorted(set(scopes))


def public_jwk(jwk: dict[str, Any]) -> dict[str, Any]:
    """The key's public members alone, refused if it is not a P-256 or RSA public key
    (a private member sent by mistake is refused, not stored)."""
    kty = jwk.get("kty")
    fields = _PUBLIC_KEY_FIELDS.get(kty) if isinstance(kty, str) else None
    if fields is None or "d" in jwk or (kty == "EC" and jwk.get("crv") != "P-256"):
        raise ClientKeyInvalid()
    public = {name: jwk[name] for name in fields if name in jwk}
    if set(public) != set(fields) or not all(isinstance(v, str) for v in public.values()):
        raise ClientKeyInvalid()
    try:
        algorithm = jwt.algorithms.ECAlgorithm if kty == "EC" else jwt.algorithms.RSAAlgorithm
        algorithm.from_jwk(public)
    except (jwt.PyJWTError, ValueError, TypeError) as exc:
        raise ClientKeyInvalid() from exc
    if "kid" in jwk and isinstance(jwk["kid"], str) and len(jwk["kid"]) <= 100:
        public["kid"] = jwk["kid"]
    return public


def _out(client: OAuthClient, secrets: Sequence[ClientSecret]) -> schemas.Client:
    ordered = sorted(secrets, key=lambda s: (s.retired_at is not None, s.created_at))
    return schemas.Client(
        client_id=client.id,
        region_id=client.region_id,
        name=client.name,
        contact=client.contact,
        scopes=list(client.scopes),
        status=client.status,
        auth_method="private_key_jwt" if client.jwk else "client_secret_basic",
        jwk=client.jwk,
        secrets=[
            schemas.SecretOut(
                id=s.id, hint=s.hint, created_at=s.created_at, retired_at=s.retired_at
            )
            for s in ordered
        ],
        created_at=client.created_at,
        updated_at=client.updated_at,
    )


def _new_secret(session: AsyncSession, client: OAuthClient) -> schemas.NewSecret:
    value = SECRET_PREFIX + new_secret()
    row = ClientSecret(
        id=uuid.uuid4(),
        client_id=client.id,
        region_id=client.region_id,
        secret_hash=hash_secret(value),
        hint=value[-4:],
        created_at=clock.now(),
    )
    session.add(row)
    return schemas.NewSecret(
        id=row.id, client_secret=value, hint=row.hint, created_at=row.created_at
    )


async def _client(
    session: AsyncSession, staff: StaffContext, client_id: uuid.UUID, *, lock: bool = False
) -> OAuthClient:
    client = await repository.client_in_region(
        session, region_id=staff.region_id, client_id=client_id, lock=lock
    )
    if client is None:
        raise ClientNotFound()
    # Only now: another region's admin is told the client does not exist.
    _require_admin(staff)
    return client


async def _secrets(session: AsyncSession, client: OAuthClient) -> Sequence[ClientSecret]:
    return await repository.secrets_of(session, region_id=client.region_id, client_ids=[client.id])


async def register(
    session: AsyncSession, *, staff: StaffContext, data: schemas.ClientCreate
) -> schemas.ClientCreated:
    _require_admin(staff)
    now = clock.now()
    client = OAuthClient(
        id=uuid.uuid4(),
        region_id=staff.region_id,
        name=data.name,
        contact=data.contact,
        scopes=_checked_scopes(data.scopes),
        status=ClientStatus.active,
        jwk=public_jwk(data.jwk) if data.jwk is not None else None,
        created_by_id=staff.id,
        created_at=now,
        updated_at=now,
    )
    session.add(client)
    await session.flush()
    secret = None if client.jwk else _new_secret(session, client)
    await session.flush()
    out = _out(client, await _secrets(session, client))
    return schemas.ClientCreated(
        **out.model_dump(), client_secret=secret.client_secret if secret else None
    )


async def list_clients(
    session: AsyncSession, *, staff: StaffContext, page: PageParams
) -> Page[schemas.Client]:
    _require_admin(staff)
    rows = await repository.clients_page(session, region_id=staff.region_id, page=page)
    secrets = await repository.secrets_of(
        session, region_id=staff.region_id, client_ids=[c.id for c in rows]
    )
    by_client: dict[uuid.UUID, list[ClientSecret]] = {}
    for s in secrets:
        by_client.setdefault(s.client_id, []).append(s)
    return keyset_page(
        rows,
        page,
        key=lambda c: (c.created_at, c.id),
        out=lambda c: _out(c, by_client.get(c.id, [])),
    )


async def get_client(
    session: AsyncSession, *, staff: StaffContext, client_id: uuid.UUID
) -> schemas.Client:
    client = await _client(session, staff, client_id)
    return _out(client, await _secrets(session, client))


async def update_client(
    session: AsyncSession, *, staff: StaffContext, client_id: uuid.UUID, data: schemas.ClientUpdate
) -> schemas.Client:
    client = await _client(session, staff, client_id, lock=True)
    if client.status == ClientStatus.revoked:
        raise ClientRevoked()
    if data.name is not None:
        client.name = data.name
    if data.contact is not None:
        client.contact = data.contact
    if data.scopes is not None:
        client.scopes = _checked_scopes(data.scopes)
    if data.jwk is not None:
        client.jwk = public_jwk(data.jwk)
    if data.status is not None:
        client.status = data.status
    client.updated_at = clock.now()
    await session.flush()
    return _out(client, await _secrets(session, client))


async def add_secret(
    session: AsyncSession, *, staff: StaffContext, client_id: uuid.UUID
) -> schemas.NewSecret:
    """Rotation's first half: a second secret, valid alongside the first."""
    client = await _client(session, staff, client_id, lock=True)
    if client.status == ClientStatus.revoked:
        raise ClientRevoked()
    if client.jwk:
        raise ClientUsesKey()
    live = [s for s in await _secrets(session, client) if s.retired_at is None]
    if len(live) >= MAX_LIVE_SECRETS:
        raise ClientSecretLimit()
    secret = _new_secret(session, client)
    await session.flush()
    return secret


async def retire_secret(
    session: AsyncSession, *, staff: StaffContext, client_id: uuid.UUID, secret_id: uuid.UUID
) -> schemas.Client:
    """Rotation's second half: the old secret stops working at once."""
    client = await _client(session, staff, client_id, lock=True)
    secrets = await _secrets(session, client)
    secret = next((s for s in secrets if s.id == secret_id), None)
    if secret is None:
        raise ClientSecretNotFound()
    if secret.retired_at is None:
        live = [s for s in secrets if s.retired_at is None]
        if len(live) == 1 and client.status != ClientStatus.revoked:
            raise ClientLastSecret()
        secret.retired_at = clock.now()
        await session.flush()
    return _out(client, secrets)
