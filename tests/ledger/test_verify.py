"""`verify-ledger` passes a sound ledger and names the row of every kind of tampering.

Tampering needs the append-only triggers out of the way: on PostgreSQL the session
runs as a replica (`session_replication_role`), which skips triggers; on SQLite the
table's triggers are dropped and recreated around the change.
"""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import text

from app.ledger.models import AccountKind
from tests.ledger.support import Ledger


async def tamper(ledger: Ledger, table: str, sql: str, **params: Any) -> None:
    async with ledger.sessions() as session, session.begin():
        if ledger.dialect == "postgresql":
            await session.execute(text("SET LOCAL session_replication_role = replica"))
            await session.execute(text(sql), params)
            return
        triggers = (
            await session.execute(
                text(
                    "SELECT name, sql FROM sqlite_master WHERE type = 'trigger' AND tbl_name = :t"
                ),
                {"t": table},
            )
        ).all()
        for name, _ in triggers:
            await session.execute(text(f'DROP TRIGGER "{name}"'))
        await session.execute(text(sql), params)
        for _, create in triggers:
            await session.execute(text(create))


@pytest.fixture
async def spent(ledger: Ledger, world: Any) -> dict[str, Any]:
    """Volunteer A: issued 20, spent 8 at a shop, 3 of it refunded."""
    await ledger.issue(world.volunteer_a, 20)
    shop = await ledger.merchant(world.region.id)
    spend = await ledger.spend(world.volunteer_a, 8, shop)
    await ledger.refund(spend, 3)
    return {"shop": shop, "spend": spend, "wallet_id": await ledger.wallet_id(world.volunteer_a)}


async def _problems(ledger: Ledger) -> str:
    report = await ledger.verify()
    assert not report.ok
    return "\n".join(report.problems)


async def test_a_sound_ledger_verifies(ledger: Ledger, spent: dict[str, Any]) -> None:
    report = await ledger.verify()
    assert report.ok, report.problems
    assert (report.transactions, report.postings, report.lots) == (3, 6, 1)
    assert report.postings_total == 0


@pytest.mark.database_owner
async def test_an_edited_amount_is_caught(ledger: Ledger, spent: dict[str, Any]) -> None:
    posting_id = await ledger.scalar("SELECT MIN(id) FROM ledger_postings WHERE amount = 8")
    await tamper(
        ledger,
        "ledger_postings",
        "UPDATE ledger_postings SET amount = 80 WHERE id = :p",
        p=posting_id,
    )

    problems = await _problems(ledger)
    spend = spent["spend"]
    assert f"transaction {spend.id} (seq {spend.seq}): 2 postings summing to 72" in problems
    assert f"account {spent['shop'].id} (merchant): cached posted balance 5" in problems


@pytest.mark.database_owner
async def test_a_deleted_posting_is_caught(ledger: Ledger, spent: dict[str, Any]) -> None:
    posting_id = await ledger.scalar("SELECT MIN(id) FROM ledger_postings WHERE amount = -8")
    await tamper(
        ledger, "ledger_postings", "DELETE FROM ledger_postings WHERE id = :p", p=posting_id
    )

    problems = await _problems(ledger)
    assert f"transaction {spent['spend'].id} (seq {spent['spend'].seq}): 1 postings" in problems
    assert f"account {spent['wallet_id']} (wallet): cached posted balance 15" in problems
    assert f"its posting to wallet {spent['wallet_id']} differs by 8" in problems


@pytest.mark.database_owner
async def test_an_inserted_posting_is_caught(ledger: Ledger, spent: dict[str, Any]) -> None:
    posting_id = await ledger.scalar("SELECT MIN(id) FROM ledger_postings WHERE amount = 8")
    await tamper(
        ledger,
        "ledger_postings",
        "INSERT INTO ledger_postings (region_id, transaction_id, account_id, amount) "
        "SELECT region_id, transaction_id, account_id, 8 FROM ledger_postings WHERE id = :p",
        p=posting_id,
    )

    problems = await _problems(ledger)
    assert f"transaction {spent['spend'].id} (seq {spent['spend'].seq}): 3 postings" in problems
    assert "all postings sum to 8, not 0" in problems


@pytest.mark.database_owner
async def test_a_forged_balanced_credit_with_its_cache_updated_is_caught(
    ledger: Ledger, world: Any, spent: dict[str, Any]
) -> None:
    # Copy the refund's wallet credit as a new balanced pair in the same transaction and
    # bump the cached balances to match: only the lots can tell.
    refund_seq = await ledger.scalar("SELECT seq FROM ledger_transactions WHERE kind = 'refund'")
    for amount in (3, -3):
        await tamper(
            ledger,
            "ledger_postings",
            "INSERT INTO ledger_postings (region_id, transaction_id, account_id, amount) "
            "SELECT p.region_id, p.transaction_id, p.account_id, :amount "
            "FROM ledger_postings p JOIN ledger_transactions t ON t.id = p.transaction_id "
            "WHERE t.seq = :seq AND p.amount = :amount",
            seq=refund_seq,
            amount=amount,
        )
    await ledger.execute("UPDATE ledger_accounts SET posted = posted + 3 WHERE kind = 'wallet'")
    await ledger.execute("UPDATE ledger_accounts SET posted = posted - 3 WHERE kind = 'merchant'")

    problems = await _problems(ledger)
    assert f"wallet {spent['wallet_id']}: balance 18, but its lots hold 15" in problems
    assert f"its posting to wallet {spent['wallet_id']} differs by 3" in problems


async def test_an_edited_cached_balance_is_caught(
    ledger: Ledger, world: Any, spent: dict[str, Any]
) -> None:
    await ledger.execute("UPDATE ledger_accounts SET posted = posted + 100 WHERE kind = 'issuance'")
    issuance = await ledger.system(world.region.id, AccountKind.issuance)

    problems = await _problems(ledger)
    assert (
        f"account {issuance.id} (issuance): cached posted balance 80, but its postings sum to -20"
        in problems
    )


async def test_an_edited_lot_remainder_is_caught(ledger: Ledger, spent: dict[str, Any]) -> None:
    await ledger.execute("UPDATE ledger_lots SET remaining = remaining + 1")
    lot_id = await ledger.scalar("SELECT id FROM ledger_lots")

    problems = await _problems(ledger)
    assert "cached remainder 16, but its credit and entries give 15" in problems
    assert f"wallet {spent['wallet_id']}: balance 15, but its lots hold 16" in problems
    assert lot_id is not None
