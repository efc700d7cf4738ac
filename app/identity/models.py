"""Staff accounts, platform admins, refresh tokens, revoked access tokens, login throttles
and the shared cache of WeChat's access token."""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum

from sqlalchemy import ForeignKey, PrimaryKeyConstraint, String
from sqlalchemy.orm import Mapped, mapped_column

from app.core.db import Base, IdMixin, TimestampMixin


class StaffKind(StrEnum):
    staff = "staff"  # centre / institute / station staff, roles through StaffGrant
    merchant = "merchant"  # a 文明商户's owner or cashier


class StaffUser(IdMixin, TimestampMixin, Base):
    __tablename__ = "staff_users"

    region_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("regions.id"), index=True)
    kind: Mapped[StaffKind] = mapped_column(String(16), default=StaffKind.staff)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    display_name: Mapped[str] = mapped_column(String(100))
    password_hash: Mapped[str] = mapped_column(String(200))
    is_active: Mapped[bool] = mapped_column(default=True)


class PlatformAdmin(IdMixin, TimestampMixin, Base):
    """An operator of the whole service: creates regions and their first center admins.

    Not tenant-scoped, and kept apart from `StaffUser` so that no region's grant, query or
    login can ever name one: its token (typ `platform_admin`, no region) is accepted by the
    `/v1/platform` routes only, and it sees no region's people, activities or ledger.
    """

    __tablename__ = "platform_admins"

    username: Mapped[str] = mapped_column(String(64), unique=True)
    display_name: Mapped[str] = mapped_column(String(100))
    password_hash: Mapped[str] = mapped_column(String(200))
    is_active: Mapped[bool] = mapped_column(default=True)


class SubjectType(StrEnum):
    volunteer = "volunteer"
    staff = "staff"


class RefreshToken(IdMixin, Base):
    """An opaque refresh token, stored hashed. Rotated on use; reuse revokes its family.

    Each row also names the access token issued with it (`access_jti`, until
    `access_expires_at`), so that ending a login can deny-list the access tokens it
    still has alive. `family_started_at` is the login's own time, copied on rotation:
    no family is refreshed past its absolute lifetime, however often it rotated.
    """

    __tablename__ = "refresh_tokens"

    family_id: Mapped[uuid.UUID] = mapped_column(index=True)
    subject_type: Mapped[SubjectType] = mapped_column(String(16))
    subject_id: Mapped[uuid.UUID] = mapped_column(index=True)
    region_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("regions.id"))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime]
    used_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]
    family_started_at: Mapped[datetime]
    access_jti: Mapped[str | None] = mapped_column(String(64))
    access_expires_at: Mapped[datetime | None]


class RevokedAccessToken(Base):
    """An access token refused before its expiry (a logout, a disabled account), by `jti`.

    Shared by every replica, looked up by primary key on each authenticated request,
    and swept once `expires_at` has passed: by then the token is refused as expired.
    """

    __tablename__ = "revoked_access_tokens"

    jti: Mapped[str] = mapped_column(String(64), primary_key=True)
    region_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("regions.id"))
    expires_at: Mapped[datetime] = mapped_column(index=True)


class LoginThrottle(Base):
    """Failed staff logins of one username from one client address, and how long that
    pair must wait before its next attempt.

    Keyed by hashes: people type passwords into the username field, and an address is
    personal data. Not tenant-scoped: an unknown username belongs to no region, and it
    must be throttled exactly like a known one.
    """

    __tablename__ = "login_throttles"
    __table_args__ = (PrimaryKeyConstraint("username_key", "address_key"),)

    username_key: Mapped[str] = mapped_column(String(32))
    address_key: Mapped[str] = mapped_column(String(32))
    failures: Mapped[int] = mapped_column(default=0)
    blocked_until: Mapped[datetime | None]
    last_failure_at: Mapped[datetime] = mapped_column(index=True)


class WeChatAccessToken(IdMixin, Base):
    """WeChat's `stable_token` access token, cached in the database so that every API
    process shares one token and one refresh. Keyed by mini-program appid, not by
    region: the token belongs to the app, whichever region its users are in."""

    __tablename__ = "wechat_access_tokens"

    appid: Mapped[str] = mapped_column(String(64), unique=True)
    access_token: Mapped[str | None] = mapped_column(String(1024))
    expires_at: Mapped[datetime | None]
    refreshed_at: Mapped[datetime | None]
