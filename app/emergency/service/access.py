"""Who may act on what, and the audit trail every use case writes.

Grids are part of the region's map: anyone of the region reads them, and staff whose roles
reach the point change them (403 to the region's other staff, who see the point anyway).
An enrolment is a person's: staff out of reach of its grid are told it does not exist. An
alert belongs to the grids' nearest common unit (`Alert.org_unit_id`): staff whose roles
reach that unit run it, a volunteer it called reads it, and anyone else is told it does
not exist.
"""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from app.core import clock
from app.emergency import repository
from app.emergency.errors import AlertNotFound, EnrolmentNotFound, GridNotFound
from app.emergency.models import (
    Alert,
    AuditAction,
    AuditSubject,
    EmergencyAudit,
    Enrolment,
    Grid,
)
from app.identity.principals import StaffContext
from app.orgs.authz import require_on_unit
from app.orgs.models import ALL_ROLES, OrgUnit


def audit(
    session: AsyncSession,
    *,
    region_id: uuid.UUID,
    subject: AuditSubject,
    subject_id: uuid.UUID,
    action: AuditAction,
    actor_id: uuid.UUID | None,
    details: dict[str, Any],
) -> None:
    """Add the audit entry (written by the next flush)."""
    session.add(
        EmergencyAudit(
            region_id=region_id,
            subject=subject,
            subject_id=subject_id,
            action=action,
            actor_id=actor_id,
            details=details,
            at=clock.now(),
        )
    )


async def grid_in_region(
    session: AsyncSession, *, region_id: uuid.UUID, grid_id: uuid.UUID
) -> tuple[Grid, OrgUnit]:
    found = await repository.grid_with_unit(session, region_id=region_id, grid_id=grid_id)
    if found is None:
        raise GridNotFound()
    return found


async def grid_for_staff(
    session: AsyncSession, *, staff: StaffContext, grid_id: uuid.UUID
) -> tuple[Grid, OrgUnit]:
    """The grid if the staff member's roles reach its point (403 otherwise)."""
    grid, unit = await grid_in_region(session, region_id=staff.region_id, grid_id=grid_id)
    require_on_unit(staff, unit)
    return grid, unit


async def enrolment_for_staff(
    session: AsyncSession, *, staff: StaffContext, enrolment_id: uuid.UUID
) -> tuple[Enrolment, Grid, OrgUnit]:
    """The enrolment, locked, if the staff member's roles reach its grid's point."""
    enrolment = await repository.enrolment_in_region(
        session, region_id=staff.region_id, enrolment_id=enrolment_id
    )
    if enrolment is None:
        raise EnrolmentNotFound()
    grid, unit = await grid_in_region(session, region_id=staff.region_id, grid_id=enrolment.grid_id)
    if not staff.can(unit, ALL_ROLES):
        raise EnrolmentNotFound()
    return enrolment, grid, unit


async def enrolment_of_volunteer(
    session: AsyncSession, *, region_id: uuid.UUID, volunteer_id: uuid.UUID, enrolment_id: uuid.UUID
) -> Enrolment:
    enrolment = await repository.enrolment_in_region(
        session, region_id=region_id, enrolment_id=enrolment_id
    )
    if enrolment is None or enrolment.volunteer_id != volunteer_id:
        raise EnrolmentNotFound()
    return enrolment


async def alert_for_staff(
    session: AsyncSession, *, staff: StaffContext, alert_id: uuid.UUID
) -> Alert:
    alert = await repository.alert_in_region(session, region_id=staff.region_id, alert_id=alert_id)
    if alert is None:
        raise AlertNotFound()
    [unit] = await repository.units(session, [alert.org_unit_id])
    if not staff.can(unit, ALL_ROLES):
        raise AlertNotFound()
    return alert


async def alert_for_volunteer(
    session: AsyncSession, *, region_id: uuid.UUID, volunteer_id: uuid.UUID, alert_id: uuid.UUID
) -> Alert:
    """The alert if it called the volunteer."""
    alert = await repository.alert_in_region(session, region_id=region_id, alert_id=alert_id)
    if alert is None:
        raise AlertNotFound()
    if await repository.call_of(session, alert_id=alert.id, volunteer_id=volunteer_id) is None:
        raise AlertNotFound()
    return alert
