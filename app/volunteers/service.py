"""Volunteer profiles: creation on first login, the real-name profile, masking."""

from __future__ import annotations

import secrets
import uuid

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.core import clock
from app.volunteers.models import Volunteer


def new_volunteer_no(region_code: str) -> str:
    """A volunteer number: region prefix, year, 8 random digits (unique by constraint)."""
    year = clock.now().year
    return f"{region_code[:4].upper()}{year}{secrets.randbelow(10**8):08d}"


async def find_by_openid(session: AsyncSession, openid: str) -> Volunteer | None:
    return await session.scalar(select(Volunteer).where(Volunteer.openid == openid))


async def create_volunteer(
    session: AsyncSession,
    *,
    region_id: uuid.UUID,
    region_code: str,
    openid: str,
    unionid: str | None = None,
    name: str | None = None,
) -> Volunteer:
    volunteer = Volunteer(
        region_id=region_id,
        openid=openid,
        unionid=unionid,
        volunteer_no=new_volunteer_no(region_code),
        name=name,
        skills=[],
        service_categories=[],
    )
    session.add(volunteer)
    await session.flush()
    return volunteer
