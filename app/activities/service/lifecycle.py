"""An activity's life: created as a draft, changed under the edit rules (nothing of its
time and place once it started, capacity never below its sign-ups), published,
cancelled while no one has checked in."""

from __future__ import annotations

import secrets
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from app.activities import repository, schemas
from app.activities.errors import (
    ActivityAlreadyStarted,
    ActivityFieldRequired,
    ActivityHasAttendances,
    ActivityNotEditable,
    ActivityStateConflict,
    ActivityTimesInvalid,
    CapacityBelowSignups,
)
from app.activities.models import Activity, ActivityStatus
from app.activities.service.contract import activity_for_organizer, activity_out
from app.activities.service.projects import project_in_region, team_in_region
from app.core import clock
from app.identity.principals import StaffContext
from app.integrations import outbox
from app.orgs import service as orgs

TIME_AND_PLACE = frozenset({"starts_at", "ends_at", "latitude", "longitude", "address", "radius_m"})
# Fields an update may change but not clear.
REQUIRED_FIELDS = frozenset(
    {
        "title",
        "description",
        "category",
        "starts_at",
        "ends_at",
        "latitude",
        "longitude",
        "address",
        "radius_m",
        "capacity",
        "walk_ins_allowed",
        "rounding_mode",
        "scan_required",
    }
)


@dataclass(frozen=True)
class _Times:
    starts_at: datetime
    ends_at: datetime
    signup_opens_at: datetime | None
    signup_closes_at: datetime | None


def _check_times(times: _Times) -> None:
    if times.ends_at <= times.starts_at:
        raise ActivityTimesInvalid("The activity must end after it starts")
    if times.ends_at - times.starts_at > timedelta(days=7):
        raise ActivityTimesInvalid("An activity lasts at most 7 days")
    closes = times.signup_closes_at or times.starts_at
    if times.signup_opens_at is not None and times.signup_opens_at >= closes:
        raise ActivityTimesInvalid("Sign-up must open before it closes")
    if times.signup_closes_at is not None and times.signup_closes_at > times.ends_at:
        raise ActivityTimesInvalid("Sign-up must close by the end of the activity")


async def create_activity(
    session: AsyncSession, *, staff: StaffContext, data: schemas.ActivityCreate
) -> schemas.Activity:
    await orgs.unit_for_staff(session, staff=staff, unit_id=data.org_unit_id)
    await team_in_region(session, region_id=staff.region_id, team_id=data.team_id)
    await project_in_region(session, region_id=staff.region_id, project_id=data.project_id)
    _check_times(_Times(data.starts_at, data.ends_at, data.signup_opens_at, data.signup_closes_at))
    activity = Activity(
        region_id=staff.region_id,
        **data.model_dump(),
        signed_up=0,
        status=ActivityStatus.draft,
        checkin_secret=secrets.token_bytes(32),
        created_by=staff.id,
    )
    session.add(activity)
    await session.flush()
    return activity_out(activity, exact=True)


async def update_activity(
    session: AsyncSession,
    *,
    staff: StaffContext,
    activity_id: uuid.UUID,
    data: schemas.ActivityUpdate,
) -> schemas.Activity:
    activity = await activity_for_organizer(session, staff=staff, activity_id=activity_id)
    if activity.status in (ActivityStatus.finished, ActivityStatus.cancelled):
        raise ActivityNotEditable()
    changes = {
        name: getattr(data, name)
        for name in data.model_fields_set
        if getattr(data, name) != getattr(activity, name)
    }
    cleared = [name for name in REQUIRED_FIELDS if name in changes and changes[name] is None]
    if cleared:
        raise ActivityFieldRequired(f"{', '.join(sorted(cleared))} cannot be cleared")
    if (
        activity.status == ActivityStatus.published
        and clock.now() >= activity.starts_at
        and TIME_AND_PLACE & changes.keys()
    ):
        raise ActivityAlreadyStarted()
    if "team_id" in changes:
        await team_in_region(session, region_id=staff.region_id, team_id=changes["team_id"])
    if "project_id" in changes:
        await project_in_region(
            session, region_id=staff.region_id, project_id=changes["project_id"]
        )
    _check_times(
        _Times(
            changes.get("starts_at", activity.starts_at),
            changes.get("ends_at", activity.ends_at),
            changes.get("signup_opens_at", activity.signup_opens_at),
            changes.get("signup_closes_at", activity.signup_closes_at),
        )
    )
    if "capacity" in changes:
        capacity = changes.pop("capacity")
        # Lowering the capacity races with sign-ups: let the database compare.
        if not await repository.set_capacity(session, activity_id=activity.id, capacity=capacity):
            raise CapacityBelowSignups()
        await session.refresh(activity)
    for name, value in changes.items():
        setattr(activity, name, value)
    await session.flush()
    return activity_out(activity, exact=True)


async def publish_activity(
    session: AsyncSession, *, staff: StaffContext, activity_id: uuid.UUID
) -> schemas.Activity:
    activity = await activity_for_organizer(session, staff=staff, activity_id=activity_id)
    if activity.status != ActivityStatus.draft:
        raise ActivityStateConflict(f"Only a draft can be published; this one is {activity.status}")
    now = clock.now()
    if activity.ends_at <= now:
        raise ActivityTimesInvalid("An activity that has already ended cannot be published")
    activity.status = ActivityStatus.published
    activity.published_at = now
    await session.flush()
    return activity_out(activity, exact=True)


ACTIVITY_CANCELLED = "activity.cancelled"


async def cancel_activity(
    session: AsyncSession, *, staff: StaffContext, activity_id: uuid.UUID, reason: str
) -> schemas.Activity:
    activity = await activity_for_organizer(session, staff=staff, activity_id=activity_id)
    if activity.status not in (ActivityStatus.draft, ActivityStatus.published):
        raise ActivityStateConflict(f"A {activity.status} activity cannot be cancelled")
    if await repository.has_attendance(
        session, region_id=activity.region_id, activity_id=activity.id
    ):
        raise ActivityHasAttendances()
    activity.status = ActivityStatus.cancelled
    activity.cancelled_at = clock.now()
    activity.cancel_reason = reason
    await session.flush()
    await outbox.emit(
        session,
        region_id=activity.region_id,
        topic=ACTIVITY_CANCELLED,
        payload={
            "activity_id": str(activity.id),
            "org_unit_id": str(activity.org_unit_id),
            "title": activity.title,
            "starts_at": activity.starts_at.isoformat(),
            "reason": reason,
            "cancelled_at": activity.cancelled_at.isoformat(),
            "cancelled_by": str(staff.id),
        },
    )
    return activity_out(activity, exact=True)
