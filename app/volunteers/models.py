"""Volunteers: the person behind a WeChat openid, with a real-name profile."""

from __future__ import annotations

import uuid
from enum import StrEnum

from sqlalchemy import JSON, ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from app.core.db import Base, IdMixin, TimestampMixin


class IdType(StrEnum):
    resident_id = "resident_id"  # 居民身份证, 18 digits with a checksum
    passport = "passport"
    hk_macao_permit = "hk_macao_permit"  # 港澳居民来往内地通行证
    taiwan_permit = "taiwan_permit"  # 台湾居民来往大陆通行证
    foreign_permanent = "foreign_permanent"  # 外国人永久居留身份证


class Volunteer(IdMixin, TimestampMixin, Base):
    __tablename__ = "volunteers"
    # One person, one volunteer per region: an ID number registers once (NULLs don't collide).
    __table_args__ = (UniqueConstraint("region_id", "id_number"),)

    region_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("regions.id"), index=True)
    openid: Mapped[str] = mapped_column(String(64), unique=True)
    unionid: Mapped[str | None] = mapped_column(String(64), unique=True)
    volunteer_no: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str | None] = mapped_column(String(50))
    id_type: Mapped[IdType | None] = mapped_column(String(32))
    id_number: Mapped[str | None] = mapped_column(String(32))
    phone: Mapped[str | None] = mapped_column(String(20))
    skills: Mapped[list[str]] = mapped_column(JSON, default=list)
    service_categories: Mapped[list[str]] = mapped_column(JSON, default=list)
