"""Staff accounts, refresh tokens and the shared cache of WeChat's access token."""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum

from sqlalchemy import ForeignKey, String
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
    failed_logins: Mapped[int] = mapped_column(default=0)
    locked_until: Mapped[datetime | None]


class SubjectType(StrEnum):
    volunteer = "volunteer"
    staff = "staff"


class RefreshToken(IdMixin, Base):
    """An opaque refresh token, stored hashed. Rotated on use; reuse revokes its family."""

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


class WeChatAccessToken(IdMixin, Base):
    """WeChat's `stable_token` access token, cached in the database so that every API
    process shares one token and one refresh. Keyed by mini-program appid, not by
    region: the token belongs to the app, whichever region its users are in."""

    __tablename__ = "wechat_access_tokens"

    appid: Mapped[str] = mapped_column(String(64), unique=True)
    access_token: Mapped[str | None] = mapped_column(String(1024))
    expires_at: Mapped[datetime | None]
    refreshed_at: Mapped[datetime | None]
