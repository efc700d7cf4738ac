"""The service's own guards, each met where it alone decides.

Every invariant has a second guard behind the first (the database's constraints, a
later check in the service). These tests set up the case the first guard must
refuse while a backup would refuse it differently, or not at all, and assert the
first guard's own answer: its error, its code, and that nothing was written first.
"""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from sqlalchemy import insert, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from app.core import clock
from app.ledger import repository as repo
from app.ledger import service
from app.ledger.errors import AlreadyReversed, InsufficientBalance, InvalidPostings
from app.ledger.models import Account, AccountKind, LedgerTransaction, TxKind
from app.ledger.service import transactions
from tests.ledger.support import Ledger

# --- invariant 1: a transaction's postings sum to zero ------------------------------------


def _rows(postings: list[tuple[uuid.UUID, int]]) -> Any:
    entry = transactions.Entry(
        region_id=uuid.uuid4(), kind=TxKind.adjust, reference_type="t", reference_id="t", actor="t"
    )
    return transactions.transaction_rows(entry, postings, now=None)


A, B, C = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()


@pytest.mark.parametrize(
    "postings",
    [[(A, -5), (B, 4)], [(A, -5), (B, 5), (C, 1)], [(A, 0)], [(A, 5), (B, 0)], []],
    ids=["unbalanced", "three-unbalanced", "one-zero", "one-left-of-two", "none"],
)
def test_transaction_rows_refuse_a_set_that_does_not_balance(
    postings: list[tuple[uuid.UUID, int]],
) -> None:
    with pytest.raises(InvalidPostings):
        _rows(postings)


def test_transaction_rows_drop_zero_postings_and_keep_the_rest() -> None:
    values, rows = _rows([(A, -5), (C, 0), (B, 5)])

    assert [(r["account_id"], r["amount"]) for r in rows] == [(A, -5), (B, 5)]
    assert all(r["transaction_id"] == values["id"] for r in rows)


async def _balances(session: AsyncSession, *ids: uuid.UUID) -> list[tuple[int, int]]:
    rows = await session.execute(
        select(Account.posted, Account.pending).where(Account.id.in_(ids)).order_by(Account.id)
    )
    return [(int(p), int(q)) for p, q in rows]


@pytest.fixture
async def accounts(ledger: Ledger, world: Any) -> dict[str, uuid.UUID]:
    """A shop holding 10 (a spend of 10 from volunteer A's 20), and the region's own."""
    await ledger.issue(world.volunteer_a, 20)
    shop = await ledger.merchant(world.region.id)
    spend = await ledger.spend(world.volunteer_a, 10, shop)
    ids = {"shop": shop.id, "spend": spend.id}
    for kind in (AccountKind.settled, AccountKind.expired, AccountKind.issuance):
        ids[kind.value] = (await ledger.system(world.region.id, kind)).id
    return ids


# Each set is refused by transfer's own check. Behind it, `transaction_rows` would
# refuse some only after the debits and credits were written, and others not at all.
TRANSFER_SETS: dict[str, list[tuple[str, Any]]] = {
    "unbalanced": [("shop", -5), ("settled", 4)],
    "same-account-twice": [("shop", -5), ("shop", 5)],
    "a-zero-posting": [("shop", -5), ("settled", 5), ("expired", 0)],
    "a-boolean-amount": [("shop", -1), ("settled", True)],
    "above-the-largest-amount": [("issuance", -(service.MAX_AMOUNT + 1)), ("settled", 10**12 + 1)],
    "one-posting": [("shop", -5)],
}


@pytest.mark.parametrize("name", list(TRANSFER_SETS))
async def test_transfer_refuses_an_invalid_set_before_it_moves_anything(
    ledger: Ledger, world: Any, accounts: dict[str, uuid.UUID], name: str
) -> None:
    postings = [(accounts[key], amount) for key, amount in TRANSFER_SETS[name]]
    ids = [accounts[k] for k in ("shop", "settled", "expired", "issuance")]
    async with ledger.sessions() as session:
        before = await _balances(session, *ids)
        with pytest.raises(InvalidPostings):
            await service.transfer(
                session,
                region_id=world.region.id,
                kind=TxKind.settle,
                postings=postings,
                reference_type="settlement",
                reference_id=name,
                actor="system:settlement",
            )
        # Read inside the refused unit of work, before its rollback.
        assert await _balances(session, *ids) == before
        await session.rollback()
    assert (await ledger.verify()).ok


async def test_transfer_refuses_no_postings_before_it_looks_for_a_retry(
    ledger: Ledger, world: Any, accounts: dict[str, uuid.UUID]
) -> None:
    # An empty set under the id of an existing transaction: the set is what is wrong.
    with pytest.raises(InvalidPostings):
        await ledger.run(
            service.transfer,
            region_id=world.region.id,
            kind=TxKind.settle,
            postings=[],
            reference_type="settlement",
            reference_id="empty",
            actor="system:settlement",
            transaction_id=accounts["spend"],
        )


async def test_posting_an_unbalanced_set_is_refused_before_it_is_written(
    ledger: Ledger, world: Any, accounts: dict[str, uuid.UUID]
) -> None:
    before = await ledger.count(LedgerTransaction)
    with pytest.raises(InvalidPostings):
        await ledger.run(
            transactions.new_transaction,
            entry=transactions.Entry(
                region_id=world.region.id,
                kind=TxKind.adjust,
                reference_type="adjustment",
                reference_id="x",
                actor="t",
            ),
            postings=[(accounts["shop"], -3), (accounts["settled"], 2)],
        )
    assert await ledger.count(LedgerTransaction) == before
    assert await ledger.postings_total() == 0


# --- invariant 3: a wallet never goes below zero, holds counted as spent -------------------


@pytest.fixture
async def lots_cover_more(ledger: Ledger, world: Any) -> dict[str, Any]:
    """Volunteer A's wallet with a lot of 10; `_cut_available_to_4` then leaves the lot
    10 free and the wallet 4 available, so that only the wallet's own balance condition
    stands between a debit of 5 and an overdraft."""
    await ledger.issue(world.volunteer_a, 10)
    shop = await ledger.merchant(world.region.id)
    wallet_id = await ledger.wallet_id(world.volunteer_a)
    return {"shop": shop, "wallet_id": wallet_id}


async def _cut_available_to_4(
    ledger: Ledger, world: Any, wallet_id: uuid.UUID, shop: Account, via: str
) -> None:
    """Through `posted` (cut from 10 to 4 by hand) or `pending` (a hold of 6 whose lot
    reservation is released by hand)."""
    if via == "posted":
        await ledger.execute("UPDATE ledger_accounts SET posted = 4 WHERE kind = 'wallet'")
    else:
        await ledger.run(
            service.hold_from_wallet,
            region_id=world.region.id,
            volunteer_id=world.volunteer_a.id,
            to_account_id=shop.id,
            amount=6,
            reference_type="redemption",
            reference_id="h",
            actor="t",
        )
        await ledger.execute("UPDATE ledger_lots SET reserved = 0")
    summary = await ledger.wallet(world.volunteer_a)
    assert summary.balance.available == 4
    assert summary.spendable == 10


@pytest.mark.parametrize("via", ["posted", "pending"])
async def test_the_wallet_debit_needs_available_to_cover_it_whatever_the_lots(
    ledger: Ledger, world: Any, lots_cover_more: dict[str, Any], via: str
) -> None:
    wallet_id, shop = lots_cover_more["wallet_id"], lots_cover_more["shop"]
    await _cut_available_to_4(ledger, world, wallet_id, shop, via)
    owner = {"region_id": world.region.id, "owner_id": world.volunteer_a.id}

    async with ledger.sessions() as session:
        before = await _balances(session, wallet_id)
        assert await repo.debit_wallet_of(session, amount=5, **owner) is None
        assert await repo.hold_on_wallet_of(session, amount=5, **owner) is None
        assert await _balances(session, wallet_id) == before
        # At the bound: all of what is available.
        assert await repo.debit_wallet_of(session, amount=4, **owner) == (wallet_id, 0)
        await session.rollback()
    async with ledger.sessions() as session:
        assert await repo.hold_on_wallet_of(session, amount=4, **owner) == wallet_id
        await session.rollback()


@pytest.mark.parametrize("via", ["posted", "pending"])
async def test_a_spend_or_hold_above_available_is_refused_as_insufficient(
    ledger: Ledger, world: Any, lots_cover_more: dict[str, Any], via: str
) -> None:
    # Refused by the domain (409 insufficient_balance), not by the database's CHECK.
    wallet_id, shop = lots_cover_more["wallet_id"], lots_cover_more["shop"]
    await _cut_available_to_4(ledger, world, wallet_id, shop, via)

    with pytest.raises(InsufficientBalance) as spent:
        await ledger.spend(world.volunteer_a, 5, shop)
    with pytest.raises(InsufficientBalance) as held:
        await ledger.run(
            service.hold_from_wallet,
            region_id=world.region.id,
            volunteer_id=world.volunteer_a.id,
            to_account_id=shop.id,
            amount=5,
            reference_type="redemption",
            reference_id="h2",
            actor="t",
        )
    for refusal in (spent.value, held.value):
        assert refusal.code == "insufficient_balance"
        assert refusal.extra == {"available": 4, "requested": 5}
        assert refusal.__cause__ is None
    assert (await ledger.available(world.volunteer_a)) == 4


async def test_a_no_overdraft_account_is_debited_only_as_far_as_it_holds(
    ledger: Ledger, world: Any, accounts: dict[str, uuid.UUID]
) -> None:
    region = {"region_id": world.region.id}
    async with ledger.sessions() as session:
        assert not await repo.debit(session, account_id=accounts["shop"], amount=11, **region)
        assert await _balances(session, accounts["shop"]) == [(10, 0)]
        assert await repo.debit(session, account_id=accounts["shop"], amount=10, **region)
        assert await _balances(session, accounts["shop"]) == [(0, 0)]
        # The issuance account is where 良票 come from: it goes below zero.
        assert await repo.debit(session, account_id=accounts["issuance"], amount=10**6, **region)
        # And an account of another region is not debited at all.
        assert not await repo.debit(
            session, account_id=accounts["issuance"], amount=1, region_id=world.other_region.id
        )
        await session.rollback()


# --- invariant 2: a transaction is reversed at most once -----------------------------------


async def _reversed_once(ledger: Ledger, world: Any, what: str) -> LedgerTransaction:
    """A transaction of `what` kind, partly reversed: some of it remains to reverse."""
    await ledger.issue(world.volunteer_a, 20)
    shop = await ledger.merchant(world.region.id)
    if what == "spend":
        tx = await ledger.spend(world.volunteer_a, 10, shop)
    elif what == "issue":
        tx = await ledger.issue(world.volunteer_a, 10)
    else:
        await ledger.spend(world.volunteer_a, 10, shop)
        settled = await ledger.system(world.region.id, AccountKind.settled)
        tx = await ledger.run(
            service.transfer,
            region_id=world.region.id,
            kind=TxKind.settle,
            postings=[(shop.id, -10), (settled.id, 10)],
            reference_type="settlement",
            reference_id="s",
            actor="system:settlement",
        )
    await ledger.reverse(tx, amount=3)
    return tx


@pytest.mark.parametrize("what", ["spend", "issue", "transfer"])
async def test_a_second_reversal_is_refused_by_the_reversal_check(
    ledger: Ledger, world: Any, what: str
) -> None:
    tx = await _reversed_once(ledger, world, what)
    before = await ledger.count(LedgerTransaction)

    # 1 of what remains: past the check, the reversal itself would go through.
    with pytest.raises(AlreadyReversed) as refused:
        await ledger.reverse(tx, amount=1)

    assert refused.value.code == "already_reversed"
    # Not the unique reverses_id's IntegrityError, turned into the same code.
    assert refused.value.__cause__ is None
    assert await ledger.count(LedgerTransaction) == before
    assert (await ledger.verify()).ok


async def test_a_fully_reversed_spend_answers_already_reversed_not_exceeds_remainder(
    ledger: Ledger, world: Any
) -> None:
    await ledger.issue(world.volunteer_a, 20)
    shop = await ledger.merchant(world.region.id)
    spend = await ledger.spend(world.volunteer_a, 10, shop)
    await ledger.reverse(spend)

    # Nothing remains to give back, so past the reversal check the answer would be
    # reversal_exceeds_remainder.
    with pytest.raises(AlreadyReversed) as refused:
        await ledger.reverse(spend, amount=1)
    assert refused.value.__cause__ is None


@pytest.mark.parametrize("what", ["spend", "issue", "transfer"])
async def test_past_the_reversal_check_the_unique_link_refuses_a_second_reversal(
    ledger: Ledger, world: Any, what: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    tx = await _reversed_once(ledger, world, what)
    before = await ledger.count(LedgerTransaction)

    async def no_reversal_found(session: AsyncSession, transaction_id: uuid.UUID) -> None:
        return None

    monkeypatch.setattr(repo, "reversal_of", no_reversal_found)
    with pytest.raises(AlreadyReversed) as refused:
        await ledger.reverse(tx, amount=1)

    assert isinstance(refused.value.__cause__, IntegrityError)
    assert await ledger.count(LedgerTransaction) == before
    assert (await ledger.verify()).ok


async def test_a_raw_second_reversal_of_one_transaction_is_refused(
    ledger: Ledger, world: Any
) -> None:
    tx = await _reversed_once(ledger, world, "spend")
    with pytest.raises(IntegrityError, match="reverses_id"):
        async with ledger.sessions() as session, session.begin():
            await session.execute(
                insert(LedgerTransaction.__table__).values(
                    id=uuid.uuid4(),
                    region_id=world.region.id,
                    kind=TxKind.reverse.value,
                    reference_type="raw",
                    reference_id="raw",
                    actor="raw",
                    metadata={},
                    created_at=clock.now(),
                    reverses_id=tx.id,
                )
            )
