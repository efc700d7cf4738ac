"""Issuance makes lots; spends draw them oldest expiry first and never overdraw."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

import pytest

from app.core import clock
from app.ledger import service
from app.ledger.errors import (
    AccountKindNotAllowed,
    AccountNotFound,
    InsufficientBalance,
    InvalidAmount,
    TransactionIdConflict,
)
from app.ledger.models import AccountKind, LedgerTransaction, LotEntry, TxKind
from tests.ledger.support import Ledger

JAN_2025 = datetime(2025, 1, 10, 4, 0, tzinfo=UTC)


async def test_issue_credits_a_new_lot_expiring_at_the_end_of_next_year_in_region_time(
    ledger: Ledger, world: Any
) -> None:
    with clock.travel(JAN_2025):
        tx = await ledger.issue(world.volunteer_a, 30)

    assert tx.kind == TxKind.issue
    assert sorted(p.amount for p in tx.postings) == [-30, 30]
    (lot,) = await ledger.lots(world.volunteer_a)
    assert (lot.amount, lot.remaining) == (30, 30)
    # 1 January 2027, 00:00 in Asia/Shanghai: the last instant of 31 December 2026.
    assert lot.expires_at == datetime(2026, 12, 31, 16, 0, tzinfo=UTC)
    issuance = await ledger.system(world.region.id, AccountKind.issuance)
    assert (await ledger.balance(issuance)).posted == -30
    assert (await ledger.available(world.volunteer_a)) == 30


async def test_issue_late_on_new_years_eve_utc_counts_the_region_year(
    ledger: Ledger, world: Any
) -> None:
    # 31 Dec 2024 17:00 UTC is already 1 Jan 2025 in Shanghai.
    with clock.travel(datetime(2024, 12, 31, 17, 0, tzinfo=UTC)):
        await ledger.issue(world.volunteer_a, 5)
    (lot,) = await ledger.lots(world.volunteer_a)
    assert lot.expires_at == datetime(2026, 12, 31, 16, 0, tzinfo=UTC)


def test_lot_expiry_follows_the_years_of_the_policy() -> None:
    issued = datetime(2025, 6, 1, tzinfo=UTC)
    assert service.lot_expiry(issued, "Asia/Shanghai", years=0) == datetime(
        2025, 12, 31, 16, 0, tzinfo=UTC
    )
    assert service.lot_expiry(issued, "Asia/Shanghai", years=2) == datetime(
        2027, 12, 31, 16, 0, tzinfo=UTC
    )


async def test_accounts_are_created_once_per_owner(ledger: Ledger, world: Any) -> None:
    first = await ledger.wallet_id(world.volunteer_a)
    again = await ledger.wallet_id(world.volunteer_a)
    other = await ledger.wallet_id(world.volunteer_b)
    assert first == again != other
    issuance = await ledger.system(world.region.id, AccountKind.issuance)
    expired = await ledger.system(world.region.id, AccountKind.expired)
    assert issuance.allow_negative
    assert not expired.allow_negative
    assert issuance.owner_id == world.region.id
    assert (await ledger.system(world.region.id, AccountKind.issuance)).id == issuance.id


async def test_only_the_regions_own_kinds_are_system_accounts(ledger: Ledger, world: Any) -> None:
    with pytest.raises(AccountKindNotAllowed):
        await ledger.system(world.region.id, AccountKind.wallet)


async def test_spend_draws_the_lot_that_expires_first(ledger: Ledger, world: Any) -> None:
    with clock.travel(datetime(2025, 3, 1, tzinfo=UTC)):
        late = await ledger.issue(world.volunteer_a, 10)
        early = await ledger.issue(
            world.volunteer_a, 10, expires_at=datetime(2025, 12, 31, 16, tzinfo=UTC)
        )
        shop = await ledger.merchant(world.region.id)
        spend = await ledger.spend(world.volunteer_a, 15, shop)

    lots = {lot.transaction_id: lot for lot in await ledger.lots(world.volunteer_a)}
    assert lots[early.id].remaining == 0
    assert lots[late.id].remaining == 5
    draws = await ledger.scalar_all(
        LotEntry.__table__.select().where(LotEntry.transaction_id == spend.id)
    )
    assert sorted((r.lot_id, r.amount) for r in draws) == sorted(
        [(lots[early.id].id, -10), (lots[late.id].id, -5)]
    )
    assert (await ledger.balance(shop)).posted == 15
    assert (await ledger.available(world.volunteer_a)) == 5
    assert (await ledger.verify()).ok


async def test_a_spend_beyond_the_balance_is_refused_and_changes_nothing(
    ledger: Ledger, world: Any
) -> None:
    await ledger.issue(world.volunteer_a, 10)
    shop = await ledger.merchant(world.region.id)

    with pytest.raises(InsufficientBalance) as refused:
        await ledger.spend(world.volunteer_a, 11, shop)

    assert refused.value.status == 409
    assert refused.value.extra == {"available": 10, "requested": 11}
    assert (await ledger.available(world.volunteer_a)) == 10
    assert (await ledger.balance(shop)).posted == 0
    assert await ledger.count(LedgerTransaction) == 1


async def test_a_volunteer_without_a_wallet_cannot_spend(ledger: Ledger, world: Any) -> None:
    shop = await ledger.merchant(world.region.id)
    with pytest.raises(InsufficientBalance) as refused:
        await ledger.spend(world.volunteer_b, 1, shop)
    assert refused.value.extra == {"available": 0, "requested": 1}


async def test_an_expired_lot_cannot_be_spent_before_the_expiry_job_runs(
    ledger: Ledger, world: Any
) -> None:
    with clock.travel(datetime(2025, 6, 1, tzinfo=UTC)):
        await ledger.issue(world.volunteer_a, 10, expires_at=datetime(2025, 7, 1, tzinfo=UTC))
        shop = await ledger.merchant(world.region.id)
    with clock.travel(datetime(2025, 7, 2, tzinfo=UTC)), pytest.raises(InsufficientBalance):
        await ledger.spend(world.volunteer_a, 1, shop)
    assert (await ledger.balance(shop)).posted == 0


async def test_a_refusal_for_lapsed_lots_names_what_the_live_ones_cover(
    ledger: Ledger, world: Any
) -> None:
    with clock.travel(datetime(2025, 6, 1, tzinfo=UTC)):
        await ledger.issue(world.volunteer_a, 10, expires_at=datetime(2025, 7, 1, tzinfo=UTC))
        await ledger.issue(world.volunteer_a, 10)
        shop = await ledger.merchant(world.region.id)
    with clock.travel(datetime(2025, 7, 2, tzinfo=UTC)):
        with pytest.raises(InsufficientBalance) as refused:
            await ledger.spend(world.volunteer_a, 15, shop)
        assert refused.value.extra == {"available": 10, "requested": 15}
        spent = await ledger.spend(world.volunteer_a, 10, shop)

    assert sum(p.amount for p in spent.postings if p.amount > 0) == 10
    assert (await ledger.balance(shop)).posted == 10
    assert (await ledger.available(world.volunteer_a)) == 10  # the lapsed lot, until the job
    assert (await ledger.verify()).ok


@pytest.mark.parametrize("amount", [0, -5, 10**13])
async def test_amounts_are_positive_whole_numbers(ledger: Ledger, world: Any, amount: int) -> None:
    shop = await ledger.merchant(world.region.id)
    with pytest.raises(InvalidAmount):
        await ledger.issue(world.volunteer_a, amount)
    with pytest.raises(InvalidAmount):
        await ledger.spend(world.volunteer_a, amount, shop)
    assert await ledger.count(LedgerTransaction) == 0


async def test_a_spend_goes_to_a_merchant_or_system_account_of_the_region(
    ledger: Ledger, world: Any
) -> None:
    await ledger.issue(world.volunteer_a, 10)
    wallet_b = await ledger.run(
        service.wallet_account, region_id=world.region.id, volunteer_id=world.volunteer_b.id
    )
    elsewhere = await ledger.merchant(world.other_region.id)

    with pytest.raises(AccountKindNotAllowed):
        await ledger.spend(world.volunteer_a, 1, wallet_b)
    with pytest.raises(AccountNotFound):
        await ledger.spend(world.volunteer_a, 1, elsewhere)
    assert (await ledger.available(world.volunteer_a)) == 10
    assert (await ledger.verify()).ok


async def test_a_caller_chosen_id_makes_a_retry_return_the_first_transaction(
    ledger: Ledger, world: Any
) -> None:
    await ledger.issue(world.volunteer_a, 10)
    shop = await ledger.merchant(world.region.id)
    chosen = uuid.uuid4()
    reference = str(uuid.uuid4())

    first = await ledger.spend(
        world.volunteer_a, 4, shop, transaction_id=chosen, reference_id=reference
    )
    again = await ledger.spend(
        world.volunteer_a, 4, shop, transaction_id=chosen, reference_id=reference
    )

    assert first.id == again.id == chosen
    assert (await ledger.available(world.volunteer_a)) == 6
    with pytest.raises(TransactionIdConflict):
        await ledger.spend(world.volunteer_a, 5, shop, transaction_id=chosen)


async def test_issue_with_a_caller_chosen_id_issues_once(ledger: Ledger, world: Any) -> None:
    chosen = uuid.uuid4()
    for _ in range(2):
        await ledger.issue(world.volunteer_a, 10, transaction_id=chosen, reference_id="hours-1")
    assert (await ledger.available(world.volunteer_a)) == 10
    assert len(await ledger.lots(world.volunteer_a)) == 1
