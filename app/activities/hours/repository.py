"""SQL of volunteer hours: records, corrections and the audit trail, the sums that caps
and totals count, the staff's and the volunteer's lists, and the approved service.

Locks are taken here and nowhere else: the volunteers in id order (one volunteer's
credits, caps and corrections are decided one transaction at a time), then records
and corrections FOR NO KEY UPDATE (`key_share`), so that rows that merely reference
them (audit entries, corrections) can still be written by others meanwhile.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import date

from sqlalchemy import Row, Select, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.activities.hours.models import (
    CREDITED_STATUSES,
    HoursAudit,
    HoursCorrection,
    HoursRecord,
    HoursSource,
    HoursStatus,
)
from app.activities.models import Activity
from app.core.db import Base
from app.core.pagination import PageParams, keyset_window
from app.orgs.models import OrgUnit, TeamCategory
from app.volunteers.models import Volunteer

# Writes


def add(session: AsyncSession, row: Base) -> None:
    """Add a row to the unit of work; the next flush writes it."""
    session.add(row)


async def insert(session: AsyncSession, *rows: Base) -> None:
    """Write new rows now: without ORM relationships the flush does not order rows
    across tables, so a row must exist before another points at it."""
    session.add_all(rows)
    await session.flush()


# Records and corrections


async def record(
    session: AsyncSession, *, region_id: uuid.UUID, record_id: uuid.UUID, lock: bool = False
) -> HoursRecord | None:
    stmt = select(HoursRecord).where(
        HoursRecord.id == record_id, HoursRecord.region_id == region_id
    )
    if lock:
        stmt = stmt.with_for_update(key_share=True).execution_options(populate_existing=True)
    return await session.scalar(stmt)


async def record_by_id(session: AsyncSession, record_id: uuid.UUID) -> HoursRecord | None:
    return await session.get(HoursRecord, record_id)


async def lock_records(
    session: AsyncSession, *, region_id: uuid.UUID, record_ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, HoursRecord]:
    """The region's records among `record_ids`, locked in id order in one statement, so
    that two overlapping bulk decisions cannot deadlock."""
    found = await session.scalars(
        select(HoursRecord)
        .where(HoursRecord.id.in_(record_ids), HoursRecord.region_id == region_id)
        .order_by(HoursRecord.id)
        .with_for_update(key_share=True)
        .execution_options(populate_existing=True)
    )
    return {found_record.id: found_record for found_record in found}


async def lock_volunteers(
    session: AsyncSession, *, region_id: uuid.UUID, volunteer_ids: Sequence[uuid.UUID]
) -> list[Volunteer]:
    """The region's volunteers among `volunteer_ids`, locked in id order."""
    return list(
        await session.scalars(
            select(Volunteer)
            .where(Volunteer.id.in_(volunteer_ids), Volunteer.region_id == region_id)
            .order_by(Volunteer.id)
            .with_for_update(key_share=True)
        )
    )


async def volunteer(session: AsyncSession, volunteer_id: uuid.UUID) -> Volunteer:
    return await session.get_one(Volunteer, volunteer_id)


async def activity(session: AsyncSession, activity_id: uuid.UUID) -> Activity:
    return await session.get_one(Activity, activity_id)


async def open_correction_id(session: AsyncSession, *, record_id: uuid.UUID) -> uuid.UUID | None:
    return await session.scalar(
        select(HoursCorrection.id).where(HoursCorrection.open_record_id == record_id)
    )


async def correction_volunteer_id(
    session: AsyncSession, *, region_id: uuid.UUID, correction_id: uuid.UUID
) -> uuid.UUID | None:
    """Whose correction it is, read without a lock: their lock is taken first."""
    return await session.scalar(
        select(HoursCorrection.volunteer_id).where(
            HoursCorrection.id == correction_id, HoursCorrection.region_id == region_id
        )
    )


async def lock_correction(
    session: AsyncSession, *, correction_id: uuid.UUID
) -> HoursCorrection | None:
    return await session.scalar(
        select(HoursCorrection)
        .where(HoursCorrection.id == correction_id)
        .with_for_update(key_share=True)
        .execution_options(populate_existing=True)
    )


async def open_corrections(
    session: AsyncSession, record_ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, HoursCorrection]:
    """The open correction of each of the records that has one."""
    if not record_ids:
        return {}
    rows = await session.scalars(
        select(HoursCorrection).where(HoursCorrection.open_record_id.in_(record_ids))
    )
    return {c.hours_record_id: c for c in rows}


async def corrections_of(session: AsyncSession, *, record_id: uuid.UUID) -> list[HoursCorrection]:
    """The record's corrections, oldest first."""
    return list(
        await session.scalars(
            select(HoursCorrection)
            .where(HoursCorrection.hours_record_id == record_id)
            .order_by(HoursCorrection.created_at, HoursCorrection.id)
        )
    )


async def audit_of(session: AsyncSession, *, record_id: uuid.UUID) -> list[HoursAudit]:
    """The record's audit trail, oldest change first."""
    return list(
        await session.scalars(
            select(HoursAudit)
            .where(HoursAudit.hours_record_id == record_id)
            .order_by(HoursAudit.at, HoursAudit.id)
        )
    )


# Sums the caps count


async def credited_on_day(
    session: AsyncSession, *, region_id: uuid.UUID, volunteer_id: uuid.UUID, service_date: date
) -> int:
    total = await session.scalar(
        select(func.coalesce(func.sum(HoursRecord.minutes), 0)).where(
            HoursRecord.region_id == region_id,
            HoursRecord.volunteer_id == volunteer_id,
            HoursRecord.service_date == service_date,
            HoursRecord.status.in_(CREDITED_STATUSES),
        )
    )
    return int(total or 0)


async def credited_on_day_by_volunteer(
    session: AsyncSession,
    *,
    region_id: uuid.UUID,
    volunteer_ids: Sequence[uuid.UUID],
    service_date: date,
) -> dict[uuid.UUID, int]:
    """Each volunteer's credited minutes on the day (absent: none)."""
    rows = await session.execute(
        select(HoursRecord.volunteer_id, func.sum(HoursRecord.minutes))
        .where(
            HoursRecord.region_id == region_id,
            HoursRecord.volunteer_id.in_(volunteer_ids),
            HoursRecord.service_date == service_date,
            HoursRecord.status.in_(CREDITED_STATUSES),
        )
        .group_by(HoursRecord.volunteer_id)
    )
    return {volunteer_id: int(total) for volunteer_id, total in rows.all()}


async def credited_on_activity(
    session: AsyncSession,
    *,
    activity_id: uuid.UUID,
    volunteer_id: uuid.UUID,
    excluding: uuid.UUID | None = None,
) -> int:
    stmt = select(func.coalesce(func.sum(HoursRecord.minutes), 0)).where(
        HoursRecord.activity_id == activity_id,
        HoursRecord.volunteer_id == volunteer_id,
        HoursRecord.status.in_(CREDITED_STATUSES),
    )
    if excluding is not None:
        stmt = stmt.where(HoursRecord.id != excluding)
    return int(await session.scalar(stmt) or 0)


async def credited_on_activity_or_bulk(
    session: AsyncSession, *, activity_id: uuid.UUID, volunteer_ids: Sequence[uuid.UUID]
) -> set[uuid.UUID]:
    """Those of the volunteers with credited hours for the activity, or a bulk credit of
    it whatever became of it."""
    return set(
        await session.scalars(
            select(HoursRecord.volunteer_id).where(
                HoursRecord.activity_id == activity_id,
                HoursRecord.volunteer_id.in_(volunteer_ids),
                or_(
                    HoursRecord.status.in_(CREDITED_STATUSES),
                    HoursRecord.source == HoursSource.bulk,
                ),
            )
        )
    )


# Lists

Listing = Select[HoursRecord, Activity, Volunteer]
ListingRow = Row[HoursRecord, Activity, Volunteer]


def _listing() -> Listing:
    return (
        select(HoursRecord, Activity, Volunteer)
        .join(Activity, Activity.id == HoursRecord.activity_id)
        .join(Volunteer, Volunteer.id == HoursRecord.volunteer_id)
    )


def staff_listing(
    *,
    region_id: uuid.UUID,
    unit_paths: Sequence[str] | None,
    status: HoursStatus | None,
    source: HoursSource | None,
    activity_id: uuid.UUID | None,
    volunteer_id: uuid.UUID | None,
) -> Listing:
    """Records of the region's activities on the units under `unit_paths` (at least one),
    or on every unit when `unit_paths` is None."""
    stmt = _listing().where(HoursRecord.region_id == region_id)
    if unit_paths is not None:
        stmt = stmt.join(OrgUnit, OrgUnit.id == Activity.org_unit_id).where(
            or_(*(OrgUnit.path.startswith(path, autoescape=True) for path in unit_paths))
        )
    if status is not None:
        stmt = stmt.where(HoursRecord.status == status)
    if source is not None:
        stmt = stmt.where(HoursRecord.source == source)
    if activity_id is not None:
        stmt = stmt.where(HoursRecord.activity_id == activity_id)
    if volunteer_id is not None:
        stmt = stmt.where(HoursRecord.volunteer_id == volunteer_id)
    return stmt


def volunteer_listing(
    *, region_id: uuid.UUID, volunteer_id: uuid.UUID, status: HoursStatus | None
) -> Listing:
    stmt = _listing().where(
        HoursRecord.region_id == region_id, HoursRecord.volunteer_id == volunteer_id
    )
    if status is not None:
        stmt = stmt.where(HoursRecord.status == status)
    return stmt


async def newest_first(
    session: AsyncSession, stmt: Listing, page: PageParams
) -> Sequence[ListingRow]:
    """The listing's rows after the cursor, newest first, one more than a page."""
    window = keyset_window(
        stmt, page, time_column=HoursRecord.created_at, id_column=HoursRecord.id, newest_first=True
    )
    return (await session.execute(window)).all()


CreditedSum = Row[HoursStatus, date, HoursSource, TeamCategory, int]


async def credited_sums(
    session: AsyncSession, *, region_id: uuid.UUID, volunteer_id: uuid.UUID
) -> Sequence[CreditedSum]:
    """The volunteer's credited minutes by status, service day, source and category."""
    rows = await session.execute(
        select(
            HoursRecord.status,
            HoursRecord.service_date,
            HoursRecord.source,
            Activity.category,
            func.sum(HoursRecord.minutes),
        )
        .join(Activity, Activity.id == HoursRecord.activity_id)
        .where(
            HoursRecord.region_id == region_id,
            HoursRecord.volunteer_id == volunteer_id,
            HoursRecord.status.in_(CREDITED_STATUSES),
        )
        .group_by(
            HoursRecord.status, HoursRecord.service_date, HoursRecord.source, Activity.category
        )
    )
    return rows.all()


# Approved service


async def approved_minutes(
    session: AsyncSession, *, region_id: uuid.UUID, volunteer_id: uuid.UUID
) -> int:
    total = await session.scalar(
        select(func.coalesce(func.sum(HoursRecord.minutes), 0)).where(
            HoursRecord.region_id == region_id,
            HoursRecord.volunteer_id == volunteer_id,
            HoursRecord.status == HoursStatus.approved,
        )
    )
    return int(total or 0)


async def approved_service(
    session: AsyncSession, *, region_id: uuid.UUID, volunteer_id: uuid.UUID
) -> Sequence[Row[HoursRecord, Activity, str]]:
    """The volunteer's approved records with their activity and its unit's name, oldest
    service first."""
    rows = await session.execute(
        select(HoursRecord, Activity, OrgUnit.name)
        .join(Activity, Activity.id == HoursRecord.activity_id)
        .join(OrgUnit, OrgUnit.id == Activity.org_unit_id)
        .where(
            HoursRecord.region_id == region_id,
            HoursRecord.volunteer_id == volunteer_id,
            HoursRecord.status == HoursStatus.approved,
        )
        .order_by(HoursRecord.service_date, Activity.starts_at, HoursRecord.id)
    )
    return rows.all()
