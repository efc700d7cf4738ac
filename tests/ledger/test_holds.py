"""Holds: a pending debit that available counts as spent, resolved exactly once."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from app.core import clock
from app.ledger import jobs, service
from app.ledger.errors import (
    AccountKindNotAllowed,
    HoldAlreadyResolved,
    HoldNotFound,
    HoldPostExceedsAmount,
    InsufficientBalance,
)
from app.ledger.models import Hold, HoldResolution, HoldStatus, LedgerTransaction
from tests.ledger.support import Ledger

NOON = datetime(2025, 5, 1, 4, 0, tzinfo=UTC)


async def _hold(ledger: Ledger, volunteer: Any, amount: int, to: Any, **kw: Any) -> Hold:
    return await ledger.run(
        service.hold_from_wallet,
        region_id=volunteer.region_id,
        volunteer_id=volunteer.id,
        to_account_id=to.id,
        amount=amount,
        reference_type="redemption",
        reference_id="r-1",
        actor="terminal:test",
        **kw,
    )


async def test_a_hold_counts_as_spent_until_it_resolves(ledger: Ledger, world: Any) -> None:
    await ledger.issue(world.volunteer_a, 10)
    shop = await ledger.merchant(world.region.id)

    await _hold(ledger, world.volunteer_a, 7, shop)

    summary = await ledger.wallet(world.volunteer_a)
    assert (summary.balance.posted, summary.balance.pending) == (10, 7)
    assert summary.balance.available == summary.spendable == 3
    with pytest.raises(InsufficientBalance):
        await ledger.spend(world.volunteer_a, 4, shop)
    with pytest.raises(InsufficientBalance):
        await _hold(ledger, world.volunteer_a, 4, shop)
    await ledger.spend(world.volunteer_a, 3, shop)
    assert (await ledger.available(world.volunteer_a)) == 0
    assert (await ledger.verify()).ok


async def test_posting_part_of_a_hold_releases_the_rest(ledger: Ledger, world: Any) -> None:
    await ledger.issue(world.volunteer_a, 10)
    shop = await ledger.merchant(world.region.id)
    hold = await _hold(ledger, world.volunteer_a, 7, shop)

    tx = await ledger.run(service.post_hold, hold_id=hold.id, amount=5, actor="terminal:test")

    assert sorted(p.amount for p in tx.postings) == [-5, 5]
    assert tx.meta["hold_id"] == str(hold.id)
    summary = await ledger.wallet(world.volunteer_a)
    assert (summary.balance.posted, summary.balance.pending) == (5, 0)
    assert (await ledger.balance(shop)).posted == 5
    assert (await ledger.verify()).ok


async def test_a_hold_resolves_once(ledger: Ledger, world: Any) -> None:
    await ledger.issue(world.volunteer_a, 10)
    shop = await ledger.merchant(world.region.id)
    hold = await _hold(ledger, world.volunteer_a, 4, shop)

    await ledger.run(service.void_hold, hold_id=hold.id, actor="terminal:test")

    with pytest.raises(HoldAlreadyResolved):
        await ledger.run(service.post_hold, hold_id=hold.id, actor="terminal:test")
    with pytest.raises(HoldAlreadyResolved):
        await ledger.run(service.void_hold, hold_id=hold.id, actor="terminal:test")
    assert (await ledger.available(world.volunteer_a)) == 10
    assert (await ledger.balance(shop)).posted == 0
    assert await ledger.count(HoldResolution) == 1
    assert (await ledger.verify()).ok


async def test_a_hold_cannot_post_more_than_it_holds(ledger: Ledger, world: Any) -> None:
    await ledger.issue(world.volunteer_a, 10)
    shop = await ledger.merchant(world.region.id)
    hold = await _hold(ledger, world.volunteer_a, 4, shop)
    with pytest.raises(HoldPostExceedsAmount):
        await ledger.run(service.post_hold, hold_id=hold.id, amount=5, actor="t")
    with pytest.raises(HoldNotFound):
        await ledger.run(
            service.post_hold, hold_id=hold.id, actor="t", region_id=world.other_region.id
        )
    assert (await ledger.wallet(world.volunteer_a)).balance.pending == 4


async def test_a_hold_is_for_a_merchant_or_system_account(ledger: Ledger, world: Any) -> None:
    await ledger.issue(world.volunteer_a, 10)
    wallet_b = await ledger.run(
        service.wallet_account, region_id=world.region.id, volunteer_id=world.volunteer_b.id
    )
    with pytest.raises(AccountKindNotAllowed):
        await _hold(ledger, world.volunteer_a, 1, wallet_b)


async def test_a_hold_past_its_timeout_is_released_by_the_job(ledger: Ledger, world: Any) -> None:
    with clock.travel(NOON):
        await ledger.issue(world.volunteer_a, 10)
        shop = await ledger.merchant(world.region.id)
        hold = await _hold(ledger, world.volunteer_a, 6, shop)
        assert await jobs.time_out_holds(ledger.sessions) == 0

    with clock.travel(NOON + timedelta(minutes=16)):
        with pytest.raises(HoldAlreadyResolved):
            await ledger.run(service.post_hold, hold_id=hold.id, actor="t")
        assert await jobs.time_out_holds(ledger.sessions) == 1
        assert await jobs.time_out_holds(ledger.sessions) == 0

    resolution = await ledger.scalar(
        HoldResolution.__table__.select().where(HoldResolution.hold_id == hold.id)
    )
    assert resolution is not None
    status = await ledger.scalar(
        HoldResolution.__table__.select()
        .with_only_columns(HoldResolution.status)
        .where(HoldResolution.hold_id == hold.id)
    )
    assert status == HoldStatus.expired
    assert (await ledger.available(world.volunteer_a)) == 10
    assert await ledger.count(LedgerTransaction) == 1
    assert (await ledger.verify()).ok
