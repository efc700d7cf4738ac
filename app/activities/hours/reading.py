"""Reading hours: the staff's list of records on the units their roles reach, one
record with its corrections and audit trail, and the volunteer's own hours and totals."""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from sqlalchemy.ext.asyncio import AsyncSession

from app.activities.hours import repository
from app.activities.hours.models import (
    CorrectionStatus,
    HoursCorrection,
    HoursRecord,
    HoursSource,
    HoursStatus,
)
from app.activities.hours.schemas import (
    ActivityBrief,
    AuditEntry,
    CorrectionOut,
    HoursDetail,
    HoursListItem,
    HoursRecordOut,
    HoursTotals,
    MinutesByCategory,
    MinutesBySource,
    MinutesByYear,
    MyHours,
    VolunteerBrief,
)
from app.activities.hours.service import activity_for_staff, get_record
from app.activities.models import Activity
from app.core.pagination import Page, PageParams, keyset_page
from app.identity.principals import StaffContext
from app.orgs.models import TEAM_CATEGORY_LABELS, TeamCategory
from app.volunteers.models import Volunteer


def _item(
    record: HoursRecord,
    activity: Activity,
    volunteer: Volunteer,
    open_correction: HoursCorrection | None,
) -> HoursListItem:
    return HoursListItem(
        **dict(HoursRecordOut.model_validate(record)),
        activity=ActivityBrief.model_validate(activity),
        volunteer=VolunteerBrief.model_validate(volunteer),
        open_correction=CorrectionOut.model_validate(open_correction) if open_correction else None,
    )


async def _page(
    session: AsyncSession, stmt: repository.Listing, page: PageParams
) -> Page[HoursListItem]:
    rows = await repository.newest_first(session, stmt, page)
    opens = await repository.open_corrections(session, [row[0].id for row in rows[: page.limit]])
    return keyset_page(
        rows,
        page,
        key=lambda row: (row[0].created_at, row[0].id),
        out=lambda row: _item(*row, opens.get(row[0].id)),
    )


async def list_for_staff(
    session: AsyncSession,
    *,
    staff: StaffContext,
    page: PageParams,
    status: HoursStatus | None = None,
    source: HoursSource | None = None,
    activity_id: uuid.UUID | None = None,
    volunteer_id: uuid.UUID | None = None,
) -> Page[HoursListItem]:
    """Records of activities on the units the staff member's roles reach, newest first."""
    if not staff.unit_paths:
        return Page(items=[])
    stmt = repository.staff_listing(
        region_id=staff.region_id,
        unit_paths=staff.unit_paths,
        status=status,
        source=source,
        activity_id=activity_id,
        volunteer_id=volunteer_id,
    )
    return await _page(session, stmt, page)


async def list_for_region(
    session: AsyncSession,
    *,
    region_id: uuid.UUID,
    page: PageParams,
    status: HoursStatus | None = None,
    source: HoursSource | None = None,
    activity_id: uuid.UUID | None = None,
    volunteer_id: uuid.UUID | None = None,
) -> Page[HoursListItem]:
    """Every record of the region, newest first: what an OAuth client with `hours:read`
    reads (its items name volunteers by number and name, never by ID number or phone)."""
    stmt = repository.staff_listing(
        region_id=region_id,
        unit_paths=None,
        status=status,
        source=source,
        activity_id=activity_id,
        volunteer_id=volunteer_id,
    )
    return await _page(session, stmt, page)


async def detail_for_staff(
    session: AsyncSession, *, staff: StaffContext, record_id: uuid.UUID
) -> HoursDetail:
    """One record with its corrections and its audit trail, oldest change first."""
    record = await get_record(session, region_id=staff.region_id, record_id=record_id)
    activity = await activity_for_staff(session, staff=staff, activity_id=record.activity_id)
    return await _detail(session, record, activity)


async def detail_for_region(
    session: AsyncSession, *, region_id: uuid.UUID, record_id: uuid.UUID
) -> HoursDetail:
    """One record of the region, as `detail_for_staff` shows it: for `hours:read` clients."""
    record = await get_record(session, region_id=region_id, record_id=record_id)
    activity = await repository.activity(session, record.activity_id)
    return await _detail(session, record, activity)


async def _detail(session: AsyncSession, record: HoursRecord, activity: Activity) -> HoursDetail:
    volunteer = await repository.volunteer(session, record.volunteer_id)
    corrections = await repository.corrections_of(session, record_id=record.id)
    audit = await repository.audit_of(session, record_id=record.id)
    open_correction = next((c for c in corrections if c.status == CorrectionStatus.open), None)
    return HoursDetail(
        **dict(_item(record, activity, volunteer, open_correction)),
        corrections=[CorrectionOut.model_validate(c) for c in corrections],
        audit=[AuditEntry.model_validate(a) for a in audit],
    )


def _totals(rows: Sequence[repository.CreditedSum]) -> HoursTotals:
    """The volunteer's totals from `repository.credited_sums`."""
    pending = 0
    by_year: dict[int, int] = {}
    by_category: dict[TeamCategory, int] = {}
    by_source: dict[HoursSource, int] = {}
    for status, service_date, source, category, minutes in rows:
        if status == HoursStatus.pending:
            pending += int(minutes)
            continue
        by_year[service_date.year] = by_year.get(service_date.year, 0) + int(minutes)
        key = TeamCategory(category)
        by_category[key] = by_category.get(key, 0) + int(minutes)
        by_source[HoursSource(source)] = by_source.get(HoursSource(source), 0) + int(minutes)
    return HoursTotals(
        approved_minutes=sum(by_year.values()),
        pending_minutes=pending,
        by_year=[MinutesByYear(year=y, minutes=m) for y, m in sorted(by_year.items())],
        by_category=[
            MinutesByCategory(category=c, label=TEAM_CATEGORY_LABELS[c], minutes=m)
            for c, m in sorted(by_category.items())
        ],
        by_source=[MinutesBySource(source=s, minutes=m) for s, m in sorted(by_source.items())],
    )


async def my_hours(
    session: AsyncSession,
    *,
    volunteer: Volunteer,
    page: PageParams,
    status: HoursStatus | None = None,
) -> MyHours:
    """The volunteer's approved totals and a page of their records, newest first."""
    stmt = repository.volunteer_listing(
        region_id=volunteer.region_id, volunteer_id=volunteer.id, status=status
    )
    records = await _page(session, stmt, page)
    sums = await repository.credited_sums(
        session, region_id=volunteer.region_id, volunteer_id=volunteer.id
    )
    totals = _totals(sums)
    return MyHours(totals=totals, items=records.items, next_cursor=records.next_cursor)
