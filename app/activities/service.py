"""Projects, activities and sign-ups: who may create and change them, the edit rules,
the listings (by unit, category, date and distance), capacity under concurrency, and
the per-region check-in policy.

Check-in and check-out live in `app.activities.checkin`; hours in `app.activities.hours`.
"""

from __future__ import annotations

import math
import secrets
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Select, and_, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from app.activities import geo, repository, schemas
from app.activities.errors import (
    ActivityAlreadyStarted,
    ActivityCancelled,
    ActivityFieldRequired,
    ActivityFull,
    ActivityHasAttendances,
    ActivityNotEditable,
    ActivityNotFound,
    ActivityStateConflict,
    ActivityTeamInvalid,
    ActivityTimesInvalid,
    AlreadyCheckedIn,
    AlreadySignedUp,
    CapacityBelowSignups,
    ProjectNotFound,
    SignupCancelTooLate,
    SignupClosed,
    SignupNotFound,
    SignupNotOpen,
)
from app.activities.models import (
    Activity,
    ActivityStatus,
    Attendance,
    Project,
    RoundingMode,
    Signup,
    SignupStatus,
)
from app.core import clock
from app.core.errors import Forbidden
from app.core.pagination import (
    Page,
    PageParams,
    after_keyset,
    decode_cursor,
    decode_keyset,
    encode_cursor,
    keyset_cursor,
    parse_cursor_id,
    parse_cursor_number,
)
from app.identity.principals import StaffContext
from app.orgs import service as orgs
from app.orgs.authz import require_center_admin, require_on_unit
from app.orgs.models import OrgUnit, Team, TeamCategory
from app.volunteers.models import Volunteer

# Of a started hour, fewer minutes than this earn nothing, then half an hour, then the hour.
HALF_HOUR_FROM = 15
FULL_HOUR_FROM = 45
TIME_AND_PLACE = frozenset({"starts_at", "ends_at", "latitude", "longitude", "address", "radius_m"})
# Who may list activities of statuses other than these: staff, on their units.
PUBLIC_STATUSES = frozenset(
    {ActivityStatus.published, ActivityStatus.finished, ActivityStatus.cancelled}
)
MAX_DISTANCE_KM = 200
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


# The contract with hours: lookups, durations, rounding and the organizer check.


async def get_activity(
    session: AsyncSession, *, region_id: uuid.UUID, activity_id: uuid.UUID
) -> Activity:
    """The activity, or 404 when it does not exist or belongs to another region."""
    activity = await session.get(Activity, activity_id)
    if activity is None or activity.region_id != region_id:
        raise ActivityNotFound()
    return activity


async def volunteer_in_reach(
    session: AsyncSession, *, staff: StaffContext, volunteer_id: uuid.UUID
) -> bool:
    """Whether a staff member may see a volunteer of their region: a center admin sees
    every one, other staff those who signed up with a unit their roles reach."""
    if staff.is_center_admin:
        return True
    return await repository.signed_up_under(
        session,
        region_id=staff.region_id,
        volunteer_id=volunteer_id,
        unit_paths=staff.unit_paths,
    )


def duration_minutes(activity: Activity) -> int:
    return int((activity.ends_at - activity.starts_at).total_seconds() // 60)


def cap_minutes(activity: Activity) -> int:
    """Most minutes one attendance earns: the activity's cap, never more than its duration."""
    duration = duration_minutes(activity)
    return min(activity.cap_minutes, duration) if activity.cap_minutes else duration


def round_minutes(raw_minutes: int, activity: Activity) -> int:
    """Minutes credited for `raw_minutes` on site, by the activity's rule, capped."""
    raw = max(0, raw_minutes)
    if activity.rounding_mode == RoundingMode.half_hour:
        hours, rest = divmod(raw, 60)
        rounded = hours * 60
        if rest >= FULL_HOUR_FROM:
            rounded += 60
        elif rest >= HALF_HOUR_FROM:
            rounded += 30
    else:
        rounded = raw
    return min(rounded, cap_minutes(activity))


async def organizer_unit_check(
    session: AsyncSession, *, staff: StaffContext, activity: Activity
) -> None:
    """403 unless the staff member's roles reach the activity's unit; 404 across regions."""
    if activity.region_id != staff.region_id:
        raise ActivityNotFound()
    unit = await orgs.unit_in_region(
        session, region_id=activity.region_id, unit_id=activity.org_unit_id
    )
    require_on_unit(staff, unit)


async def activity_for_organizer(
    session: AsyncSession, *, staff: StaffContext, activity_id: uuid.UUID
) -> Activity:
    activity = await get_activity(session, region_id=staff.region_id, activity_id=activity_id)
    await organizer_unit_check(session, staff=staff, activity=activity)
    return activity


async def visible_activity(
    session: AsyncSession, *, region_id: uuid.UUID, activity_id: uuid.UUID
) -> Activity:
    """An activity a volunteer may see: anything but a draft."""
    activity = await get_activity(session, region_id=region_id, activity_id=activity_id)
    if activity.status == ActivityStatus.draft:
        raise ActivityNotFound()
    return activity


_ACTIVITY_FIELDS = tuple(
    name for name in schemas.Activity.model_fields if name not in ("places_left", "distance_m")
)


# What volunteers and the public see of the venue: enough for a map and directions, not
# the exact point and radius a relayed code plus a spoofed position would aim at.
PUBLIC_COORDINATE_DECIMALS = 3
PUBLIC_RADIUS_STEP_M = 100


def activity_out(
    activity: Activity, *, exact: bool, distance_m: float | None = None
) -> schemas.Activity:
    """The activity as its reader may see it: `exact` (the region's staff) with the venue's
    point and radius, otherwise with both coarsened."""
    fields = {name: getattr(activity, name) for name in _ACTIVITY_FIELDS}
    if not exact:
        fields["latitude"] = round(activity.latitude, PUBLIC_COORDINATE_DECIMALS)
        fields["longitude"] = round(activity.longitude, PUBLIC_COORDINATE_DECIMALS)
        fields["radius_m"] = -(-activity.radius_m // PUBLIC_RADIUS_STEP_M) * PUBLIC_RADIUS_STEP_M
    return schemas.Activity.model_validate(
        {
            **fields,
            "places_left": max(0, activity.capacity - activity.signed_up),
            "distance_m": round(distance_m, 1) if distance_m is not None else None,
        }
    )


# Projects


async def _team_in_region(
    session: AsyncSession, *, region_id: uuid.UUID, team_id: uuid.UUID | None
) -> None:
    if team_id is None:
        return
    team = await session.get(Team, team_id)
    if team is None or team.region_id != region_id:
        raise ActivityTeamInvalid()


async def _project_in_region(
    session: AsyncSession, *, region_id: uuid.UUID, project_id: uuid.UUID | None
) -> Project | None:
    if project_id is None:
        return None
    project = await session.get(Project, project_id)
    if project is None or project.region_id != region_id:
        raise ProjectNotFound()
    return project


async def create_project(
    session: AsyncSession, *, staff: StaffContext, data: schemas.ProjectCreate
) -> schemas.Project:
    await orgs.unit_for_staff(session, staff=staff, unit_id=data.org_unit_id)
    await _team_in_region(session, region_id=staff.region_id, team_id=data.team_id)
    project = Project(
        region_id=staff.region_id,
        org_unit_id=data.org_unit_id,
        team_id=data.team_id,
        title=data.title,
        description=data.description,
        category=data.category,
        created_by=staff.id,
    )
    session.add(project)
    await session.flush()
    return schemas.Project.model_validate(project)


async def get_project(
    session: AsyncSession, *, region_id: uuid.UUID, project_id: uuid.UUID
) -> schemas.Project:
    project = await _project_in_region(session, region_id=region_id, project_id=project_id)
    assert project is not None
    return schemas.Project.model_validate(project)


async def update_project(
    session: AsyncSession,
    *,
    staff: StaffContext,
    project_id: uuid.UUID,
    data: schemas.ProjectUpdate,
) -> schemas.Project:
    project = await _project_in_region(session, region_id=staff.region_id, project_id=project_id)
    assert project is not None
    await orgs.unit_for_staff(session, staff=staff, unit_id=project.org_unit_id)
    for name in data.model_fields_set:
        value = getattr(data, name)
        if value is not None:
            setattr(project, name, value)
    await session.flush()
    return schemas.Project.model_validate(project)


async def _subtree_path(
    session: AsyncSession, *, region_id: uuid.UUID, unit_id: uuid.UUID | None
) -> str | None:
    if unit_id is None:
        return None
    unit = await orgs.unit_in_region(session, region_id=region_id, unit_id=unit_id)
    return unit.path


async def list_projects(
    session: AsyncSession,
    *,
    region_id: uuid.UUID,
    unit_id: uuid.UUID | None,
    category: TeamCategory | None,
    page: PageParams,
) -> Page[schemas.Project]:
    query = select(Project).where(Project.region_id == region_id)
    path = await _subtree_path(session, region_id=region_id, unit_id=unit_id)
    if path is not None:
        query = query.join(OrgUnit, OrgUnit.id == Project.org_unit_id).where(
            OrgUnit.path.startswith(path, autoescape=True)
        )
    if category is not None:
        query = query.where(Project.category == category)
    after = decode_keyset(page.cursor)
    if after is not None:
        query = query.where(after_keyset(Project.created_at, Project.id, after))
    rows = (
        await session.scalars(query.order_by(Project.created_at, Project.id).limit(page.limit + 1))
    ).all()
    items = [schemas.Project.model_validate(p) for p in rows[: page.limit]]
    next_cursor = (
        keyset_cursor(rows[page.limit - 1].created_at, rows[page.limit - 1].id)
        if len(rows) > page.limit
        else None
    )
    return Page(items=items, next_cursor=next_cursor)


# Activities


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
    await _team_in_region(session, region_id=staff.region_id, team_id=data.team_id)
    await _project_in_region(session, region_id=staff.region_id, project_id=data.project_id)
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
        await _team_in_region(session, region_id=staff.region_id, team_id=changes["team_id"])
    if "project_id" in changes:
        await _project_in_region(
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
        result = await session.execute(
            update(Activity)
            .where(Activity.id == activity.id, Activity.signed_up <= capacity)
            .values(capacity=capacity)
            .execution_options(synchronize_session=False)
        )
        if _rowcount(result) == 0:
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


async def cancel_activity(
    session: AsyncSession, *, staff: StaffContext, activity_id: uuid.UUID, reason: str
) -> schemas.Activity:
    activity = await activity_for_organizer(session, staff=staff, activity_id=activity_id)
    if activity.status not in (ActivityStatus.draft, ActivityStatus.published):
        raise ActivityStateConflict(f"A {activity.status} activity cannot be cancelled")
    has_attendance = await session.scalar(
        select(Attendance.id)
        .where(Attendance.region_id == activity.region_id, Attendance.activity_id == activity.id)
        .limit(1)
    )
    if has_attendance is not None:
        raise ActivityHasAttendances()
    activity.status = ActivityStatus.cancelled
    activity.cancelled_at = clock.now()
    activity.cancel_reason = reason
    await session.flush()
    return activity_out(activity, exact=True)


async def get_activity_for(
    session: AsyncSession,
    *,
    region_id: uuid.UUID,
    staff: StaffContext | None,
    activity_id: uuid.UUID,
) -> schemas.Activity:
    activity = await get_activity(session, region_id=region_id, activity_id=activity_id)
    if activity.status == ActivityStatus.draft:
        if staff is None:
            raise ActivityNotFound()
        await organizer_unit_check(session, staff=staff, activity=activity)
    return activity_out(activity, exact=staff is not None)


@dataclass(frozen=True)
class ActivityFilters:
    unit_id: uuid.UUID | None = None
    project_id: uuid.UUID | None = None
    category: TeamCategory | None = None
    status: ActivityStatus = ActivityStatus.published
    starts_from: datetime | None = None
    starts_until: datetime | None = None
    lat: float | None = None
    lng: float | None = None
    within_km: float = 50.0


async def list_activities(
    session: AsyncSession,
    *,
    region_id: uuid.UUID,
    staff: StaffContext | None,
    filters: ActivityFilters,
    page: PageParams,
) -> Page[schemas.Activity]:
    """Activities of the region, soonest first, or nearest first when a point is given."""
    query = select(Activity).where(
        Activity.region_id == region_id, Activity.status == filters.status
    )
    needs_unit = filters.unit_id is not None or filters.status not in PUBLIC_STATUSES
    if needs_unit:
        query = query.join(OrgUnit, OrgUnit.id == Activity.org_unit_id)
    if filters.status not in PUBLIC_STATUSES:
        # Drafts: only those of units the staff member's roles reach.
        if staff is None:
            raise Forbidden("Only staff may list drafts")
        paths = [g.unit_path for g in staff.grants]
        if not paths:
            return Page(items=[], next_cursor=None)
        query = query.where(or_(*(OrgUnit.path.startswith(p, autoescape=True) for p in paths)))
    path = await _subtree_path(session, region_id=region_id, unit_id=filters.unit_id)
    if path is not None:
        query = query.where(OrgUnit.path.startswith(path, autoescape=True))
    if filters.project_id is not None:
        query = query.where(Activity.project_id == filters.project_id)
    if filters.category is not None:
        query = query.where(Activity.category == filters.category)
    starts_from = filters.starts_from
    if starts_from is None and filters.status == ActivityStatus.published:
        # What volunteers browse is what is still ahead: a list whose cost does not grow
        # with the region's history.
        starts_from = clock.now()
    if starts_from is not None:
        query = query.where(Activity.starts_at >= starts_from)
    if filters.starts_until is not None:
        query = query.where(Activity.starts_at < filters.starts_until)
    if filters.lat is not None and filters.lng is not None:
        return await _list_by_distance(session, query, filters, page, exact=staff is not None)
    after = decode_keyset(page.cursor)
    if after is not None:
        query = query.where(after_keyset(Activity.starts_at, Activity.id, after))
    rows = (
        await session.scalars(query.order_by(Activity.starts_at, Activity.id).limit(page.limit + 1))
    ).all()
    items = [activity_out(a, exact=staff is not None) for a in rows[: page.limit]]
    next_cursor = None
    if len(rows) > page.limit:
        last = rows[page.limit - 1]
        next_cursor = keyset_cursor(last.starts_at, last.id)
    return Page(items=items, next_cursor=next_cursor)


async def _list_by_distance(
    session: AsyncSession,
    query: Select[Activity],
    filters: ActivityFilters,
    page: PageParams,
    *,
    exact: bool,
) -> Page[schemas.Activity]:
    """Nearest first, paged in SQL: the squared distance on the local plane is the sort
    key and the cursor, so a page costs the same however many activities the box holds."""
    assert filters.lat is not None
    assert filters.lng is not None
    box = geo.bounding_box(filters.lat, filters.lng, filters.within_km * 1000)
    plane = geo.local_plane(filters.lat, filters.lng)
    dy = (Activity.latitude - plane.lat) * plane.km_per_lat
    dx = (Activity.longitude - plane.lng) * plane.km_per_lng
    km2 = (dx * dx + dy * dy).label("km2")
    ranked = query.add_columns(km2).where(
        Activity.latitude.between(box.min_lat, box.max_lat),
        Activity.longitude.between(box.min_lng, box.max_lng),
        km2 <= filters.within_km**2,
    )
    after = decode_cursor(page.cursor, arity=2)
    if after is not None:
        last_km2, last_id = parse_cursor_number(after[0]), parse_cursor_id(after[1])
        ranked = ranked.where(or_(km2 > last_km2, and_(km2 == last_km2, Activity.id > last_id)))
    rows = (await session.execute(ranked.order_by(km2, Activity.id).limit(page.limit + 1))).all()
    chosen = rows[: page.limit]
    next_cursor = None
    if len(rows) > page.limit:
        next_cursor = encode_cursor(chosen[-1][1], chosen[-1][0].id)
    return Page(
        items=[
            activity_out(activity, exact=exact, distance_m=round(math.sqrt(d2) * 1000, 1))
            for activity, d2 in chosen
        ],
        next_cursor=next_cursor,
    )


# Sign-ups


def _rowcount(result: Any) -> int:
    return int(getattr(result, "rowcount", 0) or 0)


async def take_place(session: AsyncSession, *, activity_id: uuid.UUID) -> bool:
    """Take one place if one is left. The database compares and increments in one
    statement, so concurrent sign-ups can never overfill the activity."""
    result = await session.execute(
        update(Activity)
        .where(Activity.id == activity_id, Activity.signed_up < Activity.capacity)
        .values(signed_up=Activity.signed_up + 1)
        .execution_options(synchronize_session=False)
    )
    return _rowcount(result) == 1


async def _free_place(session: AsyncSession, *, activity_id: uuid.UUID) -> None:
    await session.execute(
        update(Activity)
        .where(Activity.id == activity_id, Activity.signed_up > 0)
        .values(signed_up=Activity.signed_up - 1)
        .execution_options(synchronize_session=False)
    )


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
    if not await take_place(session, activity_id=activity.id):
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
    signup = await session.scalar(
        select(Signup)
        .where(
            Signup.region_id == volunteer.region_id,
            Signup.activity_id == activity.id,
            Signup.volunteer_id == volunteer.id,
            Signup.status == SignupStatus.active,
        )
        .with_for_update()
    )
    if signup is None:
        raise SignupNotFound()
    if clock.now() >= activity.starts_at:
        raise SignupCancelTooLate()
    checked_in = await session.scalar(
        select(Attendance.id).where(
            Attendance.region_id == volunteer.region_id,
            Attendance.activity_id == activity.id,
            Attendance.volunteer_id == volunteer.id,
        )
    )
    if checked_in is not None:
        raise AlreadyCheckedIn("You have checked in; the sign-up can no longer be cancelled")
    signup.status = SignupStatus.cancelled
    signup.cancelled_at = clock.now()
    await session.flush()
    if activity.status == ActivityStatus.published:
        await _free_place(session, activity_id=activity.id)


async def list_signups(
    session: AsyncSession, *, staff: StaffContext, activity_id: uuid.UUID, page: PageParams
) -> Page[schemas.SignupWithVolunteer]:
    activity = await activity_for_organizer(session, staff=staff, activity_id=activity_id)
    query = (
        select(Signup, Volunteer.name, Volunteer.volunteer_no)
        .join(Volunteer, Volunteer.id == Signup.volunteer_id)
        .where(Signup.region_id == activity.region_id, Signup.activity_id == activity.id)
    )
    after = decode_keyset(page.cursor)
    if after is not None:
        query = query.where(after_keyset(Signup.signed_up_at, Signup.id, after))
    rows = (
        await session.execute(query.order_by(Signup.signed_up_at, Signup.id).limit(page.limit + 1))
    ).all()
    items = [
        schemas.SignupWithVolunteer.model_validate(
            {
                **schemas.Signup.model_validate(signup).model_dump(),
                "volunteer_name": name,
                "volunteer_no": number,
            }
        )
        for signup, name, number in rows[: page.limit]
    ]
    next_cursor = None
    if len(rows) > page.limit:
        last = rows[page.limit - 1][0]
        next_cursor = keyset_cursor(last.signed_up_at, last.id)
    return Page(items=items, next_cursor=next_cursor)


# The region's check-in policy


def policy_out(policy: repository.Policy) -> schemas.ActivityPolicy:
    return schemas.ActivityPolicy(
        checkin_opens_before_min=policy.checkin_opens_before_min,
        checkout_closes_after_min=policy.checkout_closes_after_min,
        daily_cap_minutes=policy.daily_cap_minutes,
        impossible_travel_km=policy.impossible_travel_km,
        shared_coordinates_threshold=policy.shared_coordinates_threshold,
    )


async def get_policy(session: AsyncSession, *, region_id: uuid.UUID) -> schemas.ActivityPolicy:
    return policy_out(await repository.policy_for(session, region_id=region_id))


async def open_policy(session: AsyncSession, *, region_id: uuid.UUID) -> None:
    """Give a new region its policy row: the defaults, and the key of its volunteers'
    personal codes."""
    await repository.policy_row(session, region_id=region_id)


async def update_policy(
    session: AsyncSession, *, staff: StaffContext, data: schemas.ActivityPolicyUpdate
) -> schemas.ActivityPolicy:
    require_center_admin(staff)
    row = await repository.policy_row(session, region_id=staff.region_id)
    for name in data.model_fields_set:
        value = getattr(data, name)
        if value is not None:
            setattr(row, name, value)
    await session.flush()
    return policy_out(repository.Policy.of(row))
