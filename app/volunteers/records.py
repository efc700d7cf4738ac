"""The volunteer's service record (志愿服务记录).

The record follows the groups of the 2020 national rules on volunteer service
records and certificates (志愿服务记录与证明出具办法): basic information, service,
training, commendations and evaluations. Groups the system keeps no data for yet
are empty lists with a declared item shape, so consumers can rely on it.

The service is the volunteer's approved hours, read from `app.activities.hours`; the
training, the drills (演练) they attended, from `app.activities.muster`; the star level
comes from `app.volunteers.stars`.
"""

from __future__ import annotations

import uuid

from sqlalchemy.ext.asyncio import AsyncSession

from app.activities import muster
from app.activities.hours import service as hours_service
from app.core import clock
from app.orgs.models import TEAM_CATEGORY_LABELS
from app.orgs.service import get_region
from app.volunteers import repository
from app.volunteers.errors import VolunteerNotFound
from app.volunteers.models import Volunteer
from app.volunteers.schemas import (
    BasicInformation,
    OrganizerUnit,
    PartnerServiceRecord,
    ServiceItem,
    ServiceRecord,
    ServiceSection,
    TrainingItem,
)
from app.volunteers.stars import star_summary, thresholds_for

_PERSONAL = {"basic_information": {"id_type", "id_number", "phone"}}


async def service_record_for_partner(
    session: AsyncSession, *, region_id: uuid.UUID, volunteer_id: uuid.UUID
) -> PartnerServiceRecord:
    """The record of a volunteer of the client's region, without the personal fields."""
    volunteer = await repository.in_region(session, region_id=region_id, volunteer_id=volunteer_id)
    if volunteer is None:
        raise VolunteerNotFound()
    record = await service_record(session, volunteer=volunteer)
    return PartnerServiceRecord.model_validate(record.model_dump(exclude=_PERSONAL))


async def service_record(session: AsyncSession, *, volunteer: Volunteer) -> ServiceRecord:
    region = await get_region(session, volunteer.region_id)
    entries = await hours_service.approved_service(
        session, region_id=volunteer.region_id, volunteer_id=volunteer.id
    )
    total = sum(entry.minutes for entry in entries)
    drills = await muster.attended_drills(
        session, region_id=volunteer.region_id, volunteer_id=volunteer.id
    )
    thresholds = await thresholds_for(session, region_id=volunteer.region_id)
    return ServiceRecord(
        generated_at=clock.now(),
        basic_information=BasicInformation(
            volunteer_id=volunteer.id,
            volunteer_no=volunteer.volunteer_no,
            name=volunteer.name,
            id_type=volunteer.id_type,
            id_number=volunteer.id_number,
            phone=volunteer.phone,
            skills=list(volunteer.skills),
            service_categories=list(volunteer.service_categories),
            region_id=region.id,
            region_name=region.name,
            registered_at=volunteer.created_at,
        ),
        service=ServiceSection(
            total_minutes=total,
            activity_count=len({entry.activity_id for entry in entries}),
            items=[
                ServiceItem(
                    hours_record_id=entry.hours_record_id,
                    activity_id=entry.activity_id,
                    title=entry.title,
                    category=entry.category,
                    category_label=TEAM_CATEGORY_LABELS[entry.category],
                    service_date=entry.service_date,
                    starts_at=entry.starts_at,
                    ends_at=entry.ends_at,
                    place=entry.address,
                    minutes=entry.minutes,
                    source=entry.source,
                    organizer=OrganizerUnit(id=entry.org_unit_id, name=entry.org_unit_name),
                )
                for entry in entries
            ],
        ),
        training=[
            TrainingItem(
                title=drill.title,
                organizer=drill.org_unit_name,
                trained_on=drill.trained_on,
                minutes=drill.minutes,
            )
            for drill in drills
        ],
        commendations=[],
        evaluations=[],
        star=star_summary(total, thresholds),
    )
