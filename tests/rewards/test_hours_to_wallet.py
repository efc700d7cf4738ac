"""From the organizer's approval to the volunteer's wallet, through the real hours API,
the outbox and the ledger: the `hours.approved` contract between hours and rewards."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from app.rewards.models import RewardIssuance
from app.worker import run_once
from tests.activities.hours.support import approve, checkin_hours, make_activity
from tests.rewards.support import balance, count, deliver, issuance_of


async def test_approved_checkin_hours_reach_the_wallet_once(
    session: AsyncSession, client: Any, world: Any, app: Any
) -> None:
    activity = await make_activity(session, world.station_x, world.organizer_x, hours=2)
    record = await checkin_hours(session, activity, world.volunteer_a, minutes=90)

    await approve(client, world.auth["organizer_x"], record.id)
    await deliver(app)
    await deliver(app)

    assert await balance(app, region_id=world.region.id, volunteer_id=world.volunteer_a.id) == 15
    issuance = await issuance_of(app, record.id)
    assert issuance is not None
    assert (issuance.source, issuance.minutes, issuance.activity_id) == ("checkin", 90, activity.id)
    assert issuance.service_date == record.service_date
    assert issuance.approved_by == str(world.organizer_x.id)
    assert await count(app, RewardIssuance) == 1


async def test_an_accepted_correction_issues_the_difference(
    session: AsyncSession, client: Any, world: Any, app: Any
) -> None:
    activity = await make_activity(session, world.station_x, world.organizer_x, hours=2)
    record = await checkin_hours(session, activity, world.volunteer_a, minutes=60)
    await approve(client, world.auth["organizer_x"], record.id)
    await deliver(app)

    asked = await client.post(
        f"/v1/hours/{record.id}/corrections",
        headers=world.auth["volunteer_a"],
        json={"minutes": 120, "reason": "漏记一小时"},
    )
    assert asked.status_code == 201, asked.text
    accepted = await client.post(
        f"/v1/hours/corrections/{asked.json()['id']}/accept", headers=world.auth["organizer_x"]
    )
    assert accepted.status_code == 200, accepted.text
    await deliver(app)

    assert await balance(app, region_id=world.region.id, volunteer_id=world.volunteer_a.id) == 20
    replacement = await issuance_of(app, uuid.UUID(accepted.json()["replacement"]["id"]))
    assert replacement is not None
    assert (replacement.issued, replacement.supersedes_hours_record_id) == (10, record.id)


async def test_the_worker_issues_then_seals_the_issuance(
    session: AsyncSession, client: Any, world: Any, app: Any
) -> None:
    activity = await make_activity(session, world.station_x, world.organizer_x, hours=2)
    record = await checkin_hours(session, activity, world.volunteer_a, minutes=120)
    await approve(client, world.auth["organizer_x"], record.id)

    counts = await run_once(app.state.db)

    assert counts["outbox"] >= 1
    assert counts["seal-ledger"] >= 1
    issuance = await issuance_of(app, record.id)
    assert issuance is not None
    proof = await client.get(
        f"/v1/ledger/transactions/{issuance.transaction_id}/proof",
        headers=world.auth["volunteer_a"],
    )
    assert proof.status_code == 200, proof.text
