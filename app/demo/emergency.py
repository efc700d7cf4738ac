"""The demo's grid emergency team (网格应急) and the flood drill it turned out for, through
the services a station's staff and its volunteers use (`app.emergency`):

- the institute admin of 黎里镇 makes 汾湖湾村's lakeside point (点) and gives it a grid, a
  polygon in GCJ-02 around it; the demo's volunteers enrol in its team with their skills
  and when they can come, and he confirms them;
- a few days ago he raises a 防汛演练 for the grid: each member is told, most answer
  coming with an ETA, one cannot come, one never answers; those coming check in at the
  muster by its code and out when the exercise is over; he stands the drill down and
  approves their hours the next morning, so the drill is training on their service
  record and its call-out and stand-down are in their inboxes.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.db import Database
from app.demo.activities import Visit, approve_hours, attend_by_code
from app.demo.timeline import Calendar, scene, staff, unit, volunteer
from app.emergency import schemas
from app.emergency import service as emergency
from app.emergency.models import Alert, AlertKind, Answer, Availability, Grid, Skill
from app.orgs import schemas as org_schemas
from app.orgs import service as orgs
from app.orgs.models import Region, UnitKind

STATION = "汾湖湾村实践站"
POINT = "汾湖湾村临湖网格点"
POINT_ADDRESS = "吴江区黎里镇汾湖湾村临湖组"
POINT_AT = (30.9531, 120.7583)  # GCJ-02, on the lake shore east of the village
# The grid: the lakeside hamlets, some 600 m by 500 m around the point, clockwise.
GRID_POLYGON = [
    (30.9556, 120.7552),
    (30.9554, 120.7617),
    (30.9509, 120.7620),
    (30.9504, 120.7556),
]
STAFF = "xujianping"  # 黎里镇's institute admin: his roles reach the station and its point
DRILL_MESSAGE = (
    "防汛演练：模拟汾湖水位超警戒，临湖组需转移老人并加固堤段。"
    "请网格应急队员带好雨具，到临湖组文化广场集结。本次为演练。"
)
MUSTER_NAME = "临湖组文化广场"
MUSTER_ADDRESS = "吴江区黎里镇汾湖湾村临湖组文化广场"
MUSTER_AT = (30.9528, 120.7579)
STAND_DOWN_REASON = "演练结束：人员转移与沙袋加固科目完成，感谢各位队员。"


@dataclass(frozen=True)
class Member:
    login_code: str
    skills: list[Skill]
    availability: list[Availability]
    # Their answer to the drill: minutes until they arrive, "not coming", or None (no answer).
    eta_minutes: int | str | None
    # When they check in and out of the muster (local "HH:MM"), if they came.
    visit: tuple[str, str] | None = None


NOT_COMING = "not coming"
TEAM = [
    Member(
        "laozhang",
        [Skill.driving, Skill.electrician],
        [Availability.anytime],
        20,
        ("08:52", "11:20"),
    ),
    Member(
        "xiaohong",
        [Skill.first_aid, Skill.medical],
        [Availability.evenings, Availability.weekends],
        25,
        ("08:58", "11:22"),
    ),
    Member(
        "xiaoming",
        [Skill.swimming, Skill.logistics],
        [Availability.weekdays, Availability.weekends],
        15,
        ("08:49", "11:25"),
    ),
    Member(
        "xiaoyu",
        [Skill.first_aid, Skill.logistics],
        [Availability.weekends],
        30,
        ("09:06", "11:18"),
    ),
    # On the 7:40 shift at the 卫生院 that morning.
    Member("guifang", [Skill.medical], [Availability.weekdays, Availability.evenings], NOT_COMING),
    # Saw the call-out too late to answer.
    Member("haoran", [Skill.swimming, Skill.driving], [Availability.nights], None),
]
DRILL_DAYS_AGO = 5


async def tell(db: Database, cal: Calendar, region: Region) -> uuid.UUID:
    """The grid, its team and the drill, as lived; returns the drill's alert id."""
    enrolled = cal.days_ago(DRILL_DAYS_AGO + 9)
    async with scene(db, cal.at(enrolled, "09:30")) as session:
        admin = await staff(session, STAFF)
        station = await unit(session, region.id, STATION)
        point = await orgs.create_unit(
            session,
            staff=admin,
            data=org_schemas.OrgUnitCreate(
                parent_id=station.id,
                kind=UnitKind.point,
                name=POINT,
                address=POINT_ADDRESS,
                latitude=POINT_AT[0],
                longitude=POINT_AT[1],
            ),
        )
        grid = await emergency.define_grid(
            session,
            staff=admin,
            data=schemas.GridCreate(
                org_unit_id=point.id,
                area=schemas.PolygonArea(
                    shape="polygon",
                    points=[
                        schemas.Point(latitude=lat, longitude=lng) for lat, lng in GRID_POLYGON
                    ],
                ),
            ),
        )
    enrolments = []
    for i, member in enumerate(TEAM):
        asked = cal.at(enrolled, "19:00") + timedelta(hours=3 * i, minutes=11 * i)
        async with scene(db, asked) as session:
            enrolment = await emergency.enrol(
                session,
                volunteer=await volunteer(session, member.login_code),
                grid_id=grid.id,
                data=schemas.EnrolmentCreate(
                    skills=member.skills, availability=member.availability
                ),
            )
        enrolments.append(enrolment.id)
    async with scene(db, cal.at(enrolled + timedelta(days=2), "10:15")) as session:
        admin = await staff(session, STAFF)
        for enrolment_id in enrolments:
            await emergency.confirm(
                session, staff=admin, enrolment_id=enrolment_id, reason="核实技能，纳入网格应急队"
            )

    day = cal.days_ago(DRILL_DAYS_AGO)
    async with scene(db, cal.at(day, "08:20")) as session:
        board = await emergency.raise_alert(
            session,
            staff=await staff(session, STAFF),
            data=schemas.AlertCreate(
                grid_ids=[grid.id],
                kind=AlertKind.flood,
                drill=True,
                message=DRILL_MESSAGE,
                muster=schemas.MusterPoint(
                    name=MUSTER_NAME,
                    address=MUSTER_ADDRESS,
                    latitude=MUSTER_AT[0],
                    longitude=MUSTER_AT[1],
                ),
                muster_by=cal.at(day, "09:10"),
                needed_total=4,
                needed_skills={Skill.first_aid: 1, Skill.swimming: 1, Skill.driving: 1},
                escalate_after_seconds=1800,
            ),
            escalate_after_seconds=1800,
        )
    for i, member in enumerate(TEAM):
        if member.eta_minutes is None:
            continue
        async with scene(db, cal.at(day, "08:22") + timedelta(minutes=3 * i)) as session:
            person = await volunteer(session, member.login_code)
            await emergency.answer(
                session,
                region_id=person.region_id,
                volunteer_id=person.id,
                alert_id=board.id,
                data=schemas.AnswerCreate(answer=Answer.not_coming)
                if member.eta_minutes == NOT_COMING
                else schemas.AnswerCreate(answer=Answer.coming, eta_minutes=member.eta_minutes),
            )
    await attend_by_code(
        db,
        cal,
        board.activity_id,
        day,
        [Visit(m.login_code, *m.visit) for m in TEAM if m.visit is not None],
        organizer=STAFF,
    )
    async with scene(db, cal.at(day, "11:35")) as session:
        await emergency.stand_down(
            session, staff=await staff(session, STAFF), alert_id=board.id, reason=STAND_DOWN_REASON
        )
    await approve_hours(
        db, cal, board.activity_id, day + timedelta(days=1), "09:40", organizer=STAFF
    )
    return board.id


async def summary(session: AsyncSession, region: Region) -> dict[str, object] | None:
    """The grid and its drill, for `describe`."""
    grid = await session.scalar(select(Grid).where(Grid.region_id == region.id))
    if grid is None:
        return None
    drill = await session.scalar(
        select(Alert)
        .where(Alert.region_id == region.id, Alert.drill.is_(True))
        .order_by(Alert.raised_at.desc())
    )
    return {
        "grid_id": str(grid.id),
        "point": POINT,
        "team": [m.login_code for m in TEAM],
        "drill_alert_id": str(drill.id) if drill else None,
        "drill_status": str(drill.status) if drill else None,
        "staff": STAFF,
    }
