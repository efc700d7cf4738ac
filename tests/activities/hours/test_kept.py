"""The database itself keeps hours records, their corrections and their audit trail
(migration 0021), on both backends: nothing is deleted, what was entered never
changes, a status only moves forward and a decision is written once."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import TextClause, Uuid, bindparam, func, select, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncSession

from app.activities.hours.models import (
    ActorKind,
    AuditAction,
    CorrectionStatus,
    HoursAudit,
    HoursCorrection,
    HoursRecord,
    HoursSource,
    HoursStatus,
)
from app.activities.models import ActivityStatus
from app.core import clock
from tests.activities.support import make_activity
from tests.builders import World
from tests.conftest import IS_PG

KEPT = "rows are kept as written"


def _statement(sql: str, params: dict[str, Any]) -> TextClause:
    """Raw SQL whose ids are bound as each database stores them."""
    ids = [bindparam(k, type_=Uuid()) for k, v in params.items() if isinstance(v, uuid.UUID)]
    return text(sql).bindparams(*ids)


@dataclass
class Hours:
    app: Any
    records: dict[HoursStatus, uuid.UUID]

    async def execute(self, sql: str, **params: Any) -> None:
        async with self.app.state.db.sessions() as session, session.begin():
            await session.execute(_statement(sql, params), params)

    async def scalar(self, sql: str, **params: Any) -> Any:
        async with self.app.state.db.sessions() as session:
            return await session.scalar(_statement(sql, params), params)

    async def status(self, status: HoursStatus) -> str:
        found = await self.scalar(
            "SELECT status FROM hours_records WHERE id = :id", id=self.records[status]
        )
        return str(found)

    async def counts(self) -> tuple[int, int, int]:
        async with self.app.state.db.sessions() as session:
            return (
                int(await session.scalar(select(func.count()).select_from(HoursRecord)) or 0),
                int(await session.scalar(select(func.count()).select_from(HoursCorrection)) or 0),
                int(await session.scalar(select(func.count()).select_from(HoursAudit)) or 0),
            )


@pytest.fixture
async def hours(app: Any, session: AsyncSession, world: World) -> Hours:
    """A record in each status but superseded, an open correction and an audit row."""
    activity = await make_activity(
        session,
        world.station_x,
        world.organizer_x,
        starts_at=clock.now() - timedelta(days=2),
        status=ActivityStatus.finished,
    )
    records: dict[HoursStatus, uuid.UUID] = {}
    for status in (HoursStatus.pending, HoursStatus.approved, HoursStatus.rejected):
        decided = status != HoursStatus.pending
        record = HoursRecord(
            id=uuid.uuid4(),
            region_id=world.region.id,
            volunteer_id=world.volunteer_a.id,
            activity_id=activity.id,
            source=HoursSource.makeup,
            status=status,
            minutes=60,
            service_date=activity.starts_at.date(),
            flags=[],
            reason="补录",
            created_by_kind=ActorKind.staff,
            created_by_id=world.organizer_x.id,
            decided_by_id=world.station_admin_x.id if decided else None,
            decided_at=clock.now() if decided else None,
        )
        session.add(record)
        records[status] = record.id
    await session.flush()
    session.add(
        HoursCorrection(
            region_id=world.region.id,
            hours_record_id=records[HoursStatus.approved],
            volunteer_id=world.volunteer_a.id,
            minutes=90,
            reason="实际一个半小时",
            status=CorrectionStatus.open,
            open_record_id=records[HoursStatus.approved],
        )
    )
    session.add(
        HoursAudit(
            region_id=world.region.id,
            hours_record_id=records[HoursStatus.pending],
            action=AuditAction.created,
            actor_kind=ActorKind.staff,
            actor_id=world.organizer_x.id,
            to_status=HoursStatus.pending,
            minutes=60,
            reason="补录",
        )
    )
    await session.commit()
    return Hours(app=app, records=records)


@pytest.mark.parametrize("table", ["hours_records", "hours_corrections", "hours_audit"])
@pytest.mark.database_owner
async def test_a_raw_delete_is_refused(hours: Hours, table: str) -> None:
    before = await hours.counts()
    with pytest.raises(DBAPIError, match=KEPT):
        await hours.execute(f"DELETE FROM {table}")  # noqa: S608 - our own table names
    assert await hours.counts() == before


@pytest.mark.parametrize(
    ("table", "change"),
    [
        ("hours_records", "minutes = minutes + 60"),
        ("hours_records", "volunteer_id = region_id"),
        ("hours_records", "source = 'checkin'"),
        ("hours_records", "created_by_id = NULL"),
        ("hours_records", "service_date = service_date"),
        ("hours_corrections", "minutes = 600"),
        ("hours_corrections", "hours_record_id = hours_record_id"),
        ("hours_audit", "reason = 'rewritten'"),
        ("hours_audit", "to_status = 'approved'"),
    ],
)
@pytest.mark.database_owner
async def test_a_raw_update_of_what_was_entered_is_refused(
    hours: Hours, table: str, change: str
) -> None:
    with pytest.raises(DBAPIError, match=KEPT):
        await hours.execute(f"UPDATE {table} SET {change}")  # noqa: S608 - our own table names
    minutes = await hours.scalar(
        "SELECT minutes FROM hours_records WHERE id = :id", id=hours.records[HoursStatus.pending]
    )
    assert minutes == 60


@pytest.mark.parametrize(
    ("status", "change"),
    [
        # Decided records do not go back, nor to another decision.
        (HoursStatus.approved, "status = 'pending'"),
        (HoursStatus.approved, "status = 'rejected'"),
        (HoursStatus.rejected, "status = 'approved'"),
        (HoursStatus.rejected, "status = 'superseded'"),
        # A decision is written once, by the update that makes it.
        (HoursStatus.approved, "decided_by_id = NULL"),
        (HoursStatus.rejected, "decision_reason = 'another reason'"),
        (HoursStatus.pending, "decided_at = created_at"),
        (HoursStatus.pending, "status = 'superseded', decided_at = created_at"),
    ],
)
async def test_a_status_moves_only_forward_and_a_decision_is_written_once(
    hours: Hours, status: HoursStatus, change: str
) -> None:
    with pytest.raises(DBAPIError, match=KEPT):
        await hours.execute(
            f"UPDATE hours_records SET {change} WHERE id = :id",  # noqa: S608 - a fixed change
            id=hours.records[status],
        )
    assert await hours.status(status) == status.value


async def test_deciding_and_superseding_are_allowed_once(hours: Hours, world: World) -> None:
    pending, approved = hours.records[HoursStatus.pending], hours.records[HoursStatus.approved]

    await hours.execute(
        "UPDATE hours_records SET status = 'approved', decided_by_id = :by, decided_at = "
        "created_at, updated_at = created_at WHERE id = :id",
        id=pending,
        by=world.station_admin_x.id,
    )
    await hours.execute(
        "UPDATE hours_records SET status = 'superseded' WHERE id = :id", id=approved
    )

    assert await hours.status(HoursStatus.pending) == "approved"
    assert await hours.status(HoursStatus.approved) == "superseded"
    with pytest.raises(DBAPIError, match=KEPT):
        await hours.execute(
            "UPDATE hours_records SET status = 'approved' WHERE id = :id", id=approved
        )


async def test_a_correction_is_decided_once(hours: Hours, world: World) -> None:
    decide = (
        "UPDATE hours_corrections SET status = :status, open_record_id = NULL, "
        "decided_by_id = :by, decided_at = created_at, decision_reason = :reason"
    )
    with pytest.raises(DBAPIError, match=KEPT):
        # Still open, nothing but its decision may change.
        await hours.execute("UPDATE hours_corrections SET decision_reason = 'x'")

    await hours.execute(decide, status="refused", by=world.station_admin_x.id, reason="无凭证")

    with pytest.raises(DBAPIError, match=KEPT):
        await hours.execute(decide, status="accepted", by=world.station_admin_x.id, reason="有")
    assert await hours.scalar("SELECT status FROM hours_corrections") == "refused"


@pytest.mark.skipif(not IS_PG, reason="TRUNCATE is PostgreSQL's; SQLite has none")
@pytest.mark.parametrize(
    "table",
    [
        "hours_records",
        "hours_corrections",
        "hours_audit",
        "staff_grants",
        "merchant_stations",
        "adjustments",
    ],
)
@pytest.mark.database_owner
async def test_truncate_is_refused(hours: Hours, table: str) -> None:
    with pytest.raises(DBAPIError, match=KEPT):
        await hours.execute(f"TRUNCATE {table} CASCADE")
    assert await hours.counts() == (3, 1, 1)
