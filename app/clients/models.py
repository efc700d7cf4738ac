"""Third-party OAuth2 clients of a region: the registry, their hashed secrets, and the
client assertions (RFC 7523) already spent."""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, ForeignKey, PrimaryKeyConstraint, String
from sqlalchemy.orm import Mapped, mapped_column

from app.core import clock
from app.core.db import Base, IdMixin, TimestampMixin


class ClientStatus(StrEnum):
    active = "active"
    suspended = "suspended"  # refused until resumed
    revoked = "revoked"  # refused for good


class OAuthClient(IdMixin, TimestampMixin, Base):
    """A platform that calls the API with its own credentials; `id` is its `client_id`.

    It authenticates with one of its secrets (`client_secret_basic` / `_post`) or, when
    `jwk` holds its public key, with a signed assertion (`private_key_jwt`) instead.
    """

    __tablename__ = "oauth_clients"

    region_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("regions.id"), index=True)
    name: Mapped[str] = mapped_column(String(100))
    contact: Mapped[str] = mapped_column(String(200))
    scopes: Mapped[list[str]] = mapped_column(JSON)
    status: Mapped[ClientStatus] = mapped_column(String(16), default=ClientStatus.active)
    jwk: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    created_by_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("staff_users.id"))


class ClientSecret(IdMixin, Base):
    """One of a client's secrets, stored as its SHA-256 only; at most two are live, so
    that a rotation leaves the old one valid until it is retired."""

    __tablename__ = "oauth_client_secrets"

    client_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("oauth_clients.id"), index=True)
    region_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("regions.id"))
    secret_hash: Mapped[str] = mapped_column(String(64), unique=True)
    hint: Mapped[str] = mapped_column(String(8))
    created_at: Mapped[datetime] = mapped_column(default=clock.now)
    retired_at: Mapped[datetime | None]


class SpentAssertion(Base):
    """A client assertion's `jti`, kept until the assertion expires: each is used once."""

    __tablename__ = "oauth_spent_assertions"
    __table_args__ = (PrimaryKeyConstraint("client_id", "jti"),)

    client_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("oauth_clients.id"))
    jti: Mapped[str] = mapped_column(String(128))
    expires_at: Mapped[datetime] = mapped_column(index=True)
