"""The database itself refuses to change or remove ledger facts, on both backends."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy.exc import DBAPIError

from app.ledger import service
from app.ledger.models import LedgerTransaction, Posting
from tests.ledger.support import Ledger

FACT_TABLES = [
    ("ledger_transactions", "actor = 'someone else'"),
    ("ledger_postings", "amount = amount + 1"),
    ("ledger_lot_entries", "amount = amount - 1"),
    ("ledger_holds", "amount = amount + 1"),
    ("ledger_hold_lots", "amount = amount + 1"),
    ("ledger_hold_resolutions", "posted_amount = 0"),
    # Accounts and lots keep cached balances that move; who and what they are does not.
    ("ledger_accounts", "owner_id = region_id"),
    ("ledger_accounts", "allow_negative = true"),
    ("ledger_lots", "amount = amount + 1"),
    ("ledger_lots", "expires_at = created_at"),
]


@pytest.fixture
async def busy_ledger(ledger: Ledger, world: Any) -> Ledger:
    """A ledger with a row in every table: issue, spend, refund, a posted hold."""
    await ledger.issue(world.volunteer_a, 20)
    shop = await ledger.merchant(world.region.id)
    spend = await ledger.spend(world.volunteer_a, 5, shop)
    await ledger.refund(spend, 2)
    hold = await ledger.run(
        service.hold_from_wallet,
        region_id=world.region.id,
        volunteer_id=world.volunteer_a.id,
        to_account_id=shop.id,
        amount=3,
        reference_type="redemption",
        reference_id="r",
        actor="t",
    )
    await ledger.run(service.post_hold, hold_id=hold.id, actor="t")
    return ledger


@pytest.mark.parametrize(("table", "change"), FACT_TABLES)
@pytest.mark.database_owner
async def test_a_raw_update_of_a_ledger_fact_fails(
    busy_ledger: Ledger, table: str, change: str
) -> None:
    with pytest.raises(DBAPIError, match="append-only"):
        await busy_ledger.execute(f"UPDATE {table} SET {change}")  # noqa: S608


@pytest.mark.parametrize("table", sorted({table for table, _ in FACT_TABLES}))
@pytest.mark.database_owner
async def test_a_raw_delete_of_a_ledger_fact_fails(busy_ledger: Ledger, table: str) -> None:
    rows = await busy_ledger.scalar(f"SELECT COUNT(*) FROM {table}")  # noqa: S608
    with pytest.raises(DBAPIError, match="append-only"):
        await busy_ledger.execute(f"DELETE FROM {table}")  # noqa: S608
    assert await busy_ledger.scalar(f"SELECT COUNT(*) FROM {table}") == rows  # noqa: S608


async def test_the_ledger_is_intact_after_the_refused_changes(busy_ledger: Ledger) -> None:
    for table, change in FACT_TABLES:
        with pytest.raises(DBAPIError):
            await busy_ledger.execute(f"UPDATE {table} SET {change}")  # noqa: S608
    assert await busy_ledger.count(LedgerTransaction) == 4
    assert await busy_ledger.count(Posting) == 8
    assert (await busy_ledger.verify()).ok
