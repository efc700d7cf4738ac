"""The demo's activities, each through the organizer's and the volunteers' own steps:
planned and published a week ahead, signed up for, checked in and out on site (by the
activity's rotating code, or by the organizer scanning each volunteer's code where the
activity requires it), finished, and its hours approved."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date, timedelta

from sqlalchemy import select

from app.activities import checkin, repository
from app.activities import schemas as activity_schemas
from app.activities import service as activities
from app.activities.hours import decisions as hours_decisions
from app.activities.hours.models import HoursRecord, HoursStatus
from app.activities.models import Activity
from app.core.db import Database
from app.demo import cast
from app.demo.timeline import Calendar, deliver_events, scene, staff, unit, volunteer
from app.identity.principals import VolunteerRef
from app.orgs.models import Region


@dataclass(frozen=True)
class Visit:
    """One volunteer on site: when they checked in and out (local "HH:MM")."""

    login_code: str
    arrives: str
    leaves: str


async def plan(
    db: Database,
    cal: Calendar,
    region: Region,
    spec: cast.ActivitySpec,
    day: date,
    *,
    signups: list[str],
    upcoming: bool = False,
) -> uuid.UUID:
    """Created and published by its organizer a week before (an upcoming one: now), and
    signed up for since."""
    published = None if upcoming else cal.at(day - timedelta(days=7), "10:00")
    async with scene(db, published) as session:
        organizer = await staff(session, spec.organizer)
        station = await unit(session, region.id, spec.station)
        created = await activities.create_activity(
            session,
            staff=organizer,
            data=activity_schemas.ActivityCreate(
                org_unit_id=station.id,
                title=spec.title,
                description=spec.description,
                category=spec.category,
                starts_at=cal.at(day, spec.hours[0]),
                ends_at=cal.at(day, spec.hours[1]),
                latitude=station.latitude,
                longitude=station.longitude,
                address=spec.address,
                capacity=spec.capacity,
                walk_ins_allowed=spec.walk_ins_allowed,
                scan_required=spec.scan_required,
            ),
        )
        await activities.publish_activity(session, staff=organizer, activity_id=created.id)
    for i, login_code in enumerate(signups):
        signed = (
            None if published is None else published + timedelta(days=1, hours=10, minutes=7 * i)
        )
        async with scene(db, signed) as session:
            await activities.sign_up(
                session, volunteer=await volunteer(session, login_code), activity_id=created.id
            )
    return created.id


async def attend_by_code(
    db: Database,
    cal: Calendar,
    activity_id: uuid.UUID,
    day: date,
    visits: list[Visit],
    *,
    organizer: str | None = None,
) -> None:
    """Each volunteer scans the code on the organizer's screen, a few metres apart.
    `organizer`: who shows the code, for an activity not in `cast` (an alert's muster)."""
    for action in ("in", "out"):
        for i, visit in enumerate(visits):
            async with scene(
                db, cal.at(day, visit.arrives if action == "in" else visit.leaves)
            ) as session:
                activity = await session.get(Activity, activity_id)
                assert activity is not None
                shower = await staff(session, organizer or _organizer_of(activity))
                shown = await checkin.activity_code(session, staff=shower, activity_id=activity_id)
                person = await volunteer(session, visit.login_code)
                await repository.lock_volunteer(session, person.id)
                data = activity_schemas.CheckinRequest(
                    code=shown.code,
                    latitude=activity.latitude + 0.00012 * (i + 1),
                    longitude=activity.longitude - 0.00009 * (i + 1),
                    accuracy=12.0 + 4 * i,
                )
                ref = VolunteerRef(id=person.id, region_id=person.region_id)
                attend = checkin.check_in if action == "in" else checkin.check_out
                await attend(session, volunteer=ref, activity_id=activity_id, data=data)


async def attend_by_scan(
    db: Database, cal: Calendar, activity_id: uuid.UUID, day: date, visits: list[Visit]
) -> None:
    """The organizer scans each volunteer's personal code, at the door and on leaving."""
    for action in ("check_in", "check_out"):
        for visit in visits:
            when = cal.at(day, visit.arrives if action == "check_in" else visit.leaves)
            async with scene(db, when) as session:
                activity = await session.get(Activity, activity_id)
                assert activity is not None
                person = await volunteer(session, visit.login_code)
                shown = await checkin.personal_code(session, volunteer=person)
                organizer = await staff(session, _organizer_of(activity))
                await checkin.scan(
                    session,
                    staff=organizer,
                    activity_id=activity_id,
                    data=activity_schemas.ScanRequest(code=shown.code, action=action),
                )


async def finish(db: Database, cal: Calendar, activity_id: uuid.UUID, day: date, hhmm: str) -> None:
    async with scene(db, cal.at(day, hhmm)) as session:
        activity = await session.get(Activity, activity_id)
        assert activity is not None
        organizer = await staff(session, _organizer_of(activity))
        await checkin.finish_activity(session, staff=organizer, activity_id=activity_id)


async def approve_hours(
    db: Database,
    cal: Calendar,
    activity_id: uuid.UUID,
    day: date,
    hhmm: str,
    *,
    organizer: str | None = None,
) -> int:
    """The organizer (`organizer`, for an activity not in `cast`) approves the activity's
    pending hours in one go; the worker then issues their 良票. Returns how many were
    approved."""
    when = cal.at(day, hhmm)
    async with scene(db, when) as session:
        activity = await session.get(Activity, activity_id)
        assert activity is not None
        approver = await staff(session, organizer or _organizer_of(activity))
        pending = list(
            await session.scalars(
                select(HoursRecord.id)
                .where(
                    HoursRecord.activity_id == activity_id,
                    HoursRecord.status == HoursStatus.pending,
                )
                .order_by(HoursRecord.created_at)
            )
        )
        decided = await hours_decisions.decide_many(
            session, staff=approver, ids=pending, decision="approve", reason=None
        )
    await deliver_events(db, when + timedelta(seconds=5))
    return decided.succeeded


def _organizer_of(activity: Activity) -> str:
    for spec in (cast.GRID_CLEANUP, cast.CLINIC, cast.RIVER_PATROL, cast.SATURDAY, cast.TUTORING):
        if spec.title == activity.title:
            return spec.organizer
    raise RuntimeError(f"{activity.title!r} is not one of the demo's activities")
