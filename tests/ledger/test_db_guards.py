"""The database's own guards (migration 0009), each met head-on by a raw statement.

The service never writes these rows; each test writes one around it, as a bug or
someone holding the database credentials would, and expects the constraint or
trigger named in the test to refuse it. On PostgreSQL a transaction whose postings
do not balance is refused at commit; SQLite cannot defer a check, so there the
service's check guards the balance and `verify-ledger` reports what got past it.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any, cast

import pytest
from sqlalchemy import Table, delete, func, insert, select, update
from sqlalchemy.exc import DBAPIError, IntegrityError

from app.core import clock
from app.ledger import repository as repo
from app.ledger import service
from app.ledger.models import (
    Account,
    AccountKind,
    Hold,
    HoldLot,
    HoldResolution,
    LedgerTransaction,
    Lot,
    LotEntry,
    Posting,
    TxKind,
)
from app.ledger.sealing import Block, SealedTransaction
from tests.ledger.sealing_support import seal
from tests.ledger.support import Ledger

accounts = cast(Table, Account.__table__)
transactions = cast(Table, LedgerTransaction.__table__)
postings = cast(Table, Posting.__table__)
lots = cast(Table, Lot.__table__)
lot_entries = cast(Table, LotEntry.__table__)
holds = cast(Table, Hold.__table__)
hold_lots = cast(Table, HoldLot.__table__)
resolutions = cast(Table, HoldResolution.__table__)
blocks = cast(Table, Block.__table__)
sealed_rows = cast(Table, SealedTransaction.__table__)


@pytest.fixture
async def rows(ledger: Ledger, world: Any) -> dict[str, Any]:
    """Volunteer A: issued 20, spent 5 at a shop (2 refunded), a posted hold of 3 and an
    open hold of 1. The wallet has posted 14, pending 1; its one lot remaining 14,
    reserved 1."""
    region_id = world.region.id
    issued = await ledger.issue(world.volunteer_a, 20)
    shop = await ledger.merchant(region_id)
    spend = await ledger.spend(world.volunteer_a, 5, shop)
    await ledger.refund(spend, 2)
    hold_args = {
        "region_id": region_id,
        "volunteer_id": world.volunteer_a.id,
        "to_account_id": shop.id,
        "reference_type": "redemption",
        "reference_id": "r",
        "actor": "terminal:test",
    }
    posted = await ledger.run(service.hold_from_wallet, amount=3, **hold_args)
    await ledger.run(service.post_hold, hold_id=posted.id, actor="terminal:test")
    open_hold = await ledger.run(service.hold_from_wallet, amount=1, **hold_args)
    issuance = await ledger.system(region_id, AccountKind.issuance)
    (lot,) = await ledger.lots(world.volunteer_a)
    return {
        "region_id": region_id,
        "wallet_id": await ledger.wallet_id(world.volunteer_a),
        "shop_id": shop.id,
        "issuance_id": issuance.id,
        "issued_id": issued.id,
        "spend_id": spend.id,
        "open_hold_id": open_hold.id,
        "lot_id": lot.id,
        "volunteer_b": world.volunteer_b.id,
    }


def _transaction(r: dict[str, Any], **values: Any) -> dict[str, Any]:
    return {
        "id": uuid.uuid4(),
        "region_id": r["region_id"],
        "kind": TxKind.issue.value,
        "reference_type": "raw",
        "reference_id": "raw",
        "actor": "raw",
        "metadata": {},
        "created_at": clock.now(),
        "reverses_id": None,
        "refunds_id": None,
        **values,
    }


def _lot_entry(r: dict[str, Any], kind: str, amount: int) -> Any:
    return insert(lot_entries).values(
        region_id=r["region_id"],
        lot_id=r["lot_id"],
        transaction_id=r["issued_id"],
        kind=kind,
        amount=amount,
    )


def _hold(r: dict[str, Any], amount: int) -> Any:
    return insert(holds).values(
        id=uuid.uuid4(),
        region_id=r["region_id"],
        account_id=r["wallet_id"],
        to_account_id=r["shop_id"],
        amount=amount,
        expires_at=clock.now(),
        reference_type="raw",
        reference_id="raw",
        actor="raw",
        metadata={},
        created_at=clock.now(),
    )


def _resolution(r: dict[str, Any], status: str, posted: int, with_tx: bool) -> Any:
    return insert(resolutions).values(
        region_id=r["region_id"],
        hold_id=r["open_hold_id"],
        status=status,
        posted_amount=posted,
        transaction_id=r["spend_id"] if with_tx else None,
        actor="raw",
        created_at=clock.now(),
    )


def _lot(r: dict[str, Any], **values: Any) -> Any:
    return insert(lots).values(
        id=uuid.uuid4(),
        region_id=r["region_id"],
        account_id=r["wallet_id"],
        transaction_id=r["issued_id"],
        expires_at=clock.now(),
        created_at=clock.now(),
        **values,
    )


def _set_lot(r: dict[str, Any], **values: Any) -> Any:
    return update(lots).where(lots.c.id == r["lot_id"]).values(**values)


def _set_account(key: str, **values: Any) -> Callable[[dict[str, Any]], Any]:
    return lambda r: update(accounts).where(accounts.c.id == r[key]).values(**values)


# (constraint, the statement it refuses, built from the fixture's rows)
ROW_VIOLATIONS: list[tuple[str, Callable[[dict[str, Any]], Any]]] = [
    # The wallet has posted 14 and pending 1: 0 posted leaves -1 available.
    ("ck_ledger_accounts_no_overdraft", _set_account("wallet_id", posted=0)),
    ("ck_ledger_accounts_no_overdraft", _set_account("wallet_id", pending=15)),
    # The issuance account may go negative, but nothing holds on it.
    ("ck_ledger_accounts_pending_not_negative", _set_account("issuance_id", pending=-1)),
    (
        "ck_ledger_accounts_overdraft_only_issuance",
        lambda r: insert(accounts).values(
            id=uuid.uuid4(),
            region_id=r["region_id"],
            kind=AccountKind.wallet.value,
            owner_id=r["volunteer_b"],
            allow_negative=True,
            posted=0,
            pending=0,
            created_at=clock.now(),
        ),
    ),
    (
        "ck_ledger_transactions_one_link",
        lambda r: insert(transactions).values(
            _transaction(
                r, kind=TxKind.reverse.value, reverses_id=r["issued_id"], refunds_id=r["spend_id"]
            )
        ),
    ),
    (
        "ck_ledger_transactions_reversal_linked",
        lambda r: insert(transactions).values(_transaction(r, kind=TxKind.reverse.value)),
    ),
    (
        "ck_ledger_transactions_reversal_linked",
        lambda r: insert(transactions).values(_transaction(r, reverses_id=r["issued_id"])),
    ),
    (
        "ck_ledger_postings_amount_not_zero",
        lambda r: insert(postings).values(
            region_id=r["region_id"],
            transaction_id=r["issued_id"],
            account_id=r["wallet_id"],
            amount=0,
        ),
    ),
    ("ck_ledger_lots_amount_positive", lambda r: _lot(r, amount=0, remaining=0, reserved=0)),
    ("ck_ledger_lots_bounds", lambda r: _lot(r, amount=5, remaining=6, reserved=0)),
    ("ck_ledger_lots_bounds", lambda r: _set_lot(r, reserved=15)),
    ("ck_ledger_lots_bounds", lambda r: _set_lot(r, reserved=-1)),
    ("ck_ledger_lots_bounds", lambda r: _set_lot(r, remaining=21, reserved=0)),
    ("ck_ledger_lots_bounds", lambda r: _set_lot(r, remaining=-1, reserved=-1)),
    ("ck_ledger_lot_entries_signed", lambda r: _lot_entry(r, "draw", 1)),
    ("ck_ledger_lot_entries_signed", lambda r: _lot_entry(r, "expire", 1)),
    ("ck_ledger_lot_entries_signed", lambda r: _lot_entry(r, "restore", -1)),
    ("ck_ledger_lot_entries_signed", lambda r: _lot_entry(r, "restore_expired", -1)),
    ("ck_ledger_lot_entries_signed", lambda r: _lot_entry(r, "gift", 1)),
    ("ck_ledger_holds_amount_positive", lambda r: _hold(r, 0)),
    (
        "ck_ledger_hold_lots_amount_positive",
        lambda r: insert(hold_lots).values(
            region_id=r["region_id"], hold_id=r["open_hold_id"], lot_id=r["lot_id"], amount=0
        ),
    ),
    ("ck_ledger_hold_resolutions_outcome", lambda r: _resolution(r, "posted", 0, True)),
    ("ck_ledger_hold_resolutions_outcome", lambda r: _resolution(r, "posted", 1, False)),
    ("ck_ledger_hold_resolutions_outcome", lambda r: _resolution(r, "voided", 1, False)),
    ("ck_ledger_hold_resolutions_outcome", lambda r: _resolution(r, "expired", 0, True)),
    ("ck_ledger_hold_resolutions_outcome", lambda r: _resolution(r, "lost", 0, False)),
]


@pytest.mark.parametrize(
    ("constraint", "statement"),
    ROW_VIOLATIONS,
    ids=[f"{name}-{i}" for i, (name, _) in enumerate(ROW_VIOLATIONS)],
)
async def test_a_row_no_ledger_could_hold_is_refused(
    ledger: Ledger,
    rows: dict[str, Any],
    constraint: str,
    statement: Callable[[dict[str, Any]], Any],
) -> None:
    with pytest.raises(IntegrityError, match=constraint):
        async with ledger.sessions() as session, session.begin():
            await session.execute(statement(rows))
    assert (await ledger.verify()).ok


async def test_the_rows_next_to_each_bound_are_accepted(
    ledger: Ledger, rows: dict[str, Any]
) -> None:
    # At each bound, not past it: the checks refuse only what no flow writes.
    async with ledger.sessions() as session:
        for statement in (
            _set_account("wallet_id", posted=1)(rows),  # available 0
            _set_lot(rows, remaining=1, reserved=1),
            _set_lot(rows, remaining=20, reserved=0),
            _set_account("issuance_id", posted=-(10**9))(rows),
            _lot(rows, amount=1, remaining=1, reserved=0),
            _lot_entry(rows, "restore", 1),
            _hold(rows, 1),
            _resolution(rows, "voided", 0, False),
        ):
            await session.execute(statement)
        await session.rollback()


# --- the sealed history is append-only; TRUNCATE is refused ------------------------------


@pytest.mark.parametrize("table", [blocks, sealed_rows], ids=lambda t: t.name)
@pytest.mark.database_owner
async def test_a_sealed_fact_cannot_be_changed_or_removed(
    app: Any, ledger: Ledger, rows: dict[str, Any], table: Table
) -> None:
    assert await seal(app) > 0
    before = await ledger.count(table)
    change = (
        update(blocks).values(merkle_root="0" * 64)
        if table is blocks
        else update(sealed_rows).values(leaf_hash="0" * 64)
    )
    for statement in (change, delete(table)):
        with pytest.raises(DBAPIError, match="append-only"):
            async with ledger.sessions() as session, session.begin():
                await session.execute(statement)
    assert await ledger.count(table) == before
    assert (await ledger.verify()).ok


NO_TRUNCATE = [
    "ledger_accounts",
    "ledger_transactions",
    "ledger_postings",
    "ledger_lots",
    "ledger_lot_entries",
    "ledger_holds",
    "ledger_hold_lots",
    "ledger_hold_resolutions",
    "ledger_blocks",
    "ledger_sealed_transactions",
    "ledger_signing_keys",
    "ledger_seal_states",
    "reward_issuances",
]


@pytest.mark.postgres_only
@pytest.mark.parametrize("table", NO_TRUNCATE)
@pytest.mark.database_owner
async def test_truncate_is_refused(
    app: Any, ledger: Ledger, rows: dict[str, Any], table: str
) -> None:
    await seal(app)
    before = await ledger.scalar(f"SELECT COUNT(*) FROM {table}")  # noqa: S608
    # CASCADE, so that the foreign keys do not refuse it first: the trigger must.
    with pytest.raises(DBAPIError, match=f"TRUNCATE on {table} refused"):
        await ledger.execute(f"TRUNCATE {table} CASCADE")
    assert await ledger.scalar(f"SELECT COUNT(*) FROM {table}") == before  # noqa: S608


# --- a transaction's postings balance ---------------------------------------------------


async def _write_raw(
    ledger: Ledger, r: dict[str, Any], amounts: list[int], *, account_keys: list[str]
) -> uuid.UUID:
    """A transaction and its postings, inserted around the service, in one commit."""
    values = _transaction(r)
    async with ledger.sessions() as session, session.begin():
        await session.execute(insert(transactions).values(values))
        for amount, key in zip(amounts, account_keys, strict=False):
            await session.execute(
                insert(postings).values(
                    region_id=r["region_id"],
                    transaction_id=values["id"],
                    account_id=r[key],
                    amount=amount,
                )
            )
    return uuid.UUID(str(values["id"]))


@pytest.mark.postgres_only
@pytest.mark.parametrize(
    "amounts",
    [[-5, 4], [5, -5, 1], [-5], []],
    ids=["unbalanced", "three-unbalanced", "one-posting", "no-postings"],
)
async def test_an_unbalanced_transaction_is_refused_at_commit(
    ledger: Ledger, rows: dict[str, Any], amounts: list[int]
) -> None:
    before = await ledger.count(LedgerTransaction)
    with pytest.raises(IntegrityError, match="is unbalanced"):
        await _write_raw(
            ledger, rows, amounts, account_keys=["shop_id", "issuance_id", "wallet_id"]
        )
    assert await ledger.count(LedgerTransaction) == before


@pytest.mark.postgres_only
async def test_a_posting_added_to_a_committed_transaction_is_refused_at_commit(
    ledger: Ledger, rows: dict[str, Any]
) -> None:
    with pytest.raises(
        IntegrityError, match=f"ledger transaction {rows['spend_id']} is unbalanced"
    ):
        async with ledger.sessions() as session, session.begin():
            await session.execute(
                insert(postings).values(
                    region_id=rows["region_id"],
                    transaction_id=rows["spend_id"],
                    account_id=rows["shop_id"],
                    amount=1,
                )
            )
    assert (await ledger.verify()).ok


@pytest.mark.postgres_only
async def test_a_balanced_transaction_written_around_the_service_commits(
    ledger: Ledger, rows: dict[str, Any]
) -> None:
    # The balance trigger refuses only what does not balance, however many postings.
    tx_id = await _write_raw(
        ledger, rows, [-5, 2, 3], account_keys=["issuance_id", "shop_id", "wallet_id"]
    )
    total = await ledger.scalar(
        select(func.sum(Posting.amount)).where(Posting.transaction_id == tx_id)
    )
    assert total == 0


async def test_a_write_past_the_service_check_is_refused_or_reported(
    ledger: Ledger, rows: dict[str, Any]
) -> None:
    """The repository writes what it is given. PostgreSQL refuses an unbalanced
    transaction at commit; SQLite commits it, and `verify-ledger` names it."""
    values = _transaction(rows)
    unbalanced = [
        {
            "region_id": rows["region_id"],
            "transaction_id": values["id"],
            "account_id": a,
            "amount": n,
        }
        for a, n in ((rows["issuance_id"], -5), (rows["shop_id"], 4))
    ]

    async def write() -> None:
        async with ledger.sessions() as session, session.begin():
            await repo.insert_transaction(session, values, unbalanced)

    if ledger.dialect == "postgresql":
        with pytest.raises(IntegrityError, match="is unbalanced"):
            await write()
        assert (await ledger.verify()).ok
        return
    await write()
    report = await ledger.verify()
    assert f"transaction {values['id']}" in "\n".join(report.problems)
    assert "2 postings summing to -1" in "\n".join(report.problems)
