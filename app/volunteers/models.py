"""Volunteers: the person behind a WeChat openid, with a real-name profile; a region's
star thresholds."""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum

from sqlalchemy import JSON, CheckConstraint, ForeignKey, Index, String, text
from sqlalchemy.orm import Mapped, mapped_column

from app.core import clock
from app.core.db import Base, IdMixin, TimestampMixin


class IdType(StrEnum):
    resident_id = "resident_id"  # 居民身份证, 18 digits with a checksum
    passport = "passport"
    hk_macao_permit = "hk_macao_permit"  # 港澳居民来往内地通行证
    taiwan_permit = "taiwan_permit"  # 台湾居民来往大陆通行证
    foreign_permanent = "foreign_permanent"  # 外国人永久居留身份证


VERIFIED = "id_verified_at IS NOT NULL"


class Volunteer(IdMixin, TimestampMixin, Base):
    """A volunteer's ID number is a claim until staff have seen the document and
    verified it. Anyone may claim any number, so that the answer to a claim never
    tells whether a number is registered; one person, one volunteer per region holds
    for verified numbers, in the database too (0023)."""

    __tablename__ = "volunteers"
    __table_args__ = (
        # The number is unique in the region whatever its type says it is.
        Index(
            "uq_volunteers_verified_id_number",
            "region_id",
            "id_number",
            unique=True,
            postgresql_where=text(VERIFIED),
            sqlite_where=text(VERIFIED),
        ),
        # A verification names its verifier and a number it verified.
        CheckConstraint(
            "(id_verified_at IS NULL AND id_verified_by IS NULL)"
            " OR (id_verified_at IS NOT NULL AND id_verified_by IS NOT NULL"
            " AND id_number IS NOT NULL)",
            name="id_verification_whole",
        ),
    )

    region_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("regions.id"), index=True)
    openid: Mapped[str] = mapped_column(String(64), unique=True)
    unionid: Mapped[str | None] = mapped_column(String(64), unique=True)
    volunteer_no: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str | None] = mapped_column(String(50))
    id_type: Mapped[IdType | None] = mapped_column(String(32))
    id_number: Mapped[str | None] = mapped_column(String(32))
    id_verified_at: Mapped[datetime | None]
    id_verified_by: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("staff_users.id"))
    phone: Mapped[str | None] = mapped_column(String(20))
    skills: Mapped[list[str]] = mapped_column(JSON, default=list)
    service_categories: Mapped[list[str]] = mapped_column(JSON, default=list)


# Cumulative approved hours for stars 1 to 5, where a region sets none of its own.
DEFAULT_STAR_HOURS: tuple[int, ...] = (100, 300, 600, 1000, 1500)
MAX_STARS = len(DEFAULT_STAR_HOURS)


class StarThresholds(Base):
    """A region's override of the cumulative approved hours for stars 1–5."""

    __tablename__ = "star_thresholds"

    region_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("regions.id"), primary_key=True)
    hours: Mapped[list[int]] = mapped_column(JSON)
    updated_at: Mapped[datetime] = mapped_column(default=clock.now, onupdate=clock.now)
    updated_by_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("staff_users.id"))
