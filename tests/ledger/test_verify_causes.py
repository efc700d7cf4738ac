"""`verify-ledger` checks why value moved, not only that it moved soundly: every `issue`
against the reward issuance that made it, and a missing sequence number the blocks do not
account for is a deleted transaction, not a count."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import delete, select, update

from app.core import clock
from app.core.config import Settings
from app.ledger import sealing
from app.ledger import service as ledger_service
from app.ledger.models import LedgerTransaction, Lot, Posting, TxKind
from app.ledger.sealing import Block
from app.rewards.models import RewardIssuance
from app.verification import run_cli, verify_all
from tests.ledger.evidence_support import tamper
from tests.ledger.sealing_support import seal, signer
from tests.ledger.support import Ledger
from tests.rewards.support import approve, deliver, issuance_of


async def full_report(app: Any) -> Any:
    async with app.state.db.sessions() as session:
        return await verify_all(session)


async def earn(app: Any, volunteer: Any, minutes: int) -> RewardIssuance:
    """Approved hours, issued as the worker does (10 良票 an hour by default)."""
    record = await approve(
        app, region_id=volunteer.region_id, volunteer_id=volunteer.id, minutes=minutes
    )
    await deliver(app)
    issuance = await issuance_of(app, record)
    assert issuance is not None
    assert issuance.transaction_id is not None
    return issuance


async def test_issues_made_by_reward_issuances_verify(app: Any, world: Any) -> None:
    await earn(app, world.volunteer_a, 120)
    await earn(app, world.volunteer_b, 60)
    await seal(app)

    report = await full_report(app)
    assert report.ok, report.problems
    assert report.transactions == 2


async def test_a_balanced_issue_with_no_reward_issuance_is_a_problem(
    app: Any, world: Any, ledger: Ledger
) -> None:
    await earn(app, world.volunteer_a, 60)
    # Sound by the ledger's own rules: balanced, with its lot and cached balances.
    fake = await ledger.issue(world.volunteer_a, 500)
    await seal(app)
    assert (await ledger.verify()).ok

    report = await full_report(app)
    assert report.problems == [
        f"transaction {fake.id} (seq {fake.seq}): an issue no reward issuance made"
    ]


@pytest.mark.database_owner
async def test_an_issue_that_credits_more_than_its_issuance_is_a_problem(
    app: Any, world: Any
) -> None:
    issuance = await earn(app, world.volunteer_a, 60)
    await tamper(
        app,
        update(RewardIssuance.__table__)
        .where(RewardIssuance.__table__.c.id == issuance.id)
        .values(issued=1),
    )

    problems = "\n".join((await full_report(app)).problems)
    assert f"issuance {issuance.id} issued 1, but the transaction credits 10" in problems


@pytest.mark.database_owner
async def test_an_issuance_whose_transaction_was_deleted_is_a_problem(app: Any, world: Any) -> None:
    issuance = await earn(app, world.volunteer_a, 60)
    tx_id = issuance.transaction_id
    await tamper(
        app,
        delete(Lot.__table__).where(Lot.__table__.c.transaction_id == tx_id),
        delete(Posting.__table__).where(Posting.__table__.c.transaction_id == tx_id),
        delete(LedgerTransaction.__table__).where(LedgerTransaction.__table__.c.id == tx_id),
    )

    problems = (await full_report(app)).problems
    assert f"reward issuance {issuance.id}: its transaction {tx_id} does not exist" in problems


async def test_a_redemption_debit_no_terminal_made_is_a_problem(
    app: Any, world: Any, ledger: Ledger
) -> None:
    await earn(app, world.volunteer_a, 60)
    shop = await ledger.merchant(world.region.id)
    spend = await ledger.spend(world.volunteer_a, 4, shop, kind=TxKind.redeem)

    assert (await full_report(app)).problems == [
        f"transaction {spend.id} (seq {spend.seq}): a redemption debit no terminal's "
        "redemption made"
    ]


@pytest.mark.database_owner
async def test_a_transaction_deleted_before_it_was_sealed_is_a_problem_not_a_count(
    app: Any, world: Any, ledger: Ledger
) -> None:
    first = await earn(app, world.volunteer_a, 60)
    second = await earn(app, world.volunteer_b, 60)
    later = clock.now() + sealing.SETTLE_AFTER + timedelta(seconds=1)
    with clock.travel(later):
        # The first block holds the first transaction and attests the settled sequence,
        # the second transaction's number included.
        async with app.state.db.sessions() as session, session.begin():
            block = await sealing.seal_block(
                session, region_id=world.region.id, signer=signer(app), limit=1
            )
    assert block is not None
    assert block.tx_count == 1
    victim = await ledger.scalar(
        select(LedgerTransaction.seq).where(LedgerTransaction.id == second.transaction_id)
    )
    assert block.seq_through == victim
    assert (await full_report(app)).ok

    await tamper(
        app,
        delete(Lot.__table__).where(Lot.__table__.c.transaction_id == second.transaction_id),
        delete(Posting.__table__).where(
            Posting.__table__.c.transaction_id == second.transaction_id
        ),
        delete(LedgerTransaction.__table__).where(
            LedgerTransaction.__table__.c.id == second.transaction_id
        ),
    )

    problems = (await full_report(app)).problems
    assert (
        f"sequence numbers {victim} to {victim} are missing, though the blocks attest the "
        f"ledger through {victim} and record them as used: transactions were deleted"
    ) in problems
    assert first.transaction_id is not None


async def test_a_rolled_back_sequence_number_is_recorded_unused_and_is_no_problem(
    app: Any, world: Any
) -> None:
    await earn(app, world.volunteer_a, 60)
    async with app.state.db.sessions() as session:
        await session.begin()
        rolled_back = await ledger_service.issue_to_wallet(
            session,
            region_id=world.region.id,
            volunteer_id=world.volunteer_a.id,
            amount=7,
            reference_type="hours_record",
            reference_id="rolled-back",
            actor="test",
        )
        await session.rollback()
    await earn(app, world.volunteer_b, 60)
    with clock.travel(clock.now() + sealing.SETTLE_AFTER + timedelta(seconds=1)):
        await seal(app)

    async with app.state.db.sessions() as session:
        [block] = (await session.scalars(select(Block))).all()
    if app.state.db.dialect == "postgresql":
        # SQLite hands a rolled-back number out again; PostgreSQL's sequence skips it.
        assert [rolled_back.seq, rolled_back.seq] in (block.unused_seqs or [])
    report = await full_report(app)
    assert report.ok, report.problems


async def test_the_command_prints_a_summary_and_fails_on_a_problem(
    app: Any, world: Any, ledger: Ledger, settings: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    await earn(app, world.volunteer_a, 60)
    assert await asyncio.to_thread(run_cli, settings) == 0
    assert "ledger OK" in capsys.readouterr().out

    fake = await ledger.issue(world.volunteer_a, 500)

    assert await asyncio.to_thread(run_cli, settings) == 1
    out = capsys.readouterr().out
    assert "ledger has 1 problem(s)" in out
    assert f"transaction {fake.id} (seq {fake.seq}): an issue no reward issuance made" in out
