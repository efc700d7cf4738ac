"""Sign-ups: a place taken under concurrency (the database compares), cancelled before
the start and before any check-in, and the organizer's list."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from app.activities import repository, schemas
from app.activities.errors import (
    ActivityCancelled,
    ActivityFull,
    AlreadyCheckedIn,
    AlreadySignedUp,
    SignupCancelTooLate,
    SignupClosed,
    SignupNotFound,
    SignupNotOpen,
)
from app.activities.models import Activity, ActivityStatus, Signup, SignupStatus
from app.activities.service.contract import (
    activity_for_organizer,
    visible_activity,
    with_volunteers,
)
from app.core import clock
from app.core.pagination import Page, PageParams, decode_keyset
from app.identity.principals import StaffContext
from app.volunteers.models import Volunteer


async def take_signup(
    session: AsyncSession,
    *,
    activity: Activity,
    volunteer_id: uuid.UUID,
    signup: Signup | None,
    walk_in: bool,
    now: datetime,
) -> Signup:
    """Take a place (ActivityFull when none is left) and make the volunteer's sign-up,
    new or a cancelled one again, active."""
    if not await repository.take_place(session, activity_id=activity.id):
        raise ActivityFull()
    if signup is None:
        signup = Signup(
            region_id=activity.region_id, activity_id=activity.id, volunteer_id=volunteer_id
        )
        session.add(signup)
    signup.status = SignupStatus.active
    signup.walk_in = walk_in
    signup.signed_up_at = now
    signup.cancelled_at = None
    return signup


async def sign_up(
    session: AsyncSession, *, volunteer: Volunteer, activity_id: uuid.UUID
) -> schemas.Signup:
    activity = await visible_activity(
        session, region_id=volunteer.region_id, activity_id=activity_id
    )
    if activity.status == ActivityStatus.cancelled:
        raise ActivityCancelled()
    now = clock.now()
    if activity.status != ActivityStatus.published or now >= (
        activity.signup_closes_at or activity.starts_at
    ):
        raise SignupClosed()
    if activity.signup_opens_at is not None and now < activity.signup_opens_at:
        raise SignupNotOpen()
    signup = await repository.signup_of(session, activity_id=activity.id, volunteer_id=volunteer.id)
    if signup is not None and signup.status == SignupStatus.active:
        raise AlreadySignedUp()
    signup = await take_signup(
        session, activity=activity, volunteer_id=volunteer.id, signup=signup, walk_in=False, now=now
    )
    try:
        await session.flush()
    except IntegrityError as exc:
        # A concurrent sign-up of the same volunteer committed first.
        raise AlreadySignedUp() from exc
    return schemas.Signup.model_validate(signup)


async def cancel_signup(
    session: AsyncSession, *, volunteer: Volunteer, activity_id: uuid.UUID
) -> None:
    activity = await visible_activity(
        session, region_id=volunteer.region_id, activity_id=activity_id
    )
    signup = await repository.active_signup_locked(
        session, region_id=volunteer.region_id, activity_id=activity.id, volunteer_id=volunteer.id
    )
    if signup is None:
        raise SignupNotFound()
    if clock.now() >= activity.starts_at:
        raise SignupCancelTooLate()
    if await repository.has_checked_in(
        session, region_id=volunteer.region_id, activity_id=activity.id, volunteer_id=volunteer.id
    ):
        raise AlreadyCheckedIn("You have checked in; the sign-up can no longer be cancelled")
    signup.status = SignupStatus.cancelled
    signup.cancelled_at = clock.now()
    await session.flush()
    if activity.status == ActivityStatus.published:
        await repository.free_place(session, activity_id=activity.id)


async def list_signups(
    session: AsyncSession, *, staff: StaffContext, activity_id: uuid.UUID, page: PageParams
) -> Page[schemas.SignupWithVolunteer]:
    activity = await activity_for_organizer(session, staff=staff, activity_id=activity_id)
    rows = await repository.signups_page(
        session,
        region_id=activity.region_id,
        activity_id=activity.id,
        after=decode_keyset(page.cursor),
        limit=page.limit,
    )
    return with_volunteers(
        rows,
        page,
        base=schemas.Signup,
        schema=schemas.SignupWithVolunteer,
        at=lambda row: row.signed_up_at,
    )
