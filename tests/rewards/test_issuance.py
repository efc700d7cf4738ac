"""Approved hours become 良票: once per hours record, within the policy's caps and budget,
corrections issuing or clawing back the difference. Everything goes through the outbox."""

from __future__ import annotations

import asyncio
import uuid
from datetime import date
from typing import Any

import pytest
from sqlalchemy import select, update

from app.integrations import outbox
from app.integrations.models import OutboxEvent
from app.ledger import service as ledger
from app.ledger.models import AccountKind, LedgerTransaction, TxKind
from app.rewards.models import RewardIssuance
from app.worker import register_event_handlers
from tests.rewards.support import (
    approve,
    balance,
    count,
    deliver,
    issuance_of,
    ledger_transactions,
)


async def set_policy(client: Any, world: Any, **policy: Any) -> None:
    body = {"rate_per_hour": 10, "earning_sources": ["checkin"], **policy}
    r = await client.put(
        f"/v1/regions/{world.region.id}/reward-policy",
        json=body,
        headers=world.auth["center_admin"],
    )
    assert r.status_code == 200, r.text


async def wallet_of(app: Any, world: Any, who: str = "volunteer_a") -> int:
    return await balance(app, region_id=world.region.id, volunteer_id=getattr(world, who).id)


async def approve_for(app: Any, world: Any, who: str = "volunteer_a", **kw: Any) -> uuid.UUID:
    return await approve(app, region_id=world.region.id, volunteer_id=getattr(world, who).id, **kw)


@pytest.mark.parametrize(("minutes", "expected"), [(60, 10), (95, 15), (59, 9), (5, 0)])
async def test_approved_checkin_hours_issue_whole_liangpiao_rounded_down(
    app: Any, world: Any, minutes: int, expected: int
) -> None:
    record = await approve_for(app, world, minutes=minutes)

    # The approval, and the `rewards.issued` event of whatever was issued.
    assert await deliver(app) == (2 if expected else 1)
    assert await wallet_of(app, world) == expected
    issuance = await issuance_of(app, record)
    assert issuance is not None
    assert (issuance.entitled, issuance.granted, issuance.issued) == (expected, expected, expected)
    assert issuance.reasons == []


async def test_the_issuance_is_a_ledger_transaction_naming_the_hours_record(
    app: Any, world: Any
) -> None:
    record = await approve_for(app, world, minutes=120)
    await deliver(app)

    [tx] = await ledger_transactions(app, reference_id=str(record))
    issuance = await issuance_of(app, record)
    assert issuance is not None
    assert issuance.transaction_id == tx.id
    assert tx.kind == TxKind.issue
    assert tx.reference_type == "hours_record"
    assert tx.meta["hours_record_id"] == str(record)
    assert tx.meta["minutes"] == 120


async def test_the_same_event_delivered_twice_issues_once(app: Any, world: Any) -> None:
    record = await approve_for(app, world, minutes=120)
    await approve_for(app, world, minutes=120, hours_record_id=record)

    # Two approvals of the record, and one `rewards.issued`.
    assert await deliver(app) == 3
    # A crash after the effect but before the event is marked would deliver it again.
    async with app.state.db.sessions() as session, session.begin():
        await session.execute(update(OutboxEvent).values(processed_at=None))
    assert await deliver(app) == 3
    async with app.state.db.sessions() as session:
        issued = await session.scalars(
            select(OutboxEvent.id).where(OutboxEvent.topic == "rewards.issued")
        )
        assert len(issued.all()) == 1

    assert await wallet_of(app, world) == 20
    assert await count(app, RewardIssuance) == 1
    assert len(await ledger_transactions(app, reference_id=str(record))) == 1


@pytest.mark.parametrize("source", ["makeup", "bulk"])
async def test_hours_from_a_source_that_does_not_earn_record_a_zero_issuance(
    app: Any, world: Any, source: str
) -> None:
    record = await approve_for(app, world, minutes=120, source=source)
    await deliver(app)

    assert await wallet_of(app, world) == 0
    issuance = await issuance_of(app, record)
    assert issuance is not None
    assert (issuance.entitled, issuance.granted, issuance.issued) == (0, 0, 0)
    assert issuance.reasons == ["source_not_earning"]
    assert issuance.transaction_id is None
    assert await ledger_transactions(app, reference_id=str(record)) == []


async def test_makeup_hours_earn_once_the_policy_lists_them(
    app: Any, world: Any, client: Any
) -> None:
    await set_policy(client, world, rate_per_hour=6, earning_sources=["checkin", "makeup"])
    await approve_for(app, world, minutes=90, source="makeup")
    await deliver(app)

    assert await wallet_of(app, world) == 9


async def test_the_activity_cap_lets_through_what_fits(app: Any, world: Any, client: Any) -> None:
    await set_policy(client, world, activity_cap=25)
    activity = uuid.uuid4()
    first = await approve_for(app, world, minutes=120, activity_id=activity)
    second = await approve_for(app, world, minutes=120, activity_id=activity)
    elsewhere = await approve_for(app, world, minutes=120)
    other_volunteer = await approve_for(
        app, world, "volunteer_b", minutes=180, activity_id=activity
    )
    await deliver(app)

    got = [await issuance_of(app, r) for r in (first, second, elsewhere, other_volunteer)]
    assert [(i.granted, i.reasons) for i in got if i] == [
        (20, []),
        (5, ["activity_cap"]),
        (20, []),
        (25, ["activity_cap"]),
    ]
    assert await wallet_of(app, world) == 45
    assert await wallet_of(app, world, "volunteer_b") == 25


async def test_the_daily_cap_counts_the_service_day(app: Any, world: Any, client: Any) -> None:
    await set_policy(client, world, daily_cap=30)
    saturday, sunday = date(2026, 5, 9), date(2026, 5, 10)
    records = [
        await approve_for(app, world, minutes=120, service_date=saturday),
        await approve_for(app, world, minutes=120, service_date=saturday),
        await approve_for(app, world, minutes=120, service_date=saturday),
        await approve_for(app, world, minutes=120, service_date=sunday),
    ]
    await deliver(app)

    got = [await issuance_of(app, r) for r in records]
    assert [(i.issued, i.reasons) for i in got if i] == [
        (20, []),
        (10, ["daily_cap"]),
        (0, ["daily_cap"]),
        (20, []),
    ]
    assert await wallet_of(app, world) == 50


async def test_the_yearly_cap_counts_the_service_year(app: Any, world: Any, client: Any) -> None:
    await set_policy(client, world, yearly_cap=50)
    records = [
        await approve_for(app, world, minutes=120, service_date=date(2026, 3, d)) for d in (1, 2, 3)
    ]
    next_year = await approve_for(app, world, minutes=120, service_date=date(2027, 1, 2))
    await deliver(app)

    got = [await issuance_of(app, r) for r in [*records, next_year]]
    assert [i.issued for i in got if i] == [20, 20, 10, 20]
    assert got[2] is not None
    assert got[2].reasons == ["yearly_cap"]


async def test_caps_set_together_each_count_their_own_scope(
    app: Any, world: Any, client: Any
) -> None:
    await set_policy(client, world, activity_cap=35, daily_cap=30, yearly_cap=60)
    activity = uuid.uuid4()
    saturday, sunday, monday = date(2026, 5, 9), date(2026, 5, 10), date(2026, 5, 11)
    records = [
        await approve_for(app, world, minutes=90, activity_id=activity, service_date=saturday),
        await approve_for(app, world, minutes=120, activity_id=activity, service_date=saturday),
        await approve_for(app, world, minutes=120, activity_id=activity, service_date=sunday),
        await approve_for(app, world, minutes=180, service_date=sunday),
        await approve_for(app, world, minutes=180, service_date=monday),
    ]
    await deliver(app)

    got = [await issuance_of(app, r) for r in records]
    # 15; the daily cap leaves 15 of 20; the activity cap leaves 5 on Sunday; Sunday's
    # 25 left of its day and 25 of the year: 25; then the year has nothing left.
    assert [(i.issued, i.reasons) for i in got if i] == [
        (15, []),
        (15, ["daily_cap"]),
        (5, ["activity_cap"]),
        (25, ["daily_cap"]),
        (0, ["yearly_cap"]),
    ]
    assert await wallet_of(app, world) == 60


async def test_the_yearly_budget_is_shared_by_the_region(app: Any, world: Any, client: Any) -> None:
    await set_policy(client, world, yearly_budget=30)
    a = await approve_for(app, world, minutes=120)
    b = await approve_for(app, world, "volunteer_b", minutes=120)
    c = await approve_for(app, world, "volunteer_b", minutes=60)
    other_region = await approve(
        app, region_id=world.other_region.id, volunteer_id=world.other_volunteer.id, minutes=600
    )
    await deliver(app)

    got = [await issuance_of(app, r) for r in (a, b, c, other_region)]
    assert [(i.issued, i.reasons) for i in got if i] == [
        (20, []),
        (10, ["budget_exhausted"]),
        (0, ["budget_exhausted"]),
        (100, []),
    ]
    assert await wallet_of(app, world) + await wallet_of(app, world, "volunteer_b") == 30


async def test_a_correction_upwards_issues_the_difference(app: Any, world: Any) -> None:
    original = await approve_for(app, world, minutes=60)
    await deliver(app)
    correction = await approve_for(app, world, minutes=150, supersedes=original)
    await deliver(app)

    assert await wallet_of(app, world) == 25
    new = await issuance_of(app, correction)
    old = await issuance_of(app, original)
    assert new is not None
    assert old is not None
    assert (new.granted, new.issued, new.clawed_back) == (25, 15, 0)
    assert old.superseded_by_id == new.id


async def test_a_correction_downwards_claws_back_the_difference(app: Any, world: Any) -> None:
    original = await approve_for(app, world, minutes=120)
    await deliver(app)
    correction = await approve_for(app, world, minutes=30, supersedes=original)
    await deliver(app)

    assert await wallet_of(app, world) == 5
    new = await issuance_of(app, correction)
    assert new is not None
    assert (new.granted, new.issued, new.clawed_back, new.shortfall) == (5, 0, 15, 0)
    [claw_back] = await ledger_transactions(app, reference_id=str(correction))
    assert claw_back.kind == TxKind.adjust
    async with app.state.db.sessions() as session:
        issuance_account = await ledger.system_account(
            session, region_id=world.region.id, kind=AccountKind.issuance
        )
        assert (await ledger.account_balance(session, account_id=issuance_account.id)).posted == -5


async def test_a_claw_back_takes_what_is_left_and_records_the_shortfall(
    app: Any, world: Any
) -> None:
    original = await approve_for(app, world, minutes=120)
    await deliver(app)
    async with app.state.db.sessions() as session, session.begin():
        merchant = await ledger.merchant_account(
            session, region_id=world.region.id, merchant_id=uuid.uuid4()
        )
        await ledger.spend_from_wallet(
            session,
            region_id=world.region.id,
            volunteer_id=world.volunteer_a.id,
            to_account_id=merchant.id,
            amount=18,
            kind=TxKind.redeem,
            reference_type="test",
            reference_id="spent",
            actor="test",
        )
    down = await approve_for(app, world, minutes=30, supersedes=original)
    await deliver(app)

    got = await issuance_of(app, down)
    assert got is not None
    assert (got.granted, got.clawed_back, got.shortfall) == (5, 2, 13)
    assert got.reasons == ["clawback_shortfall"]
    assert await wallet_of(app, world) == 0

    # Corrected up again, the volunteer gets only what exceeds what they kept.
    up = await approve_for(app, world, minutes=120, supersedes=down)
    await deliver(app)
    again = await issuance_of(app, up)
    assert again is not None
    assert (again.granted, again.issued) == (20, 2)
    assert await wallet_of(app, world) == 2


async def test_a_correction_delivered_before_its_original_counts_once(app: Any, world: Any) -> None:
    original = uuid.uuid4()
    correction = await approve_for(app, world, minutes=150, supersedes=original)
    await deliver(app)
    await approve_for(app, world, minutes=60, hours_record_id=original)
    await deliver(app)

    assert await wallet_of(app, world) == 25
    late = await issuance_of(app, original)
    new = await issuance_of(app, correction)
    assert late is not None
    assert new is not None
    assert (late.granted, late.issued, late.reasons) == (0, 0, ["superseded"])
    assert late.superseded_by_id == new.id


async def test_a_correction_is_capped_without_counting_the_record_it_replaces(
    app: Any, world: Any, client: Any
) -> None:
    await set_policy(client, world, daily_cap=30)
    original = await approve_for(app, world, minutes=120)
    await deliver(app)
    correction = await approve_for(app, world, minutes=300, supersedes=original)
    await deliver(app)

    got = await issuance_of(app, correction)
    assert got is not None
    assert (got.entitled, got.granted, got.issued, got.reasons) == (50, 30, 10, ["daily_cap"])
    assert await wallet_of(app, world) == 30


async def test_a_claw_back_frees_budget_for_others(app: Any, world: Any, client: Any) -> None:
    await set_policy(client, world, yearly_budget=30)
    original = await approve_for(app, world, minutes=120)
    await deliver(app)
    await approve_for(app, world, minutes=30, supersedes=original)
    await deliver(app)
    other = await approve_for(app, world, "volunteer_b", minutes=150)
    await deliver(app)

    got = await issuance_of(app, other)
    assert got is not None
    assert (got.issued, got.reasons) == (25, [])


async def test_a_malformed_event_waits_and_issues_nothing(app: Any, world: Any) -> None:
    async with app.state.db.sessions() as session, session.begin():
        session.add(
            OutboxEvent(
                region_id=world.region.id,
                topic="hours.approved",
                payload={"hours_record_id": "not-a-uuid", "minutes": 60},
            )
        )
    await deliver(app)

    async with app.state.db.sessions() as session:
        event = await session.scalar(select(OutboxEvent))
    assert event is not None
    assert event.processed_at is None
    assert event.attempts == 1
    assert event.last_error is not None
    assert "hours_record_id" in event.last_error
    assert await count(app, RewardIssuance) == 0
    assert await count(app, LedgerTransaction) == 0


@pytest.mark.postgres_only
async def test_workers_delivering_at_once_issue_each_record_once_within_the_cap(
    app: Any, world: Any, client: Any
) -> None:
    await set_policy(client, world, daily_cap=30, yearly_budget=45)
    records = [await approve_for(app, world, minutes=120) for _ in range(6)]
    others = [await approve_for(app, world, "volunteer_b", minutes=120) for _ in range(6)]
    for record in records:
        await approve_for(app, world, minutes=120, hours_record_id=record)

    register_event_handlers()
    await asyncio.gather(*(outbox.dispatch_batch(app.state.db.sessions) for _ in range(6)))
    await deliver(app)

    assert await count(app, RewardIssuance) == len(records) + len(others)
    a, b = await wallet_of(app, world), await wallet_of(app, world, "volunteer_b")
    assert a <= 30
    assert b <= 30
    assert a + b == 45


async def test_a_chain_of_corrections_delivered_out_of_order_counts_its_newest_record(
    app: Any, world: Any
) -> None:
    first, second, third = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    await approve_for(app, world, minutes=60, hours_record_id=first)
    await deliver(app)
    await approve_for(app, world, minutes=180, hours_record_id=third, supersedes=second)
    await deliver(app)
    await approve_for(app, world, minutes=120, hours_record_id=second, supersedes=first)
    await deliver(app)

    assert await wallet_of(app, world) == 30
    rows = [await issuance_of(app, r) for r in (first, second, third)]
    assert [(i.granted, i.held) for i in rows if i] == [(10, 10), (0, 0), (30, 30)]
    assert rows[1] is not None
    assert (rows[1].clawed_back, rows[1].reasons) == (10, ["superseded"])
