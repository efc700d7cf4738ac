"""Lots expire: the job moves each lot's unspent remainder to the expired account, once."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from app.core import clock
from app.ledger import jobs, service
from app.ledger.models import AccountKind, LedgerTransaction, LotEntry, TxKind
from tests.ledger.support import Ledger

ISSUED = datetime(2025, 2, 1, tzinfo=UTC)
END_2026 = datetime(2026, 12, 31, 16, 0, tzinfo=UTC)  # 1 Jan 2027 in Shanghai
END_2027 = datetime(2027, 12, 31, 16, 0, tzinfo=UTC)


async def test_the_wallet_shows_its_lots_and_next_expiry(ledger: Ledger, world: Any) -> None:
    with clock.travel(ISSUED):
        await ledger.issue(world.volunteer_a, 10)
        await ledger.issue(world.volunteer_a, 5)
        await ledger.issue(world.volunteer_a, 20, expires_at=END_2027)
        shop = await ledger.merchant(world.region.id)
        await ledger.spend(world.volunteer_a, 12, shop)
        summary = await ledger.wallet(world.volunteer_a)

    assert summary.balance.available == 23
    assert [(lot.remaining, lot.expires_at) for lot in summary.lots] == [
        (3, END_2026),
        (20, END_2027),
    ]
    assert summary.next_expiry is not None
    assert (summary.next_expiry.expires_at, summary.next_expiry.amount) == (END_2026, 3)


async def test_the_job_expires_each_due_remainder_once(ledger: Ledger, world: Any) -> None:
    with clock.travel(ISSUED):
        await ledger.issue(world.volunteer_a, 10)
        await ledger.issue(world.volunteer_a, 20, expires_at=END_2027)
        await ledger.issue(world.volunteer_b, 7)
        shop = await ledger.merchant(world.region.id)
        await ledger.spend(world.volunteer_a, 4, shop)

    with clock.travel(datetime(2026, 12, 31, 15, 59, tzinfo=UTC)):
        assert await jobs.expire_lots(ledger.sessions) == 0
    with clock.travel(datetime(2027, 1, 2, tzinfo=UTC)):
        assert await jobs.expire_lots(ledger.sessions) == 2
        assert await jobs.expire_lots(ledger.sessions) == 0
        summary = await ledger.wallet(world.volunteer_a)

    expired = await ledger.system(world.region.id, AccountKind.expired)
    assert (await ledger.balance(expired)).posted == 6 + 7
    assert summary.balance.available == 20
    assert [lot.remaining for lot in summary.lots] == [20]
    assert (await ledger.available(world.volunteer_b)) == 0
    kinds = await ledger.scalar_all(
        LedgerTransaction.__table__.select()
        .with_only_columns(LedgerTransaction.kind, LedgerTransaction.actor)
        .where(LedgerTransaction.kind == TxKind.expire)
    )
    assert sorted(kinds) == [("expire", service.EXPIRY_ACTOR)] * 2
    assert await ledger.count(LotEntry) == 1 + 2  # the spend's draw, two expiries
    assert (await ledger.verify()).ok


async def test_a_lot_with_an_open_hold_expires_after_the_hold_resolves(
    ledger: Ledger, world: Any
) -> None:
    with clock.travel(ISSUED):
        await ledger.issue(world.volunteer_a, 10)
        shop = await ledger.merchant(world.region.id)
    with clock.travel(datetime(2026, 12, 31, 15, 50, tzinfo=UTC)):
        hold = await ledger.run(
            service.hold_from_wallet,
            region_id=world.region.id,
            volunteer_id=world.volunteer_a.id,
            to_account_id=shop.id,
            amount=4,
            reference_type="redemption",
            reference_id="r",
            actor="t",
        )
    with clock.travel(datetime(2026, 12, 31, 16, 1, tzinfo=UTC)):
        assert await jobs.expire_lots(ledger.sessions) == 0
        # The hold was taken while the lot was live: it may still post.
        await ledger.run(service.post_hold, hold_id=hold.id, actor="t")
        assert await jobs.expire_lots(ledger.sessions) == 1

    expired = await ledger.system(world.region.id, AccountKind.expired)
    assert (await ledger.balance(expired)).posted == 6
    assert (await ledger.balance(shop)).posted == 4
    assert (await ledger.available(world.volunteer_a)) == 0
    assert (await ledger.verify()).ok
