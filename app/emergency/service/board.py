"""The muster board and the answers on it: a called volunteer answers coming (with an
ETA) or not; the last answer counts, once, in one row. The board counts answers and the
skills of those coming against what was needed; staff see who, a volunteer their own."""

from __future__ import annotations

import uuid

from sqlalchemy.ext.asyncio import AsyncSession

from app.core import clock
from app.core.pagination import Page, PageParams, keyset_page
from app.emergency import repository, schemas
from app.emergency.errors import AlertClosed
from app.emergency.models import ALERT_KIND_LABELS, Alert, Answer, Skill
from app.emergency.repository import BoardRow
from app.emergency.service.access import alert_for_staff, alert_for_volunteer
from app.identity.principals import StaffContext


def _counts(rows: list[BoardRow]) -> schemas.Counts:
    coming = sum(1 for r in rows if r.answer == Answer.coming)
    not_coming = sum(1 for r in rows if r.answer == Answer.not_coming)
    return schemas.Counts(
        called=len(rows),
        coming=coming,
        not_coming=not_coming,
        no_answer=len(rows) - coming - not_coming,
    )


def _skills(alert: Alert, rows: list[BoardRow]) -> list[schemas.SkillCount]:
    coming = [r for r in rows if r.answer == Answer.coming]
    return [
        schemas.SkillCount(
            skill=skill,
            needed=alert.needed_skills.get(skill, 0),
            coming=sum(1 for r in coming if skill in r.skills),
        )
        for skill in Skill
        if skill in alert.needed_skills or any(skill in r.skills for r in coming)
    ]


async def _board(session: AsyncSession, *, alert: Alert, rows: list[BoardRow]) -> schemas.Alert:
    grids = await repository.alert_grids(session, alert_id=alert.id)
    return schemas.Alert(
        id=alert.id,
        region_id=alert.region_id,
        org_unit_id=alert.org_unit_id,
        kind=alert.kind,
        kind_label=ALERT_KIND_LABELS[alert.kind],
        drill=alert.drill,
        message=alert.message,
        muster=schemas.MusterPoint(
            name=alert.muster_name,
            address=alert.muster_address,
            latitude=alert.muster_latitude,
            longitude=alert.muster_longitude,
        ),
        muster_by=alert.muster_by,
        needed_total=alert.needed_total,
        needed_skills={Skill(skill): count for skill, count in alert.needed_skills.items()},
        status=alert.status,
        wave=alert.wave,
        escalate_at=alert.escalate_at,
        activity_id=alert.activity_id,
        raised_at=alert.raised_at,
        stood_down_at=alert.stood_down_at,
        stand_down_reason=alert.stand_down_reason,
        version=alert.version,
        grids=[
            schemas.AlertGrid(grid_id=link.grid_id, org_unit_id=unit_id, name=name, wave=link.wave)
            for link, name, unit_id in grids
        ],
        counts=_counts(rows),
        skills=_skills(alert, rows),
    )


async def board_for_staff(session: AsyncSession, *, alert: Alert) -> schemas.Alert:
    rows = await repository.board_rows(session, alert_id=alert.id)
    board = await _board(session, alert=alert, rows=rows)
    board.responders = [
        schemas.Responder(
            volunteer_id=r.volunteer_id,
            name=r.name,
            answer=Answer(r.answer),
            eta_minutes=r.eta_minutes,
            skills=[Skill(s) for s in r.skills],
            wave=r.wave,
            answered_at=r.answered_at,
        )
        for r in rows
        if r.answer is not None and r.answered_at is not None
    ]
    return board


async def board_for_volunteer(
    session: AsyncSession, *, alert: Alert, volunteer_id: uuid.UUID
) -> schemas.Alert:
    rows = await repository.board_rows(session, alert_id=alert.id)
    board = await _board(session, alert=alert, rows=rows)
    mine = await repository.response_of(session, alert_id=alert.id, volunteer_id=volunteer_id)
    board.my_answer = schemas.MyAnswer.model_validate(mine) if mine is not None else None
    return board


async def alert_for_staff_board(
    session: AsyncSession, *, staff: StaffContext, alert_id: uuid.UUID
) -> schemas.Alert:
    alert = await alert_for_staff(session, staff=staff, alert_id=alert_id)
    return await board_for_staff(session, alert=alert)


async def alert_for_volunteer_board(
    session: AsyncSession, *, region_id: uuid.UUID, volunteer_id: uuid.UUID, alert_id: uuid.UUID
) -> schemas.Alert:
    alert = await alert_for_volunteer(
        session, region_id=region_id, volunteer_id=volunteer_id, alert_id=alert_id
    )
    return await board_for_volunteer(session, alert=alert, volunteer_id=volunteer_id)


async def answer(
    session: AsyncSession,
    *,
    region_id: uuid.UUID,
    volunteer_id: uuid.UUID,
    alert_id: uuid.UUID,
    data: schemas.AnswerCreate,
) -> schemas.MyAnswer:
    """Write the volunteer's answer. The alert's row lock orders concurrent answers: the
    one committed last holds the larger version and is the row's final value."""
    alert = await alert_for_volunteer(
        session, region_id=region_id, volunteer_id=volunteer_id, alert_id=alert_id
    )
    now = clock.now()
    version = await repository.bump_open_alert(session, alert_id=alert.id, now=now)
    if version is None:
        raise AlertClosed()
    row = await repository.upsert_response(
        session,
        {
            "alert_id": alert.id,
            "volunteer_id": volunteer_id,
            "region_id": alert.region_id,
            "answer": data.answer,
            "eta_minutes": data.eta_minutes if data.answer == Answer.coming else None,
            "version": version,
            "answers": 1,
            "first_answered_at": now,
            "updated_at": now,
        },
    )
    return schemas.MyAnswer.model_validate(row)


def _summary(alert: Alert) -> schemas.AlertSummary:
    return schemas.AlertSummary.model_validate(alert, from_attributes=True)


async def list_alerts(
    session: AsyncSession,
    *,
    region_id: uuid.UUID,
    staff: StaffContext | None,
    volunteer_id: uuid.UUID | None,
    page: PageParams,
) -> Page[schemas.AlertSummary]:
    """Staff: the alerts of units their roles reach; a volunteer: the alerts that called
    them. Newest first."""
    reach = None if staff is None or staff.is_center_admin else staff.unit_paths
    rows = await repository.alerts_page(
        session, region_id=region_id, reach=reach, called=volunteer_id, page=page
    )
    return keyset_page(rows, page, key=lambda a: (a.raised_at, a.id), out=_summary)
