"""The volunteer's service record (志愿服务记录) and star levels.

The record follows the groups of the 2020 national rules on volunteer service
records and certificates (志愿服务记录与证明出具办法): basic information, service,
training, commendations and evaluations. Groups the system keeps no data for yet
are empty lists with a declared item shape, so consumers can rely on it.

Star levels come from cumulative approved hours against thresholds (default
100/300/600/1000/1500 h) that a region may override.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import date, datetime

from pydantic import BaseModel, Field
from sqlalchemy.ext.asyncio import AsyncSession

from app.activities.hours import service as hours_service
from app.activities.hours.models import HoursSource
from app.core import clock
from app.identity.principals import StaffContext
from app.orgs.errors import AdminRoleRequired, RegionNotFound
from app.orgs.models import TEAM_CATEGORY_LABELS, TeamCategory
from app.orgs.service import get_region
from app.volunteers.models import IdType, Volunteer

DEFAULT_STAR_HOURS: tuple[int, ...] = (100, 300, 600, 1000, 1500)
MAX_STARS = len(DEFAULT_STAR_HOURS)


# Star levels


def level_for(minutes: int, thresholds_hours: Sequence[int]) -> int:
    """Stars earned by `minutes` of approved service: each threshold reached is one star."""
    return sum(1 for hours in thresholds_hours if minutes >= hours * 60)


async def thresholds_for(session: AsyncSession, *, region_id: uuid.UUID) -> list[int]:
    override = await hours_service.region_star_thresholds(session, region_id=region_id)
    return override if override is not None else list(DEFAULT_STAR_HOURS)


async def star_level(
    session: AsyncSession, *, region_id: uuid.UUID, volunteer_id: uuid.UUID
) -> int:
    """The volunteer's star level, 0 to 5, from cumulative approved hours."""
    minutes = await hours_service.approved_minutes(
        session, region_id=region_id, volunteer_id=volunteer_id
    )
    return level_for(minutes, await thresholds_for(session, region_id=region_id))


class StarLevel(BaseModel):
    level: int = Field(ge=0, le=MAX_STARS)
    approved_minutes: int
    thresholds_hours: list[int] = Field(description="Cumulative hours for stars 1 to 5")
    next_level: int | None = Field(description="None at the highest level")
    minutes_to_next_level: int | None


def star_summary(minutes: int, thresholds_hours: Sequence[int]) -> StarLevel:
    level = level_for(minutes, thresholds_hours)
    if level >= len(thresholds_hours):
        return StarLevel(
            level=level,
            approved_minutes=minutes,
            thresholds_hours=list(thresholds_hours),
            next_level=None,
            minutes_to_next_level=None,
        )
    return StarLevel(
        level=level,
        approved_minutes=minutes,
        thresholds_hours=list(thresholds_hours),
        next_level=level + 1,
        minutes_to_next_level=thresholds_hours[level] * 60 - minutes,
    )


class StarThresholdsOut(BaseModel):
    region_id: uuid.UUID
    hours: list[int] = Field(description="Cumulative approved hours for stars 1 to 5")
    is_default: bool


async def get_thresholds(
    session: AsyncSession, *, region_id: uuid.UUID, caller_region_id: uuid.UUID | None
) -> StarThresholdsOut:
    """Anyone signed in to the region may read its thresholds; other regions do not exist."""
    if caller_region_id != region_id:
        raise RegionNotFound()
    override = await hours_service.region_star_thresholds(session, region_id=region_id)
    return StarThresholdsOut(
        region_id=region_id,
        hours=override if override is not None else list(DEFAULT_STAR_HOURS),
        is_default=override is None,
    )


async def set_thresholds(
    session: AsyncSession, *, staff: StaffContext, region_id: uuid.UUID, hours: list[int]
) -> StarThresholdsOut:
    """A center admin of the region sets its thresholds; other regions do not exist."""
    if region_id != staff.region_id:
        raise RegionNotFound()
    if not staff.is_center_admin:
        raise AdminRoleRequired("Star thresholds are set by a center admin")
    await hours_service.save_star_thresholds(
        session, region_id=region_id, hours=hours, staff_id=staff.id
    )
    return StarThresholdsOut(region_id=region_id, hours=hours, is_default=False)


# The service record


class BasicInformation(BaseModel):
    """个人基本信息: the owner's own record, so nothing is masked."""

    volunteer_id: uuid.UUID
    volunteer_no: str
    name: str | None
    id_type: IdType | None
    id_number: str | None
    phone: str | None
    skills: list[str]
    service_categories: list[str]
    region_id: uuid.UUID
    region_name: str
    registered_at: datetime


class OrganizerUnit(BaseModel):
    id: uuid.UUID
    name: str


class ServiceItem(BaseModel):
    """One approved service: 服务时间, 地点, 内容, 时长 and the 记录组织."""

    hours_record_id: uuid.UUID
    activity_id: uuid.UUID
    title: str
    category: TeamCategory
    category_label: str
    service_date: date
    starts_at: datetime
    ends_at: datetime
    place: str
    minutes: int
    source: HoursSource
    organizer: OrganizerUnit


class ServiceSection(BaseModel):
    """志愿服务情况: approved services, oldest first."""

    total_minutes: int
    activity_count: int
    items: list[ServiceItem]


class TrainingItem(BaseModel):
    """培训情况: a training the volunteer took."""

    title: str
    organizer: str
    trained_on: date
    minutes: int


class CommendationItem(BaseModel):
    """表彰奖励情况: an award."""

    title: str
    level: str = Field(description="e.g. national, provincial, city, district")
    awarded_by: str
    awarded_on: date


class EvaluationItem(BaseModel):
    """评价情况: an organization's evaluation of the volunteer's service."""

    evaluator: str
    rating: str
    comment: str | None
    evaluated_on: date


class ServiceRecord(BaseModel):
    generated_at: datetime
    basic_information: BasicInformation
    service: ServiceSection
    training: list[TrainingItem]
    commendations: list[CommendationItem]
    evaluations: list[EvaluationItem]
    star: StarLevel


async def service_record(session: AsyncSession, *, volunteer: Volunteer) -> ServiceRecord:
    region = await get_region(session, volunteer.region_id)
    entries = await hours_service.approved_service(
        session, region_id=volunteer.region_id, volunteer_id=volunteer.id
    )
    total = sum(entry.minutes for entry in entries)
    thresholds = await thresholds_for(session, region_id=volunteer.region_id)
    return ServiceRecord(
        generated_at=clock.now(),
        basic_information=BasicInformation(
            volunteer_id=volunteer.id,
            volunteer_no=volunteer.volunteer_no,
            name=volunteer.name,
            id_type=volunteer.id_type,
            id_number=volunteer.id_number,
            phone=volunteer.phone,
            skills=list(volunteer.skills),
            service_categories=list(volunteer.service_categories),
            region_id=region.id,
            region_name=region.name,
            registered_at=volunteer.created_at,
        ),
        service=ServiceSection(
            total_minutes=total,
            activity_count=len({entry.activity_id for entry in entries}),
            items=[
                ServiceItem(
                    hours_record_id=entry.hours_record_id,
                    activity_id=entry.activity_id,
                    title=entry.title,
                    category=entry.category,
                    category_label=TEAM_CATEGORY_LABELS[entry.category],
                    service_date=entry.service_date,
                    starts_at=entry.starts_at,
                    ends_at=entry.ends_at,
                    place=entry.address,
                    minutes=entry.minutes,
                    source=entry.source,
                    organizer=OrganizerUnit(id=entry.org_unit_id, name=entry.org_unit_name),
                )
                for entry in entries
            ],
        ),
        training=[],
        commendations=[],
        evaluations=[],
        star=star_summary(total, thresholds),
    )
