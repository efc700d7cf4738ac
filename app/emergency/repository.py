"""SQL of `app.emergency`: grids and their teams, the calls an alert made, the answers
(one row per called volunteer, upserted), the alert's version that every change bumps,
and the due alerts the escalation job claims."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import false, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from app.core.db import session_insert
from app.core.pagination import PageParams, keyset_window
from app.emergency.models import (
    Alert,
    AlertGrid,
    AlertStatus,
    Call,
    Enrolment,
    EnrolmentStatus,
    Grid,
    Response,
)
from app.orgs.models import OrgUnit, UnitKind
from app.volunteers.models import Volunteer

# Grids


async def grid_with_unit(
    session: AsyncSession, *, region_id: uuid.UUID, grid_id: uuid.UUID
) -> tuple[Grid, OrgUnit] | None:
    row = (
        await session.execute(
            select(Grid, OrgUnit)
            .join(OrgUnit, OrgUnit.id == Grid.org_unit_id)
            .where(Grid.id == grid_id, Grid.region_id == region_id)
        )
    ).first()
    return (row[0], row[1]) if row is not None else None


async def grid_of_unit(session: AsyncSession, *, unit_id: uuid.UUID) -> Grid | None:
    return await session.scalar(select(Grid).where(Grid.org_unit_id == unit_id))


async def grids_with_units(
    session: AsyncSession, *, region_id: uuid.UUID, grid_ids: Sequence[uuid.UUID]
) -> list[tuple[Grid, OrgUnit]]:
    rows = await session.execute(
        select(Grid, OrgUnit)
        .join(OrgUnit, OrgUnit.id == Grid.org_unit_id)
        .where(Grid.region_id == region_id, Grid.id.in_(grid_ids))
        .order_by(Grid.id)
    )
    return [(grid, unit) for grid, unit in rows]


async def grids_page(
    session: AsyncSession, *, region_id: uuid.UUID, subtree: str | None, page: PageParams
) -> list[tuple[Grid, OrgUnit]]:
    stmt = (
        select(Grid, OrgUnit)
        .join(OrgUnit, OrgUnit.id == Grid.org_unit_id)
        .where(Grid.region_id == region_id)
    )
    if subtree is not None:
        stmt = stmt.where(OrgUnit.path.startswith(subtree, autoescape=True))
    rows = await session.execute(
        keyset_window(stmt, page, time_column=Grid.created_at, id_column=Grid.id)
    )
    return [(grid, unit) for grid, unit in rows]


async def grids_under_parents(
    session: AsyncSession, *, region_id: uuid.UUID, parent_ids: Sequence[uuid.UUID]
) -> list[tuple[Grid, OrgUnit]]:
    """The grids of the points directly under the units named."""
    rows = await session.execute(
        select(Grid, OrgUnit)
        .join(OrgUnit, OrgUnit.id == Grid.org_unit_id)
        .where(
            Grid.region_id == region_id,
            OrgUnit.kind == UnitKind.point,
            OrgUnit.parent_id.in_(parent_ids),
        )
        .order_by(Grid.id)
    )
    return [(grid, unit) for grid, unit in rows]


async def units(session: AsyncSession, unit_ids: Sequence[uuid.UUID]) -> list[OrgUnit]:
    return list(await session.scalars(select(OrgUnit).where(OrgUnit.id.in_(unit_ids))))


# Enrolments


async def enrolment_of(
    session: AsyncSession, *, grid_id: uuid.UUID, volunteer_id: uuid.UUID
) -> Enrolment | None:
    return await session.scalar(
        select(Enrolment)
        .where(Enrolment.grid_id == grid_id, Enrolment.volunteer_id == volunteer_id)
        .with_for_update()
    )


async def enrolment_in_region(
    session: AsyncSession, *, region_id: uuid.UUID, enrolment_id: uuid.UUID
) -> Enrolment | None:
    return await session.scalar(
        select(Enrolment)
        .where(Enrolment.id == enrolment_id, Enrolment.region_id == region_id)
        .with_for_update()
    )


async def team_page(
    session: AsyncSession,
    *,
    grid_id: uuid.UUID,
    status: EnrolmentStatus | None,
    page: PageParams,
) -> list[tuple[Enrolment, str | None, str]]:
    stmt = (
        select(Enrolment, Volunteer.name, Volunteer.volunteer_no)
        .join(Volunteer, Volunteer.id == Enrolment.volunteer_id)
        .where(Enrolment.grid_id == grid_id)
    )
    if status is not None:
        stmt = stmt.where(Enrolment.status == status)
    rows = await session.execute(
        keyset_window(stmt, page, time_column=Enrolment.asked_at, id_column=Enrolment.id)
    )
    return [(enrolment, name, number) for enrolment, name, number in rows]


async def enrolments_of_volunteer(
    session: AsyncSession, *, region_id: uuid.UUID, volunteer_id: uuid.UUID
) -> list[tuple[Enrolment, str]]:
    rows = await session.execute(
        select(Enrolment, OrgUnit.name)
        .join(Grid, Grid.id == Enrolment.grid_id)
        .join(OrgUnit, OrgUnit.id == Grid.org_unit_id)
        .where(Enrolment.region_id == region_id, Enrolment.volunteer_id == volunteer_id)
        .order_by(Enrolment.asked_at, Enrolment.id)
    )
    return [(enrolment, name) for enrolment, name in rows]


async def confirmed_members(
    session: AsyncSession, *, grid_ids: Sequence[uuid.UUID]
) -> list[tuple[uuid.UUID, list[str]]]:
    """Each confirmed member of the grids once, with the skills of all their enrolments."""
    rows = await session.execute(
        select(Enrolment.volunteer_id, Enrolment.skills).where(
            Enrolment.grid_id.in_(grid_ids), Enrolment.status == EnrolmentStatus.confirmed
        )
    )
    skills: dict[uuid.UUID, set[str]] = {}
    for volunteer_id, enrolled_with in rows:
        skills.setdefault(volunteer_id, set()).update(enrolled_with)
    return [(volunteer_id, sorted(held)) for volunteer_id, held in skills.items()]


# Alerts


async def alert_in_region(
    session: AsyncSession, *, region_id: uuid.UUID, alert_id: uuid.UUID
) -> Alert | None:
    return await session.scalar(
        select(Alert).where(Alert.id == alert_id, Alert.region_id == region_id)
    )


async def bump_open_alert(
    session: AsyncSession, *, alert_id: uuid.UUID, now: datetime
) -> int | None:
    """Take the open alert's row lock and its next version; None when it is closed.

    Every change of the board goes through here first, so the changes of one alert are
    serialized in version order and a stand-down waits for an answer in flight."""
    return await session.scalar(
        update(Alert)
        .where(Alert.id == alert_id, Alert.status == AlertStatus.open)
        .values(version=Alert.version + 1, updated_at=now)
        .returning(Alert.version)
        .execution_options(synchronize_session=False)
    )


async def alert_state(session: AsyncSession, *, alert_id: uuid.UUID) -> tuple[int, str] | None:
    """The alert's version and status: the stream's one cheap look."""
    row = (
        await session.execute(select(Alert.version, Alert.status).where(Alert.id == alert_id))
    ).first()
    return (int(row[0]), str(row[1])) if row is not None else None


async def due_alerts(session: AsyncSession, *, now: datetime, limit: int) -> list[Alert]:
    """Open alerts whose escalation is due, claimed: another worker skips them."""
    return list(
        await session.scalars(
            select(Alert)
            .where(
                Alert.status == AlertStatus.open,
                Alert.escalate_at.is_not(None),
                Alert.escalate_at <= now,
            )
            .order_by(Alert.escalate_at)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
    )


async def alert_grids(
    session: AsyncSession, *, alert_id: uuid.UUID
) -> list[tuple[AlertGrid, str, uuid.UUID]]:
    rows = await session.execute(
        select(AlertGrid, OrgUnit.name, Grid.org_unit_id)
        .join(Grid, Grid.id == AlertGrid.grid_id)
        .join(OrgUnit, OrgUnit.id == Grid.org_unit_id)
        .where(AlertGrid.alert_id == alert_id)
        .order_by(OrgUnit.name, Grid.id)
    )
    return [(link, name, unit_id) for link, name, unit_id in rows]


async def alert_grid_units(session: AsyncSession, *, alert_id: uuid.UUID) -> list[OrgUnit]:
    return list(
        await session.scalars(
            select(OrgUnit)
            .join(Grid, Grid.org_unit_id == OrgUnit.id)
            .join(AlertGrid, AlertGrid.grid_id == Grid.id)
            .where(AlertGrid.alert_id == alert_id)
        )
    )


async def add_alert_grids(session: AsyncSession, rows: list[dict[str, Any]]) -> None:
    if rows:
        insert = session_insert(session)
        await session.execute(insert(AlertGrid).values(rows).on_conflict_do_nothing())


async def add_calls(session: AsyncSession, rows: list[dict[str, Any]]) -> list[uuid.UUID]:
    """Record the calls; returns the volunteers called now (not by an earlier wave)."""
    if not rows:
        return []
    insert = session_insert(session)
    made = await session.scalars(
        insert(Call).values(rows).on_conflict_do_nothing().returning(Call.volunteer_id)
    )
    return list(made)


async def call_of(
    session: AsyncSession, *, alert_id: uuid.UUID, volunteer_id: uuid.UUID
) -> Call | None:
    return await session.get(Call, (alert_id, volunteer_id))


async def called_count(session: AsyncSession, *, alert_id: uuid.UUID) -> int:
    return int(await session.scalar(select(func.count()).where(Call.alert_id == alert_id)) or 0)


async def upsert_response(session: AsyncSession, row: dict[str, Any]) -> Response:
    """Write the volunteer's answer over any earlier one: one row, its version the
    alert's new version, its count of answers up by one."""
    insert = session_insert(session)
    stmt = insert(Response).values(row)
    stmt = stmt.on_conflict_do_update(
        index_elements=[Response.alert_id, Response.volunteer_id],
        set_={
            "answer": stmt.excluded.answer,
            "eta_minutes": stmt.excluded.eta_minutes,
            "version": stmt.excluded.version,
            "updated_at": stmt.excluded.updated_at,
            "answers": Response.answers + 1,
        },
    ).returning(Response)
    result = await session.scalars(stmt, execution_options={"populate_existing": True})
    response: Response = result.one()
    return response


async def response_of(
    session: AsyncSession, *, alert_id: uuid.UUID, volunteer_id: uuid.UUID
) -> Response | None:
    return await session.get(Response, (alert_id, volunteer_id))


@dataclass(frozen=True)
class BoardRow:
    volunteer_id: uuid.UUID
    name: str | None
    wave: str
    skills: list[str]
    answer: str | None
    eta_minutes: int | None
    answered_at: datetime | None


async def board_rows(session: AsyncSession, *, alert_id: uuid.UUID) -> list[BoardRow]:
    """Everyone the alert called, with their answer if any."""
    answer = aliased(Response)
    rows = await session.execute(
        select(
            Call.volunteer_id,
            Volunteer.name,
            Call.wave,
            Call.skills,
            answer.answer,
            answer.eta_minutes,
            answer.updated_at,
        )
        .join(Volunteer, Volunteer.id == Call.volunteer_id)
        .outerjoin(
            answer,
            (answer.alert_id == Call.alert_id) & (answer.volunteer_id == Call.volunteer_id),
        )
        .where(Call.alert_id == alert_id)
        .order_by(answer.updated_at, Call.volunteer_id)
    )
    return [BoardRow(*row) for row in rows]


async def coming(session: AsyncSession, *, alert_id: uuid.UUID) -> list[uuid.UUID]:
    return list(
        await session.scalars(
            select(Response.volunteer_id).where(
                Response.alert_id == alert_id, Response.answer == "coming"
            )
        )
    )


async def alerts_page(
    session: AsyncSession,
    *,
    region_id: uuid.UUID,
    reach: list[str] | None,
    called: uuid.UUID | None,
    page: PageParams,
) -> list[Alert]:
    """The region's alerts, newest first: those of units under one of the `reach` paths
    (None: all), or those that called the volunteer `called`."""
    stmt = select(Alert).where(Alert.region_id == region_id)
    if called is not None:
        stmt = stmt.join(Call, (Call.alert_id == Alert.id) & (Call.volunteer_id == called))
    if reach is not None:
        stmt = stmt.join(OrgUnit, OrgUnit.id == Alert.org_unit_id).where(
            or_(false(), *(OrgUnit.path.startswith(path, autoescape=True) for path in reach))
        )
    rows = await session.scalars(
        keyset_window(
            stmt, page, time_column=Alert.raised_at, id_column=Alert.id, newest_first=True
        )
    )
    return list(rows)
