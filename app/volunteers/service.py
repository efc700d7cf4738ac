"""Volunteer profiles: creation on first login, the real-name profile, ID checks and
verification, masking.

ID numbers and phones are personal data: the owner sees them whole, every other
response shows them through `mask_id_number` / `mask_phone` (and, where even the
name is more than the reader needs, `mask_name`). Other features reuse these.

The ID number a volunteer types is a claim: it is checked for its format alone, never
against other volunteers', so that the answer to a claim cannot tell anyone whether a
citizen's number is registered. Staff who may read the volunteer verify the claim
against the document (`verify_id`); only there, to staff, is a number that another
volunteer of the region holds verified a conflict.
"""

from __future__ import annotations

import logging
import re
import uuid
from datetime import date

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from app.activities import service as activities
from app.core import clock
from app.identity.principals import StaffContext
from app.orgs.models import TeamCategory
from app.volunteers import repository, schemas
from app.volunteers.errors import IdNotClaimed, IdNumberInUse, IdNumberInvalid, VolunteerNotFound
from app.volunteers.models import IdType, Volunteer

log = logging.getLogger("liangpiao.volunteers")


# Masking


def mask_id_number(value: str | None) -> str | None:
    """Keeps a quarter at each end, at most 4 characters: 3201**********1234."""
    if value is None:
        return None
    keep = min(4, len(value) // 4)
    if keep == 0:
        return "*" * len(value)
    return value[:keep] + "*" * (len(value) - 2 * keep) + value[-keep:]


def mask_phone(value: str | None) -> str | None:
    """Keeps the carrier prefix and the last four digits: 138****5678."""
    if value is None:
        return None
    if len(value) < 8:
        return "*" * len(value)
    return value[:3] + "*" * (len(value) - 7) + value[-4:]


def mask_name(value: str | None) -> str | None:
    """Keeps the first and last character: 张*明, 张*, 欧**明."""
    if value is None:
        return None
    if len(value) <= 1:
        return "*" * len(value)
    if len(value) == 2:
        return value[0] + "*"
    return value[0] + "*" * (len(value) - 2) + value[-1]


# ID numbers

# ISO 7064 MOD 11-2, as GB 11643 applies it to the 18-digit resident ID.
_WEIGHTS = [2 ** (17 - i) % 11 for i in range(17)]
_CHECK_CHARACTERS = "10X98765432"
_RESIDENT_ID = re.compile(r"^[1-8][0-9]{16}[0-9X]$")
_FORMATS: dict[IdType, re.Pattern[str]] = {
    IdType.passport: re.compile(r"^[A-Z0-9]{5,17}$"),
    # 港澳居民来往内地通行证: H or M, 8 digits, and 2 more on older cards.
    IdType.hk_macao_permit: re.compile(r"^[HM][0-9]{8}([0-9]{2})?$"),
    # 台湾居民来往大陆通行证: 8 digits, 10 on older cards.
    IdType.taiwan_permit: re.compile(r"^[0-9]{8}([0-9]{2})?$"),
    # 外国人永久居留身份证: 3 letters and 12 digits (2004), or 18 characters from 9 (2017).
    IdType.foreign_permanent: re.compile(r"^([A-Z]{3}[0-9]{12}|9[0-9]{16}[0-9X])$"),
}


def check_character(first17: str) -> str:
    """The 18th character of a resident ID whose first 17 digits are `first17`."""
    total = sum(int(digit) * weight for digit, weight in zip(first17, _WEIGHTS, strict=True))
    return _CHECK_CHARACTERS[total % 11]


def _check_resident_id(number: str) -> None:
    if not _RESIDENT_ID.fullmatch(number):
        raise IdNumberInvalid("A resident ID is 17 digits and a digit or X")
    try:
        born = date(int(number[6:10]), int(number[10:12]), int(number[12:14]))
    except ValueError as exc:
        raise IdNumberInvalid("The birth date in the ID number is not a date") from exc
    if born.year < 1900 or born > clock.now().date():
        raise IdNumberInvalid("The birth date in the ID number is out of range")
    if check_character(number[:17]) != number[17]:
        raise IdNumberInvalid("The check digit of the ID number does not match")


def validate_id_number(id_type: IdType, id_number: str) -> str:
    """The ID number normalised (trimmed, upper case), or `IdNumberInvalid`."""
    number = id_number.strip().upper()
    if id_type is IdType.resident_id:
        _check_resident_id(number)
        return number
    if not _FORMATS[id_type].fullmatch(number):
        raise IdNumberInvalid(f"Not the format of a {id_type.value} number")
    # The 2017 permanent residence card carries the resident ID's check digit.
    if (
        id_type is IdType.foreign_permanent
        and len(number) == 18
        and check_character(number[:17]) != number[17]
    ):
        raise IdNumberInvalid("The check digit of the ID number does not match")
    return number


# Profiles


_CATEGORIES = {c.value for c in TeamCategory}


def _categories(stored: list[str]) -> list[TeamCategory]:
    return [TeamCategory(c) for c in stored if c in _CATEGORIES]


def my_profile(volunteer: Volunteer) -> schemas.MyProfile:
    return schemas.MyProfile(
        id=volunteer.id,
        region_id=volunteer.region_id,
        volunteer_no=volunteer.volunteer_no,
        name=volunteer.name,
        id_type=volunteer.id_type,
        id_number=volunteer.id_number,
        id_verified=volunteer.id_verified_at is not None,
        phone=volunteer.phone,
        skills=list(volunteer.skills),
        service_categories=_categories(volunteer.service_categories),
        created_at=volunteer.created_at,
        updated_at=volunteer.updated_at,
    )


async def get_for_client(
    session: AsyncSession, *, region_id: uuid.UUID, volunteer_id: uuid.UUID
) -> schemas.VolunteerProfile:
    """A volunteer of the client's region, without ID number or phone."""
    volunteer = await repository.in_region(session, region_id=region_id, volunteer_id=volunteer_id)
    if volunteer is None:
        raise VolunteerNotFound()
    return schemas.VolunteerProfile(
        id=volunteer.id,
        region_id=volunteer.region_id,
        volunteer_no=volunteer.volunteer_no,
        name=volunteer.name,
        skills=list(volunteer.skills),
        service_categories=_categories(volunteer.service_categories),
        created_at=volunteer.created_at,
        updated_at=volunteer.updated_at,
    )


def masked_view(volunteer: Volunteer) -> schemas.Volunteer:
    """The volunteer as anyone but the owner may see them."""
    return schemas.Volunteer(
        id=volunteer.id,
        region_id=volunteer.region_id,
        volunteer_no=volunteer.volunteer_no,
        name=volunteer.name,
        id_type=volunteer.id_type,
        id_number=mask_id_number(volunteer.id_number),
        id_verified=volunteer.id_verified_at is not None,
        phone=mask_phone(volunteer.phone),
        skills=list(volunteer.skills),
        service_categories=_categories(volunteer.service_categories),
        created_at=volunteer.created_at,
        updated_at=volunteer.updated_at,
    )


async def update_profile(
    session: AsyncSession, *, volunteer: Volunteer, changes: schemas.ProfileUpdate
) -> schemas.MyProfile:
    sent = changes.model_fields_set
    if "id_type" in sent:
        claim: tuple[IdType | None, str | None] = (None, None)
        if changes.id_type is not None and changes.id_number is not None:
            claim = (changes.id_type, validate_id_number(changes.id_type, changes.id_number))
        # Under the row's lock: a verification taken meanwhile is of the old claim.
        await repository.lock(session, volunteer)
        if claim != (volunteer.id_type, volunteer.id_number):
            volunteer.id_type, volunteer.id_number = claim
            # Staff verified the number they saw, not this one.
            volunteer.id_verified_at = None
            volunteer.id_verified_by = None
    if changes.name is not None:
        volunteer.name = changes.name
    if changes.skills is not None:
        volunteer.skills = list(changes.skills)
    if changes.service_categories is not None:
        volunteer.service_categories = [c.value for c in changes.service_categories]
    await session.flush()
    return my_profile(volunteer)


async def _reached(
    session: AsyncSession, *, staff: StaffContext, volunteer_id: uuid.UUID, for_update: bool
) -> Volunteer:
    """A volunteer the staff member's roles reach (`volunteer_in_reach`); any other, of
    this region or another, is 404 like one that does not exist."""
    volunteer = await repository.in_region(
        session, region_id=staff.region_id, volunteer_id=volunteer_id, for_update=for_update
    )
    if volunteer is None or not await activities.volunteer_in_reach(
        session, staff=staff, volunteer_id=volunteer.id
    ):
        raise VolunteerNotFound()
    return volunteer


async def get_for_staff(
    session: AsyncSession, *, staff: StaffContext, volunteer_id: uuid.UUID
) -> schemas.Volunteer:
    """A volunteer the staff member may read, masked."""
    volunteer = await _reached(session, staff=staff, volunteer_id=volunteer_id, for_update=False)
    return masked_view(volunteer)


def _verified_number_taken(exc: IntegrityError) -> bool:
    message = str(exc.orig)
    # PostgreSQL names the index; SQLite names its columns.
    return (
        "uq_volunteers_verified_id_number" in message
        or "volunteers.region_id, volunteers.id_number" in message
    )


async def verify_id(
    session: AsyncSession, *, staff: StaffContext, volunteer_id: uuid.UUID
) -> schemas.Volunteer:
    """Staff who may read the volunteer have seen the document: the claim becomes the
    volunteer's verified number. Verifying a verified claim keeps who verified it first."""
    volunteer = await _reached(session, staff=staff, volunteer_id=volunteer_id, for_update=True)
    if volunteer.id_number is None:
        raise IdNotClaimed()
    if volunteer.id_verified_at is not None:
        return masked_view(volunteer)
    if await repository.verified_holder(
        session,
        region_id=volunteer.region_id,
        id_number=volunteer.id_number,
        other_than=volunteer.id,
    ):
        raise IdNumberInUse()
    volunteer.id_verified_at = clock.now()
    volunteer.id_verified_by = staff.id
    try:
        # A savepoint: a verification of the same number committed meanwhile wins here.
        async with session.begin_nested():
            await session.flush()
    except IntegrityError as exc:
        if _verified_number_taken(exc):
            raise IdNumberInUse() from exc
        raise
    log.info(
        "volunteer id verified",
        extra={"volunteer_id": str(volunteer.id), "staff_id": str(staff.id)},
    )
    return masked_view(volunteer)
