"""Call-outs: an alert raised for grids, its volunteers told at once and its muster's
activity opened; widened wave by wave (the neighbouring grids, then everyone who served
under the stations) by hand or by the escalation job when too few are coming; stood down,
which tells those coming and closes the muster."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import timedelta

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.activities import muster
from app.core import clock
from app.emergency import repository, schemas
from app.emergency.errors import (
    AlertClosed,
    AlertFullyEscalated,
    AlertNeedsInvalid,
    GridNotFound,
    MusterByInvalid,
)
from app.emergency.models import (
    ALERT_KIND_LABELS,
    WAVES,
    Alert,
    AlertStatus,
    Answer,
    AuditAction,
    AuditSubject,
    Grid,
    Wave,
)
from app.emergency.service.access import alert_for_staff, audit
from app.emergency.service.board import board_for_staff
from app.identity.principals import StaffContext
from app.notifications import service as notifications
from app.notifications.kinds import NotificationKind
from app.orgs.models import ALL_ROLES, OrgUnit

MUSTER_FURTHEST = timedelta(hours=72)
# How long the muster's activity runs past the muster time: the work's own time.
MUSTER_WORK = timedelta(hours=8)


def _common_unit(units: Sequence[OrgUnit]) -> uuid.UUID:
    """The nearest unit whose subtree holds every one of `units` (paths "/a/b/…/")."""
    paths = [unit.path.strip("/").split("/") for unit in units]
    common: list[str] = []
    for parts in zip(*paths, strict=False):
        if len(set(parts)) != 1:
            break
        common.append(parts[0])
    return uuid.UUID(common[-1])


def _key(alert: Alert) -> str:
    return f"alert:{alert.id}"


async def _call(
    session: AsyncSession,
    *,
    alert: Alert,
    wave: Wave,
    people: Sequence[tuple[uuid.UUID, list[str]]],
) -> int:
    """Record the wave's calls and tell the volunteers not called before; returns how
    many were called now."""
    now = clock.now()
    called = await repository.add_calls(
        session,
        [
            {
                "alert_id": alert.id,
                "volunteer_id": volunteer_id,
                "region_id": alert.region_id,
                "wave": wave,
                "skills": skills,
                "called_at": now,
            }
            for volunteer_id, skills in people
        ],
    )
    label = ALERT_KIND_LABELS[alert.kind]
    drill = "演练 " if alert.drill else ""
    await notifications.notify(
        session,
        region_id=alert.region_id,
        volunteer_ids=called,
        kind=NotificationKind.emergency_callout,
        key=_key(alert),
        title=f"{drill}{label}集结: {alert.muster_name}",
        body=alert.message
        or f"请于 {alert.muster_by.isoformat()} 前到 {alert.muster_address} 集结",
        data={
            "alert_id": str(alert.id),
            "alert_kind": str(alert.kind),
            "drill": alert.drill,
            "muster_point": alert.muster_name,
            "muster_by": alert.muster_by.isoformat(),
        },
    )
    if called:
        total = await repository.called_count(session, alert_id=alert.id)
        await muster.widen_muster(session, activity_id=alert.activity_id, capacity=total)
    return len(called)


async def raise_alert(
    session: AsyncSession,
    *,
    staff: StaffContext,
    data: schemas.AlertCreate,
    escalate_after_seconds: int,
) -> schemas.Alert:
    now = clock.now()
    if not now < data.muster_by <= now + MUSTER_FURTHEST:
        raise MusterByInvalid()
    if any(count > data.needed_total for count in data.needed_skills.values()):
        raise AlertNeedsInvalid()
    found = await repository.grids_with_units(
        session, region_id=staff.region_id, grid_ids=data.grid_ids
    )
    # A grid out of the caller's reach is, for them, no grid.
    if len(found) != len(data.grid_ids) or not all(staff.can(u, ALL_ROLES) for _, u in found):
        raise GridNotFound()
    unit_id = _common_unit([unit for _, unit in found])
    label = ALERT_KIND_LABELS[data.kind]
    alert_id = uuid.uuid4()
    activity_id = await muster.open_muster(
        session,
        muster.Muster(
            region_id=staff.region_id,
            org_unit_id=unit_id,
            title=f"{'演练: ' if data.drill else ''}{label}集结 {data.muster.name}"[:200],
            description=data.message,
            address=data.muster.address,
            latitude=data.muster.latitude,
            longitude=data.muster.longitude,
            starts_at=now,
            ends_at=data.muster_by + MUSTER_WORK,
            capacity=data.needed_total,
            drill=data.drill,
            created_by=staff.id,
        ),
    )
    after = data.escalate_after_seconds or escalate_after_seconds
    alert = Alert(
        id=alert_id,
        region_id=staff.region_id,
        org_unit_id=unit_id,
        kind=data.kind,
        drill=data.drill,
        message=data.message,
        muster_name=data.muster.name,
        muster_address=data.muster.address,
        muster_latitude=data.muster.latitude,
        muster_longitude=data.muster.longitude,
        muster_by=data.muster_by,
        needed_total=data.needed_total,
        needed_skills={str(skill): count for skill, count in data.needed_skills.items()},
        status=AlertStatus.open,
        wave=Wave.grids,
        escalate_after_seconds=after,
        escalate_at=now + timedelta(seconds=after),
        version=1,
        activity_id=activity_id,
        raised_by=staff.id,
        raised_at=now,
    )
    session.add(alert)
    await session.flush()
    grids = [grid for grid, _ in found]
    await repository.add_alert_grids(
        session,
        [
            {
                "alert_id": alert.id,
                "grid_id": g.id,
                "region_id": alert.region_id,
                "wave": Wave.grids,
            }
            for g in grids
        ],
    )
    members = await repository.confirmed_members(session, grid_ids=[g.id for g in grids])
    called = await _call(session, alert=alert, wave=Wave.grids, people=members)
    audit(
        session,
        region_id=alert.region_id,
        subject=AuditSubject.alert,
        subject_id=alert.id,
        action=AuditAction.alert_raised,
        actor_id=staff.id,
        details={
            "grid_ids": [str(g.id) for g in grids],
            "kind": str(alert.kind),
            "drill": alert.drill,
            "needed_total": alert.needed_total,
            "needed_skills": alert.needed_skills,
            "called": called,
        },
    )
    await session.flush()
    return await board_for_staff(session, alert=alert)


async def _widen(session: AsyncSession, *, alert: Alert, actor_id: uuid.UUID | None) -> Wave:
    """Call the next wave; the caller holds the alert's row lock."""
    index = WAVES.index(alert.wave)
    if index + 1 >= len(WAVES):
        raise AlertFullyEscalated()
    wave = WAVES[index + 1]
    units = await repository.alert_grid_units(session, alert_id=alert.id)
    stations = sorted({unit.parent_id for unit in units if unit.parent_id is not None})
    people: list[tuple[uuid.UUID, list[str]]]
    if wave == Wave.neighbours:
        neighbours: list[Grid] = [
            grid
            for grid, _ in await repository.grids_under_parents(
                session, region_id=alert.region_id, parent_ids=stations
            )
        ]
        await repository.add_alert_grids(
            session,
            [
                {"alert_id": alert.id, "grid_id": g.id, "region_id": alert.region_id, "wave": wave}
                for g in neighbours
            ],
        )
        people = await repository.confirmed_members(session, grid_ids=[g.id for g in neighbours])
    else:
        served: dict[uuid.UUID, list[str]] = {}
        for station in await repository.units(session, stations):
            for volunteer_id in await muster.volunteers_signed_up_under(
                session, region_id=alert.region_id, path=station.path
            ):
                served.setdefault(volunteer_id, [])
        people = list(served.items())
    called = await _call(session, alert=alert, wave=wave, people=people)
    alert.wave = wave
    now = clock.now()
    alert.escalate_at = (
        now + timedelta(seconds=alert.escalate_after_seconds)
        if WAVES.index(wave) + 1 < len(WAVES)
        else None
    )
    audit(
        session,
        region_id=alert.region_id,
        subject=AuditSubject.alert,
        subject_id=alert.id,
        action=AuditAction.alert_escalated,
        actor_id=actor_id,
        details={"wave": str(wave), "called": called, "by": "staff" if actor_id else "job"},
    )
    await session.flush()
    return wave


async def escalate(
    session: AsyncSession, *, staff: StaffContext, alert_id: uuid.UUID
) -> schemas.Alert:
    alert = await alert_for_staff(session, staff=staff, alert_id=alert_id)
    if await repository.bump_open_alert(session, alert_id=alert.id, now=clock.now()) is None:
        raise AlertClosed()
    await session.refresh(alert)
    await _widen(session, alert=alert, actor_id=staff.id)
    return await board_for_staff(session, alert=alert)


def _short(alert: Alert, coming: list[list[str]]) -> bool:
    """Whether fewer are coming than the alert needs, in all or with a skill."""
    if len(coming) < alert.needed_total:
        return True
    return any(
        sum(1 for skills in coming if skill in skills) < needed
        for skill, needed in alert.needed_skills.items()
    )


async def escalate_due(sessions: async_sessionmaker[AsyncSession]) -> int:
    """The escalation job: each open alert whose wave has had its time and is still short
    calls the next wave; one that has enough is looked at again a period later (answers
    may change). Returns how many alerts were widened."""
    widened = 0
    async with sessions() as session, session.begin():
        now = clock.now()
        for alert in await repository.due_alerts(session, now=now, limit=50):
            rows = await repository.board_rows(session, alert_id=alert.id)
            coming = [r.skills for r in rows if r.answer == Answer.coming]
            if not _short(alert, coming):
                alert.escalate_at = now + timedelta(seconds=alert.escalate_after_seconds)
                continue
            await repository.bump_open_alert(session, alert_id=alert.id, now=now)
            await session.refresh(alert)
            await _widen(session, alert=alert, actor_id=None)
            widened += 1
    return widened


async def stand_down(
    session: AsyncSession, *, staff: StaffContext, alert_id: uuid.UUID, reason: str
) -> schemas.Alert:
    alert = await alert_for_staff(session, staff=staff, alert_id=alert_id)
    now = clock.now()
    if await repository.bump_open_alert(session, alert_id=alert.id, now=now) is None:
        raise AlertClosed()
    await session.refresh(alert)
    alert.status = AlertStatus.stood_down
    alert.stood_down_by = staff.id
    alert.stood_down_at = now
    alert.stand_down_reason = reason
    alert.escalate_at = None
    coming = await repository.coming(session, alert_id=alert.id)
    told = await notifications.notify(
        session,
        region_id=alert.region_id,
        volunteer_ids=coming,
        kind=NotificationKind.emergency_stood_down,
        key=_key(alert),
        title=f"{'演练 ' if alert.drill else ''}{ALERT_KIND_LABELS[alert.kind]}集结已解除",
        body=reason,
        data={
            "alert_id": str(alert.id),
            "alert_kind": str(alert.kind),
            "drill": alert.drill,
            "stood_down_at": now.isoformat(),
        },
    )
    activity_status = await muster.close_muster(session, activity_id=alert.activity_id)
    audit(
        session,
        region_id=alert.region_id,
        subject=AuditSubject.alert,
        subject_id=alert.id,
        action=AuditAction.alert_stood_down,
        actor_id=staff.id,
        details={"reason": reason, "told": told, "activity_status": str(activity_status)},
    )
    await session.flush()
    return await board_for_staff(session, alert=alert)
