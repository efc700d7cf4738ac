"""An ID number a volunteer types is a claim: the answer never tells whether a number is
registered; staff who may read the volunteer verify it, and only verified numbers are
unique in the region."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import httpx
import pytest
from sqlalchemy import update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from app.core import clock
from app.volunteers import repository
from app.volunteers.models import IdType, Volunteer
from tests.activities.support import make_activity, sign_up_row
from tests.builders import World, make_volunteer, volunteer_auth
from tests.orgs.support import Reader, assert_problem

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


async def _verify(client: httpx.AsyncClient, volunteer_id: uuid.UUID, auth: dict[str, str]) -> Any:
    return await client.post(f"/v1/volunteers/{volunteer_id}/id-verification", headers=auth)


@pytest.fixture
async def signed_up_at_x(session: AsyncSession, world: World) -> None:
    """Volunteers A and B signed up with station X: its staff may read them."""
    activity = await make_activity(session, world.station_x, world.organizer_x)
    for volunteer in (world.volunteer_a, world.volunteer_b):
        await sign_up_row(session, activity, volunteer)


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


@pytest.mark.usefixtures("signed_up_at_x")
async def test_staff_verify_the_first_claim_and_the_second_is_in_use(
    client: httpx.AsyncClient, world: World, db: Reader
) -> None:
    for who in ("volunteer_a", "volunteer_b"):
        assert (
            await client.patch("/v1/me", json=CLAIM, headers=world.auth[who])
        ).status_code == 200

    verified = await _verify(client, world.volunteer_a.id, world.auth["organizer_x"])
    assert verified.status_code == 200, verified.text
    assert (verified.json()["id_verified"], verified.json()["id_number"]) == (
        True,
        "1101**********002X",
    )
    assert VALID_ID not in verified.text
    refused = await _verify(client, world.volunteer_b.id, world.auth["organizer_x"])
    assert_problem(refused, 409, "id_number_in_use")

    a = await db.get(Volunteer, world.volunteer_a.id)
    b = await db.get(Volunteer, world.volunteer_b.id)
    assert (a.id_verified_by, a.id_verified_at is not None) == (world.organizer_x.id, True)
    assert (b.id_number, b.id_verified_at, b.id_verified_by) == (VALID_ID, None, None)
    # The owner and staff both see where the claim stands.
    mine = await client.get("/v1/me", headers=world.auth["volunteer_a"])
    assert (mine.json()["id_number"], mine.json()["id_verified"]) == (VALID_ID, True)
    seen = await client.get(f"/v1/volunteers/{b.id}", headers=world.auth["station_admin_x"])
    assert seen.json()["id_verified"] is False


@pytest.mark.usefixtures("signed_up_at_x")
async def test_a_number_verified_under_another_type_is_in_use(
    client: httpx.AsyncClient, world: World
) -> None:
    # "H12345678" is both a passport number and a 港澳通行证 number; the region holds it once.
    claims = [
        ("volunteer_a", {"id_type": "passport", "id_number": "H12345678"}),
        ("volunteer_b", {"id_type": "hk_macao_permit", "id_number": "H12345678"}),
    ]
    for who, claim in claims:
        assert (
            await client.patch("/v1/me", json=claim, headers=world.auth[who])
        ).status_code == 200
    admin = world.auth["center_admin"]
    assert (await _verify(client, world.volunteer_a.id, admin)).status_code == 200
    assert_problem(await _verify(client, world.volunteer_b.id, admin), 409, "id_number_in_use")


@pytest.mark.usefixtures("signed_up_at_x")
async def test_verifying_again_keeps_the_first_verification(
    client: httpx.AsyncClient, world: World, db: Reader
) -> None:
    await client.patch("/v1/me", json=CLAIM, headers=world.auth["volunteer_a"])
    assert (
        await _verify(client, world.volunteer_a.id, world.auth["organizer_x"])
    ).status_code == 200
    first = await db.get(Volunteer, world.volunteer_a.id)
    again = await _verify(client, world.volunteer_a.id, world.auth["station_admin_x"])
    assert (again.status_code, again.json()["id_verified"]) == (200, True)
    kept = await db.get(Volunteer, world.volunteer_a.id)
    assert (kept.id_verified_at, kept.id_verified_by) == (
        first.id_verified_at,
        world.organizer_x.id,
    )


@pytest.mark.usefixtures("signed_up_at_x")
async def test_changing_a_verified_number_clears_its_verification(
    client: httpx.AsyncClient, world: World, db: Reader
) -> None:
    me = world.auth["volunteer_a"]
    await client.patch("/v1/me", json=CLAIM, headers=me)
    assert (
        await _verify(client, world.volunteer_a.id, world.auth["organizer_x"])
    ).status_code == 200

    # The same claim again, or another field, leaves the verification as it is.
    assert (await client.patch("/v1/me", json=CLAIM, headers=me)).json()["id_verified"] is True
    assert (await client.patch("/v1/me", json={"name": "甲"}, headers=me)).json()["id_verified"]

    changed = await client.patch(
        "/v1/me", json={"id_type": "resident_id", "id_number": OTHER_ID}, headers=me
    )
    assert (changed.status_code, changed.json()["id_verified"]) == (200, False)
    row = await db.get(Volunteer, world.volunteer_a.id)
    assert (row.id_number, row.id_verified_at, row.id_verified_by) == (OTHER_ID, None, None)
    # Its old number is free: another volunteer's claim of it can be verified now.
    await client.patch("/v1/me", json=CLAIM, headers=world.auth["volunteer_b"])
    assert (
        await _verify(client, world.volunteer_b.id, world.auth["organizer_x"])
    ).status_code == 200

    # Another type with the same digits is another document, and clearing the claim
    # clears its verification too.
    assert (
        await _verify(client, world.volunteer_a.id, world.auth["organizer_x"])
    ).status_code == 200
    retyped = {"id_type": "passport", "id_number": OTHER_ID[:17]}
    assert (await client.patch("/v1/me", json=retyped, headers=me)).json()["id_verified"] is False
    assert (
        await _verify(client, world.volunteer_a.id, world.auth["organizer_x"])
    ).status_code == 200
    cleared = await client.patch("/v1/me", json={"id_type": None, "id_number": None}, headers=me)
    assert (cleared.json()["id_number"], cleared.json()["id_verified"]) == (None, False)
    row = await db.get(Volunteer, world.volunteer_a.id)
    assert (row.id_verified_at, row.id_verified_by) == (None, None)


async def test_staff_out_of_reach_get_the_refusal_of_a_volunteer_that_does_not_exist(
    client: httpx.AsyncClient,
    world: World,
    db: Reader,
    session: AsyncSession,
    subtests: pytest.Subtests,
) -> None:
    # Volunteer A signed up with station X only.
    activity = await make_activity(session, world.station_x, world.organizer_x)
    await sign_up_row(session, activity, world.volunteer_a)
    await client.patch("/v1/me", json=CLAIM, headers=world.auth["volunteer_a"])
    for who in ("organizer_y", "other_admin"):
        with subtests.test(who=who):
            unknown = await _verify(client, uuid.uuid4(), world.auth[who])
            refused = await _verify(client, world.volunteer_a.id, world.auth[who])
            assert_problem(refused, 404, "volunteer_not_found")
            assert refused.json() | {"instance": ""} == unknown.json() | {"instance": ""}
            row = await db.get(Volunteer, world.volunteer_a.id)
            assert row.id_verified_at is None
    for who in ("volunteer_a", "volunteer_b"):
        with subtests.test(who=who):
            assert_problem(
                await _verify(client, world.volunteer_a.id, world.auth[who]), 403, "forbidden"
            )


@pytest.mark.usefixtures("signed_up_at_x")
async def test_a_volunteer_who_claimed_no_number_has_nothing_to_verify(
    client: httpx.AsyncClient, world: World, db: Reader
) -> None:
    refused = await _verify(client, world.volunteer_a.id, world.auth["organizer_x"])
    assert_problem(refused, 409, "id_not_claimed")
    assert (await db.get(Volunteer, world.volunteer_a.id)).id_verified_at is None


@pytest.mark.usefixtures("signed_up_at_x")
async def test_past_the_service_check_the_unique_index_still_answers_in_use(
    client: httpx.AsyncClient, world: World, db: Reader, monkeypatch: pytest.MonkeyPatch
) -> None:
    # What a verification racing another meets: its check found no verified holder.
    async def nobody(*args: Any, **kwargs: Any) -> None:
        return None

    for who in ("volunteer_a", "volunteer_b"):
        await client.patch("/v1/me", json=CLAIM, headers=world.auth[who])
    assert (
        await _verify(client, world.volunteer_a.id, world.auth["organizer_x"])
    ).status_code == 200
    monkeypatch.setattr(repository, "verified_holder", nobody)
    refused = await _verify(client, world.volunteer_b.id, world.auth["organizer_x"])
    assert_problem(refused, 409, "id_number_in_use")
    assert (await db.get(Volunteer, world.volunteer_b.id)).id_verified_at is None


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


@pytest.mark.postgres_only
async def test_simultaneous_verifications_of_one_number_verify_one_volunteer(
    client: httpx.AsyncClient,
    world: World,
    db: Reader,
    session: AsyncSession,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    claimants = [
        await make_volunteer(session, world.region, id_type=IdType.resident_id, id_number=VALID_ID)
        for _ in range(4)
    ]
    # Every verification has checked, and found no verified holder, before any writes:
    # the losers meet the winner's row in the unique index, on their own connections.
    checked = asyncio.Barrier(len(claimants))
    check = repository.verified_holder

    async def check_then_wait(*args: Any, **kwargs: Any) -> uuid.UUID | None:
        found = await check(*args, **kwargs)
        async with asyncio.timeout(10):
            await checked.wait()
        return found

    monkeypatch.setattr(repository, "verified_holder", check_then_wait)
    admin = world.auth["center_admin"]

    responses = await asyncio.gather(*(_verify(client, v.id, admin) for v in claimants))

    statuses = sorted(r.status_code for r in responses)
    assert statuses == [200] + [409] * (len(claimants) - 1), [r.text for r in responses]
    for response in responses:
        if response.status_code == 409:
            assert_problem(response, 409, "id_number_in_use")
    rows = [await db.get(Volunteer, v.id) for v in claimants]
    [winner] = [r for r in responses if r.status_code == 200]
    assert [str(r.id) for r in rows if r.id_verified_at is not None] == [winner.json()["id"]]


@pytest.mark.postgres_only
async def test_a_claim_changed_while_staff_verify_is_never_verified_unseen(
    app: Any, client: httpx.AsyncClient, world: World, db: Reader, session: AsyncSession
) -> None:
    # Many rounds of a change and a verification at once: whichever goes first, the
    # number left verified is one the verification read.
    volunteer = await make_volunteer(
        session, world.region, id_type=IdType.resident_id, id_number=VALID_ID
    )
    me = volunteer_auth(app, volunteer)
    numbers = [VALID_ID, OTHER_ID]
    for round_no in range(10):
        new = numbers[(round_no + 1) % 2]
        change, verify = await asyncio.gather(
            client.patch("/v1/me", json={"id_type": "resident_id", "id_number": new}, headers=me),
            _verify(client, volunteer.id, world.auth["center_admin"]),
        )
        assert change.status_code == 200, change.text
        assert verify.status_code == 200, verify.text
        row = await db.get(Volunteer, volunteer.id)
        assert row.id_number == new
        if row.id_verified_at is not None:
            # The verification came last, so it read the new claim.
            assert verify.json()["id_number"] == f"{new[:4]}{'*' * 10}{new[-4:]}"
