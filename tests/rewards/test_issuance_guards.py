"""Invariant 6's two guards, each on its own: the issuance finds the record's earlier
row and does nothing, and behind it the unique hours record refuses a second row."""

from __future__ import annotations

import uuid
from datetime import date
from typing import Any

import pytest
from sqlalchemy import insert, select
from sqlalchemy.exc import IntegrityError

from app.core import clock
from app.ledger.models import LedgerTransaction
from app.rewards.models import RewardIssuance
from app.rewards.service import HoursApproved, issue_for_hours
from tests.rewards.support import balance, count


def _approval(world: Any, record_id: uuid.UUID) -> HoursApproved:
    return HoursApproved.parse(
        world.region.id,
        {
            "hours_record_id": str(record_id),
            "volunteer_id": str(world.volunteer_a.id),
            "activity_id": str(uuid.uuid4()),
            "minutes": 60,
            "source": "checkin",
            "service_date": date(2026, 5, 9).isoformat(),
            "approved_at": clock.now().isoformat(),
            "approved_by": str(uuid.uuid4()),
        },
    )


async def _issue(app: Any, approval: HoursApproved) -> RewardIssuance:
    async with app.state.db.sessions() as session, session.begin():
        return await issue_for_hours(session, approval=approval)


async def test_a_second_issuance_for_one_record_returns_the_first_and_writes_nothing(
    app: Any, world: Any
) -> None:
    approval = _approval(world, uuid.uuid4())
    first = await _issue(app, approval)
    transactions = await count(app, LedgerTransaction)

    # Returned by the lookup, not refused by the unique constraint behind it.
    second = await _issue(app, approval)

    assert second.id == first.id
    assert second.transaction_id == first.transaction_id
    assert await count(app, RewardIssuance) == 1
    assert await count(app, LedgerTransaction) == transactions
    assert await balance(app, region_id=world.region.id, volunteer_id=world.volunteer_a.id) == 10


async def test_a_raw_second_issuance_row_for_one_record_is_refused(app: Any, world: Any) -> None:
    record_id = uuid.uuid4()
    await _issue(app, _approval(world, record_id))
    table = RewardIssuance.__table__
    async with app.state.db.sessions() as session:
        row = dict(
            (await session.execute(select(table).where(table.c.hours_record_id == record_id)))
            .one()
            ._mapping
        )

    with pytest.raises(IntegrityError, match="hours_record_id"):
        async with app.state.db.sessions() as session, session.begin():
            await session.execute(
                insert(table).values({**row, "id": uuid.uuid4(), "transaction_id": None})
            )
    assert await count(app, RewardIssuance) == 1
