"""Evidence outside the database: every signed head goes to the head log and the outbox,
and `verify-ledger --pin HEADS --key KEY` catches each tampering that someone holding the
database's credentials (but not the signer's key) can do, including the ones that fool a
verifier trusting the database's own keys."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import delete, func, select, update

from app.core.config import Settings
from app.integrations.models import OutboxEvent
from app.ledger import sealing
from app.ledger.heads import HeadLog
from app.ledger.models import Account, AccountKind, LedgerTransaction, Lot, Posting
from app.ledger.standalone_verify import b64url, read_heads
from app.rewards.models import RewardIssuance
from app.verification import Pins, run_cli, verify_all
from tests.ledger.evidence_support import forge_chain, tamper
from tests.ledger.sealing_support import seal, signer
from tests.ledger.support import Ledger
from tests.ledger.test_verify_causes import earn


@pytest.fixture
async def history(app: Any, world: Any) -> dict[str, Any]:
    """Two sealed blocks of the region: 10 and 20 issued, then 30; the heads kept apart."""
    first = await earn(app, world.volunteer_a, 60)
    second = await earn(app, world.volunteer_b, 120)
    await seal(app)
    third = await earn(app, world.volunteer_a, 180)
    await seal(app)
    pins_dir = app.state.settings.var_dir.parent / "kept-apart"
    pins_dir.mkdir()
    heads = pins_dir / "heads.jsonl"
    heads.write_bytes(HeadLog.from_settings(app.state.settings).path.read_bytes())
    key = pins_dir / "ledger-key.txt"
    key.write_text(b64url(signer(app).public_key))
    return {"first": first, "second": second, "third": third, "heads": heads, "key": key}


async def report_of(app: Any, pins: Pins | None) -> Any:
    async with app.state.db.sessions() as session:
        return await verify_all(session, pins)


def pins_of(history: dict[str, Any]) -> Pins:
    return Pins.load(key_specs=[str(history["key"])], heads_file=str(history["heads"]))


async def test_each_head_is_logged_outside_the_database_and_announced_on_the_outbox(
    app: Any, world: Any, client: Any, history: dict[str, Any]
) -> None:
    logged = read_heads(str(HeadLog.from_settings(app.state.settings).path))
    async with app.state.db.sessions() as session:
        events = list(
            await session.scalars(
                select(OutboxEvent)
                .where(OutboxEvent.topic == "ledger.block_sealed")
                .order_by(OutboxEvent.created_at)
            )
        )
    assert [h["header"]["height"] for h in logged] == [1, 2]
    assert [e.payload for e in events] == logged
    latest = await client.get("/v1/ledger/digests/latest", headers=world.auth["volunteer_a"])
    assert latest.json() == logged[-1]


async def test_the_pinned_command_passes_an_untouched_ledger(
    settings: Settings, history: dict[str, Any], capsys: pytest.CaptureFixture[str]
) -> None:
    code = await asyncio.to_thread(
        run_cli, settings, key_specs=[str(history["key"])], heads_file=str(history["heads"])
    )
    out = capsys.readouterr().out
    assert code == 0, out
    assert "ledger OK" in out
    assert "pinned: 1 key(s), 2 head(s)" in out


@pytest.mark.database_owner
async def test_an_edited_amount_resealed_with_a_database_key_is_caught_by_the_pins(
    app: Any, history: dict[str, Any]
) -> None:
    # Make the first issuance 1000 instead of 10, consistently everywhere the database
    # keeps it, then rebuild and re-sign the chain with a key of one's own.
    issuance = history["first"]
    tx_id = issuance.transaction_id
    postings, accounts = Posting.__table__, Account.__table__
    await tamper(
        app,
        update(postings)
        .where(postings.c.transaction_id == tx_id, postings.c.amount == 10)
        .values(amount=1000),
        update(postings)
        .where(postings.c.transaction_id == tx_id, postings.c.amount == -10)
        .values(amount=-1000),
        update(accounts)
        .where(accounts.c.kind == AccountKind.issuance)
        .values(posted=accounts.c.posted - 990),
        update(accounts)
        .where(accounts.c.owner_id == issuance.volunteer_id, accounts.c.kind == AccountKind.wallet)
        .values(posted=accounts.c.posted + 990),
        update(Lot.__table__)
        .where(Lot.__table__.c.transaction_id == tx_id)
        .values(amount=1000, remaining=1000),
        update(RewardIssuance.__table__)
        .where(RewardIssuance.__table__.c.id == issuance.id)
        .values(issued=1000, granted=1000),
    )
    await forge_chain(app, Ed25519PrivateKey.generate())

    # Against its own keys, the database now tells a consistent story.
    assert (await report_of(app, None)).problems == []
    problems = "\n".join((await report_of(app, pins_of(history))).problems)
    assert "not one of the pinned keys" in problems
    assert "signed by unknown key" in problems
    assert "pinned block 1 of region" in problems
    assert "has another hash: the chain was rewritten" in problems


@pytest.mark.database_owner
async def test_a_deleted_transaction_resealed_is_caught_by_the_pins(
    app: Any, history: dict[str, Any]
) -> None:
    tx_id = history["second"].transaction_id
    postings, accounts = Posting.__table__, Account.__table__
    posted_by_tx = (
        select(func.sum(postings.c.amount))
        .where(postings.c.account_id == accounts.c.id, postings.c.transaction_id == tx_id)
        .scalar_subquery()
    )
    await tamper(
        app,
        update(accounts)
        .where(
            accounts.c.id.in_(
                select(postings.c.account_id).where(postings.c.transaction_id == tx_id)
            )
        )
        .values(posted=accounts.c.posted - posted_by_tx),
        delete(RewardIssuance.__table__).where(RewardIssuance.__table__.c.transaction_id == tx_id),
        delete(Lot.__table__).where(Lot.__table__.c.transaction_id == tx_id),
        delete(postings).where(postings.c.transaction_id == tx_id),
        delete(LedgerTransaction.__table__).where(LedgerTransaction.__table__.c.id == tx_id),
    )
    await forge_chain(app, Ed25519PrivateKey.generate())

    assert (await report_of(app, None)).problems == []
    problems = "\n".join((await report_of(app, pins_of(history))).problems)
    assert "pinned block 1 of region" in problems
    assert "has another hash: the chain was rewritten" in problems


async def test_a_balanced_fake_issue_sealed_by_the_sealer_is_caught(
    app: Any, world: Any, ledger: Ledger, history: dict[str, Any]
) -> None:
    fake = await ledger.issue(world.volunteer_a, 5000)
    await seal(app)

    problems = (await report_of(app, pins_of(history))).problems
    assert problems == [f"transaction {fake.id} (seq {fake.seq}): an issue no reward issuance made"]


@pytest.mark.database_owner
async def test_truncated_seal_tables_are_caught_by_the_pins(
    app: Any, history: dict[str, Any]
) -> None:
    if app.state.db.dialect == "postgresql":
        statements = ["TRUNCATE ledger_sealed_transactions, ledger_blocks, ledger_seal_states"]
    else:
        statements = [
            "DELETE FROM ledger_sealed_transactions",
            "DELETE FROM ledger_blocks",
            "DELETE FROM ledger_seal_states",
        ]
    await tamper(app, *statements)

    # With no block left there is nothing to contradict the database's own keys.
    assert (await report_of(app, None)).problems == []
    problems = (await report_of(app, pins_of(history))).problems
    assert len(problems) == 2
    assert all("is missing: the chain was cut or emptied" in p for p in problems)


@pytest.mark.database_owner
async def test_a_swapped_key_row_with_resigned_blocks_is_caught_by_the_pins(
    app: Any, history: dict[str, Any]
) -> None:
    await forge_chain(app, Ed25519PrivateKey.generate())

    assert (await report_of(app, None)).problems == []
    problems = "\n".join((await report_of(app, pins_of(history))).problems)
    assert "not one of the pinned keys" in problems
    assert problems.count("signed by unknown key") == 2
    assert problems.count("has another hash") == 2


async def test_pinning_needs_readable_keys(
    settings: Settings, history: dict[str, Any], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "bad-key.pem"
    bad.write_text("-----BEGIN PUBLIC KEY-----\nnot a key\n-----END PUBLIC KEY-----\n")
    code = await asyncio.to_thread(
        run_cli, settings, key_specs=[str(bad)], heads_file=str(history["heads"])
    )
    assert code == 2
    assert "cannot read the pins" in capsys.readouterr().out
    assert json.loads(history["heads"].read_text().splitlines()[0])["header"]["height"] == 1
    assert sealing.BLOCK_SEALED == "ledger.block_sealed"
