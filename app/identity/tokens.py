"""Issuing a login's tokens: an ES256 access token and an opaque refresh token.

A refresh token is `new_secret()` handed to the client once and stored only as
its SHA-256. Every token of one login shares a `family_id`: rotation adds to the
family, and reuse of a rotated token or a logout revokes the whole family.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.ext.asyncio import AsyncSession

from app.core import clock
from app.core.config import Settings
from app.core.security import KeyRing, hash_secret, new_secret
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


async def token_issuer(request: Request) -> TokenIssuer:
    settings: Settings = request.app.state.settings
    return TokenIssuer(
        keyring=request.app.state.keyring,
        refresh_ttl=timedelta(seconds=settings.refresh_token_ttl_seconds),
    )


TokenIssuerDep = Annotated[TokenIssuer, Depends(token_issuer)]


async def issue_tokens(
    session: AsyncSession,
    *,
    issuer: TokenIssuer,
    subject: Subject,
    family_id: uuid.UUID | None = None,
) -> IssuedTokens:
    """A new access token and a refresh token in `family_id` (a new family if none)."""
    refresh = new_secret()
    now = clock.now()
    session.add(
        RefreshToken(
            family_id=family_id or uuid.uuid4(),
            subject_type=subject.type,
            subject_id=subject.id,
            region_id=subject.region_id,
            token_hash=hash_secret(refresh),
            created_at=now,
            expires_at=now + issuer.refresh_ttl,
        )
    )
    await session.flush()
    access, expires_in = issuer.keyring.issue(
        sub=subject.id, typ=subject.typ, region_id=subject.region_id, scopes=subject.scopes
    )
    return IssuedTokens(access_token=access, expires_in=expires_in, refresh_token=refresh)
