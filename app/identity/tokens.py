"""Issuing a login's tokens: an ES256 access token and an opaque refresh token.

A refresh token is `new_secret()` handed to the client once and stored only as
its SHA-256. Every token of one login shares a `family_id`: rotation adds to the
family, and reuse of a rotated token or a logout revokes the whole family. The
family ends `family_lifetime` after the login that began it, however often it
rotated; and each refresh row names its access token's `jti`, so that ending the
login can deny that access token too (`app.identity.revocation`).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.ext.asyncio import AsyncSession

from app.core import clock
from app.core.config import Settings
from app.core.security import LEEWAY_SECONDS, KeyRing, hash_secret, new_secret
from app.identity.models import RefreshToken, SubjectType


@dataclass(frozen=True)
class Subject:
    """Who a token pair is for, and what its access token says about them."""

    type: SubjectType
    id: uuid.UUID
    region_id: uuid.UUID
    typ: str  # the access token's `typ`: volunteer, staff or merchant_staff
    scopes: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class IssuedTokens:
    access_token: str
    expires_in: int
    refresh_token: str


@dataclass(frozen=True)
class TokenIssuer:
    keyring: KeyRing
    refresh_ttl: timedelta
    family_lifetime: timedelta


async def token_issuer(request: Request) -> TokenIssuer:
    settings: Settings = request.app.state.settings
    return TokenIssuer(
        keyring=request.app.state.keyring,
        refresh_ttl=timedelta(seconds=settings.refresh_token_ttl_seconds),
        family_lifetime=timedelta(seconds=settings.refresh_family_lifetime_seconds),
    )


@dataclass(frozen=True)
class Family:
    """The login a rotated refresh token continues: its id, and when the login was."""

    id: uuid.UUID
    started_at: datetime


TokenIssuerDep = Annotated[TokenIssuer, Depends(token_issuer)]


async def issue_tokens(
    session: AsyncSession,
    *,
    issuer: TokenIssuer,
    subject: Subject,
    family: Family | None = None,
) -> IssuedTokens:
    """A new access token and a refresh token in `family` (a new login if none)."""
    refresh = new_secret()
    jti = uuid.uuid4().hex
    now = clock.now()
    family = family or Family(id=uuid.uuid4(), started_at=now)
    access, expires_in = issuer.keyring.issue(
        sub=subject.id, typ=subject.typ, region_id=subject.region_id, scopes=subject.scopes, jti=jti
    )
    session.add(
        RefreshToken(
            family_id=family.id,
            subject_type=subject.type,
            subject_id=subject.id,
            region_id=subject.region_id,
            token_hash=hash_secret(refresh),
            created_at=now,
            # Never outliving its login, so that the row's expiry is the truth.
            expires_at=min(now + issuer.refresh_ttl, family.started_at + issuer.family_lifetime),
            family_started_at=family.started_at,
            access_jti=jti,
            # The last instant the access token is accepted: its `exp` (whole seconds,
            # stamped a moment after `now`) plus the verifier's leeway.
            access_expires_at=now + timedelta(seconds=expires_in + LEEWAY_SECONDS + 1),
        )
    )
    await session.flush()
    return IssuedTokens(access_token=access, expires_in=expires_in, refresh_token=refresh)
