"""An ID number a volunteer types is a claim: the answer never tells whether a number is
registered, and only verified numbers are unique in the region."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from sqlalchemy import update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from app.core import clock
from app.volunteers.models import IdType, Volunteer
from tests.builders import World, make_volunteer
from tests.orgs.support import Reader

VALID_ID = "11010519491231002X"
OTHER_ID = "320102199003071239"
CLAIM = {"id_type": "resident_id", "id_number": VALID_ID}
# What differs between two volunteers' own profiles whatever they claim.
THEIR_OWN = ("id", "volunteer_no", "name", "created_at", "updated_at")


def _shape(response: httpx.Response) -> tuple[int, str, dict[str, Any]]:
    body = response.json()
    return (
        response.status_code,
        response.headers["content-type"],
        {k: v for k, v in body.items() if k not in THEIR_OWN},
    )


async def test_two_volunteers_claiming_one_number_get_the_same_answer(
    client: httpx.AsyncClient, world: World, db: Reader, session: AsyncSession
) -> None:
    first = await client.patch("/v1/me", json=CLAIM, headers=world.auth["volunteer_a"])
    second = await client.patch("/v1/me", json=CLAIM, headers=world.auth["volunteer_b"])
    assert first.status_code == 200, first.text
    assert _shape(second) == _shape(first)
    assert (second.json()["id_number"], second.json()["id_verified"]) == (VALID_ID, False)
    # Not even a number verified for someone else shows through a claim.
    holder = await make_volunteer(
        session,
        world.region,
        id_type=IdType.resident_id,
        id_number=OTHER_ID,
        id_verified_at=clock.now(),
        id_verified_by=world.center_admin.id,
    )
    other = {"id_type": "resident_id", "id_number": OTHER_ID}
    third = await client.patch("/v1/me", json=other, headers=world.auth["volunteer_b"])
    status, content_type, body = _shape(first)
    assert _shape(third) == (status, content_type, body | {"id_number": OTHER_ID})
    rows = [await db.get(Volunteer, v.id) for v in (world.volunteer_a, world.volunteer_b, holder)]
    assert [(r.id_number, r.id_verified_at is None) for r in rows] == [
        (VALID_ID, True),
        (OTHER_ID, True),
        (OTHER_ID, False),
    ]


async def test_the_database_holds_claims_freely_and_a_verified_number_once(
    app: Any, world: World, session: AsyncSession
) -> None:
    claimants = [
        await make_volunteer(session, world.region, id_type=IdType.resident_id, id_number=VALID_ID)
        for _ in range(3)
    ]
    sessions = app.state.db.sessions

    def verified(volunteer: Volunteer) -> Any:
        return (
            update(Volunteer)
            .where(Volunteer.id == volunteer.id)
            .values(id_verified_at=clock.now(), id_verified_by=world.center_admin.id)
        )

    async with sessions() as s, s.begin():
        await s.execute(verified(claimants[0]))
    with pytest.raises(IntegrityError):
        async with sessions() as s, s.begin():
            await s.execute(verified(claimants[1]))
    # A verification names its verifier.
    with pytest.raises(IntegrityError):
        async with sessions() as s, s.begin():
            await s.execute(
                update(Volunteer)
                .where(Volunteer.id == claimants[2].id)
                .values(id_verified_at=clock.now())
            )
    # The same number verified in another region is another person's business.
    elsewhere = await make_volunteer(
        session, world.other_region, id_type=IdType.resident_id, id_number=VALID_ID
    )
    async with sessions() as s, s.begin():
        await s.execute(verified(elsewhere).values(id_verified_by=world.other_admin.id))
