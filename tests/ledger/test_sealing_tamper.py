"""Tampering with sealed history is caught: `verify_blocks` recomputes every block from the
current rows and names what no longer matches. The edits go around the app with raw SQL,
the ledger's append-only triggers switched off for the purpose."""

from __future__ import annotations

import asyncio
import hashlib
import uuid
from typing import Any

import pytest
from sqlalchemy import delete, insert, select, text, update

from app.ledger import sealing
from app.ledger.models import LedgerTransaction, Posting
from app.ledger.sealing import Block, SealedTransaction
from app.ledger.verify import verify
from tests.ledger.sealing_support import issue, seal

postings = Posting.__table__
transactions = LedgerTransaction.__table__
blocks = Block.__table__
sealed_rows = SealedTransaction.__table__

# Tampering is done with the owner's rights, whatever role the suite runs under.
pytestmark = pytest.mark.database_owner


async def tamper(app: Any, *statements: Any) -> None:
    """Run statements with the append-only triggers off, as an attacker with the database
    password would."""
    async with app.state.db.engine.begin() as conn:
        if app.state.db.dialect == "postgresql":
            await conn.execute(text("SET LOCAL session_replication_role = replica"))
        else:
            triggers = await conn.scalars(
                text("SELECT name FROM sqlite_master WHERE type = 'trigger'")
            )
            for name in list(triggers):
                await conn.execute(text(f'DROP TRIGGER "{name}"'))
        for statement in statements:
            await conn.execute(statement)


async def problems(app: Any) -> list[str]:
    async with app.state.db.sessions() as session:
        return await sealing.verify_blocks(session)


async def sealed_history(app: Any, world: Any) -> list[Any]:
    """Two blocks of the region: three transactions, then two more."""
    txs = []
    for amount in (10, 20, 30):
        txs.append(
            await issue(
                app, region_id=world.region.id, volunteer_id=world.volunteer_a.id, amount=amount
            )
        )
    await seal(app)
    for amount in (4, 5):
        txs.append(
            await issue(
                app, region_id=world.region.id, volunteer_id=world.volunteer_b.id, amount=amount
            )
        )
    await seal(app)
    assert await problems(app) == []
    return txs


async def block_rows(app: Any) -> list[Any]:
    async with app.state.db.engine.connect() as conn:
        return list(await conn.execute(select(blocks).order_by(blocks.c.height)))


async def test_an_untouched_ledger_verifies(app: Any, world: Any) -> None:
    await sealed_history(app, world)
    async with app.state.db.sessions() as session:
        report = await verify(session)
    assert report.problems == []


async def test_an_edited_amount_is_caught_even_when_the_postings_still_balance(
    app: Any, world: Any
) -> None:
    txs = await sealed_history(app, world)
    target = txs[1]
    await tamper(
        app,
        update(postings)
        .where(postings.c.transaction_id == target.id)
        .values(amount=postings.c.amount * 5),
    )

    found = await problems(app)
    assert any(str(target.id) in p and "changed since it was sealed" in p for p in found)
    assert any("Merkle root" in p and "height 1" in p for p in found)


async def test_an_edited_transaction_field_is_caught(app: Any, world: Any) -> None:
    txs = await sealed_history(app, world)
    await tamper(
        app,
        update(transactions)
        .where(transactions.c.id == txs[3].id)
        .values(reference_id="forged", actor="someone else"),
    )

    found = await problems(app)
    assert any(str(txs[3].id) in p for p in found)


async def test_a_deleted_posting_is_caught(app: Any, world: Any) -> None:
    txs = await sealed_history(app, world)
    await tamper(
        app,
        delete(postings).where(postings.c.transaction_id == txs[0].id, postings.c.amount > 0),
    )

    assert any(str(txs[0].id) in p for p in await problems(app))


async def test_an_inserted_posting_is_caught(app: Any, world: Any) -> None:
    txs = await sealed_history(app, world)
    async with app.state.db.engine.connect() as conn:
        account_id, region_id = (
            await conn.execute(
                select(postings.c.account_id, postings.c.region_id).where(
                    postings.c.transaction_id == txs[2].id, postings.c.amount > 0
                )
            )
        ).one()
    await tamper(
        app,
        insert(postings).values(
            region_id=region_id, transaction_id=txs[2].id, account_id=account_id, amount=1000
        ),
    )

    assert any(str(txs[2].id) in p for p in await problems(app))


async def test_an_edited_block_is_caught(app: Any, world: Any) -> None:
    await sealed_history(app, world)
    first, _ = await block_rows(app)
    await tamper(app, update(blocks).where(blocks.c.id == first.id).values(tx_count=2))

    found = await problems(app)
    assert any(str(first.id) in p and "header does not match" in p for p in found)


async def test_a_rehashed_block_still_fails_its_signature(app: Any, world: Any) -> None:
    await sealed_history(app, world)
    first, second = await block_rows(app)
    async with app.state.db.sessions() as session:
        block = await session.get(Block, first.id)
        assert block is not None
        block.merkle_root = "ab" * 32
        forged_hash = hashlib.sha256(
            sealing.canonical_json(sealing.block_header(block))
        ).hexdigest()
    await tamper(
        app,
        update(blocks).where(blocks.c.id == second.id).values(prev_hash=forged_hash),
        update(blocks)
        .where(blocks.c.id == first.id)
        .values(merkle_root="ab" * 32, block_hash=forged_hash),
    )

    found = await problems(app)
    assert any(str(first.id) in p and "signature is not valid" in p for p in found)
    assert any(str(second.id) in p and "signature is not valid" in p for p in found)


async def test_a_deleted_block_breaks_the_chain(app: Any, world: Any) -> None:
    await sealed_history(app, world)
    first, second = await block_rows(app)
    await tamper(
        app,
        delete(sealed_rows).where(sealed_rows.c.block_id == first.id),
        delete(blocks).where(blocks.c.id == first.id),
    )

    found = await problems(app)
    assert any(str(second.id) in p and "a block is missing" in p for p in found)
    assert any(str(second.id) in p and "prev_hash" in p for p in found)


async def test_a_transaction_taken_out_of_its_block_is_caught(app: Any, world: Any) -> None:
    txs = await sealed_history(app, world)
    await tamper(app, delete(sealed_rows).where(sealed_rows.c.transaction_id == txs[1].id))

    found = await problems(app)
    assert any("holds 2 transactions" in p for p in found)


async def test_reordered_transactions_in_a_block_are_caught(app: Any, world: Any) -> None:
    txs = await sealed_history(app, world)
    a, b = txs[0].id, txs[2].id
    await tamper(
        app,
        update(sealed_rows).where(sealed_rows.c.transaction_id == a).values(position=99),
        update(sealed_rows).where(sealed_rows.c.transaction_id == b).values(position=0),
        update(sealed_rows).where(sealed_rows.c.transaction_id == a).values(position=2),
    )

    found = await problems(app)
    assert any("Merkle root" in p for p in found)


async def test_the_ledger_verifier_reports_a_tampered_block_and_fails(
    app: Any, world: Any, settings: Any, capsys: Any
) -> None:
    from app.verification import run_cli

    txs = await sealed_history(app, world)
    await tamper(
        app,
        update(postings)
        .where(postings.c.transaction_id == txs[4].id)
        .values(amount=postings.c.amount * 2),
        update(transactions)
        .where(transactions.c.id == txs[0].id)
        .values({"metadata": {"forged": str(uuid.uuid4())}}),
    )

    # The command runs its own event loop, as `python -m app verify-ledger` does.
    assert await asyncio.to_thread(run_cli, settings) == 1
    out = capsys.readouterr().out
    assert str(txs[4].id) in out
    assert str(txs[0].id) in out
