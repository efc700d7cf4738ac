"""A grid's emergency team: volunteers enrol with their skills and when they can come,
staff on the grid's point confirm or refuse them, volunteers withdraw. Only confirmed
members are called out."""

from __future__ import annotations

import uuid

from sqlalchemy.ext.asyncio import AsyncSession

from app.core import clock
from app.core.pagination import Page, PageParams, keyset_page
from app.emergency import repository, schemas
from app.emergency.errors import AlreadyEnrolled, EnrolmentNotActive, EnrolmentNotPending
from app.emergency.models import (
    AuditAction,
    AuditSubject,
    Availability,
    Enrolment,
    EnrolmentStatus,
)
from app.emergency.service.access import (
    audit,
    enrolment_for_staff,
    enrolment_of_volunteer,
    grid_for_staff,
    grid_in_region,
)
from app.identity.principals import StaffContext
from app.volunteers.models import Volunteer


def _availability(values: list[Availability]) -> list[str]:
    """`anytime` covers every other slot: kept alone."""
    if Availability.anytime in values:
        return [Availability.anytime]
    return [str(value) for value in Availability if value in values]


async def enrol(
    session: AsyncSession,
    *,
    volunteer: Volunteer,
    grid_id: uuid.UUID,
    data: schemas.EnrolmentCreate,
) -> schemas.Enrolment:
    grid, _ = await grid_in_region(session, region_id=volunteer.region_id, grid_id=grid_id)
    now = clock.now()
    enrolment = await repository.enrolment_of(session, grid_id=grid.id, volunteer_id=volunteer.id)
    if enrolment is not None and enrolment.status in (
        EnrolmentStatus.pending,
        EnrolmentStatus.confirmed,
    ):
        raise AlreadyEnrolled()
    if enrolment is None:
        enrolment = Enrolment(region_id=grid.region_id, grid_id=grid.id, volunteer_id=volunteer.id)
        session.add(enrolment)
    enrolment.skills = [str(skill) for skill in data.skills]
    enrolment.availability = _availability(data.availability)
    enrolment.status = EnrolmentStatus.pending
    enrolment.asked_at = now
    enrolment.decided_by = None
    enrolment.decided_at = None
    enrolment.decision_reason = None
    enrolment.withdrawn_at = None
    await session.flush()
    return schemas.Enrolment.model_validate(enrolment)


async def _decide(
    session: AsyncSession,
    *,
    staff: StaffContext,
    enrolment_id: uuid.UUID,
    to: EnrolmentStatus,
    reason: str | None,
) -> schemas.Enrolment:
    enrolment, _, _ = await enrolment_for_staff(session, staff=staff, enrolment_id=enrolment_id)
    if enrolment.status != EnrolmentStatus.pending:
        raise EnrolmentNotPending(f"The enrolment is {enrolment.status}")
    enrolment.status = to
    enrolment.decided_by = staff.id
    enrolment.decided_at = clock.now()
    enrolment.decision_reason = reason
    audit(
        session,
        region_id=enrolment.region_id,
        subject=AuditSubject.enrolment,
        subject_id=enrolment.id,
        action=(
            AuditAction.enrolment_confirmed
            if to == EnrolmentStatus.confirmed
            else AuditAction.enrolment_refused
        ),
        actor_id=staff.id,
        details={
            "grid_id": str(enrolment.grid_id),
            "volunteer_id": str(enrolment.volunteer_id),
            "reason": reason,
        },
    )
    await session.flush()
    return schemas.Enrolment.model_validate(enrolment)


async def confirm(
    session: AsyncSession, *, staff: StaffContext, enrolment_id: uuid.UUID, reason: str | None
) -> schemas.Enrolment:
    return await _decide(
        session,
        staff=staff,
        enrolment_id=enrolment_id,
        to=EnrolmentStatus.confirmed,
        reason=reason,
    )


async def refuse(
    session: AsyncSession, *, staff: StaffContext, enrolment_id: uuid.UUID, reason: str | None
) -> schemas.Enrolment:
    return await _decide(
        session, staff=staff, enrolment_id=enrolment_id, to=EnrolmentStatus.refused, reason=reason
    )


async def withdraw(
    session: AsyncSession, *, volunteer: Volunteer, enrolment_id: uuid.UUID
) -> schemas.Enrolment:
    enrolment = await enrolment_of_volunteer(
        session,
        region_id=volunteer.region_id,
        volunteer_id=volunteer.id,
        enrolment_id=enrolment_id,
    )
    if enrolment.status not in (EnrolmentStatus.pending, EnrolmentStatus.confirmed):
        raise EnrolmentNotActive()
    enrolment.status = EnrolmentStatus.withdrawn
    enrolment.withdrawn_at = clock.now()
    await session.flush()
    return schemas.Enrolment.model_validate(enrolment)


async def team(
    session: AsyncSession,
    *,
    staff: StaffContext,
    grid_id: uuid.UUID,
    status: EnrolmentStatus | None,
    page: PageParams,
) -> Page[schemas.TeamMember]:
    grid, _ = await grid_for_staff(session, staff=staff, grid_id=grid_id)
    rows = await repository.team_page(session, grid_id=grid.id, status=status, page=page)
    return keyset_page(
        rows,
        page,
        key=lambda row: (row[0].asked_at, row[0].id),
        out=lambda row: schemas.TeamMember.model_validate(
            {
                **schemas.Enrolment.model_validate(row[0]).model_dump(),
                "volunteer_name": row[1],
                "volunteer_no": row[2],
            }
        ),
    )


async def my_enrolments(
    session: AsyncSession, *, volunteer: Volunteer
) -> list[schemas.MyEnrolment]:
    rows = await repository.enrolments_of_volunteer(
        session, region_id=volunteer.region_id, volunteer_id=volunteer.id
    )
    return [
        schemas.MyEnrolment.model_validate(
            {**schemas.Enrolment.model_validate(enrolment).model_dump(), "grid_name": name}
        )
        for enrolment, name in rows
    ]
