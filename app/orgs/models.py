"""Regions (tenants), the org-unit tree, teams and staff grants."""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, String, text
from sqlalchemy.orm import Mapped, mapped_column

from app.core.db import Base, IdMixin, TimestampMixin


class UnitKind(StrEnum):
    # The member shadows str.center(); the domain word wins.
    center = "center"  # type: ignore[assignment]  # 中心 (district)
    institute = "institute"  # 所 (town)
    station = "station"  # 站 (village / community)
    point = "point"  # 点


# Which kind of unit may sit under which.
CHILD_KIND: dict[UnitKind, UnitKind | None] = {
    UnitKind.center: UnitKind.institute,
    UnitKind.institute: UnitKind.station,
    UnitKind.station: UnitKind.point,
    UnitKind.point: None,
}


class TeamCategory(StrEnum):
    theory = "theory"  # 理论政策宣讲
    culture = "culture"  # 文化文艺服务
    education = "education"  # 助学支教
    health = "health"  # 医疗健身
    science = "science"  # 科学普及
    law = "law"  # 法律服务
    environment = "environment"  # 卫生环保
    poverty = "poverty"  # 扶贫帮困
    custom = "custom"


TEAM_CATEGORY_LABELS: dict[TeamCategory, str] = {
    TeamCategory.theory: "理论政策宣讲",
    TeamCategory.culture: "文化文艺服务",
    TeamCategory.education: "助学支教",
    TeamCategory.health: "医疗健身",
    TeamCategory.science: "科学普及",
    TeamCategory.law: "法律服务",
    TeamCategory.environment: "卫生环保",
    TeamCategory.poverty: "扶贫帮困",
    TeamCategory.custom: "其他",
}


class Role(StrEnum):
    center_admin = "center_admin"
    institute_admin = "institute_admin"
    station_admin = "station_admin"
    organizer = "organizer"


ADMIN_ROLES = frozenset({Role.center_admin, Role.institute_admin, Role.station_admin})
ALL_ROLES = frozenset(Role)


class Region(IdMixin, TimestampMixin, Base):
    __tablename__ = "regions"

    code: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(String(100))
    timezone: Mapped[str] = mapped_column(String(64), default="Asia/Shanghai")


class OrgUnit(IdMixin, TimestampMixin, Base):
    __tablename__ = "org_units"
    __table_args__ = (Index("ix_org_units_region_id_path", "region_id", "path"),)

    region_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("regions.id"), index=True)
    parent_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("org_units.id"), index=True)
    kind: Mapped[UnitKind] = mapped_column(String(16))
    name: Mapped[str] = mapped_column(String(100))
    # Materialized path "/<root id>/…/<own id>/": a subtree is a prefix match.
    path: Mapped[str] = mapped_column(String(400))
    address: Mapped[str | None] = mapped_column(String(200))
    latitude: Mapped[float | None]
    longitude: Mapped[float | None]
    # The 七有 attributes: sign, service post, team, rules, plan, activities, feature.
    seven_haves: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


class Team(IdMixin, TimestampMixin, Base):
    __tablename__ = "teams"

    region_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("regions.id"), index=True)
    org_unit_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("org_units.id"), index=True)
    name: Mapped[str] = mapped_column(String(100))
    category: Mapped[TeamCategory] = mapped_column(String(16))
    custom_category: Mapped[str | None] = mapped_column(String(50))
    description: Mapped[str | None] = mapped_column(String(1000))


class StaffGrant(IdMixin, TimestampMixin, Base):
    """A role on an org unit. Revoking keeps the row, with who revoked it, when and
    why; only a grant without `revoked_at` gives its role. The database refuses to
    delete a grant, to change what it granted, or to change a revoked one (0021)."""

    __tablename__ = "staff_grants"
    __table_args__ = (
        # One live grant per role and unit; revoked ones may repeat it.
        Index(
            "uq_staff_grants_live",
            "staff_id",
            "org_unit_id",
            "role",
            unique=True,
            postgresql_where=text("revoked_at IS NULL"),
            sqlite_where=text("revoked_at IS NULL"),
        ),
    )

    region_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("regions.id"), index=True)
    staff_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("staff_users.id"), index=True)
    org_unit_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("org_units.id"), index=True)
    role: Mapped[Role] = mapped_column(String(32))
    granted_by: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("staff_users.id"))
    revoked_at: Mapped[datetime | None]
    revoked_by: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("staff_users.id"))
    revoked_reason: Mapped[str | None] = mapped_column(String(500))
