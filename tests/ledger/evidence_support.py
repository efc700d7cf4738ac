"""Tampering as someone holding the database's superuser password would: the ledger's
triggers and foreign keys out of the way, any row written, changed or removed."""

from __future__ import annotations

import hashlib
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import delete, insert, select, text, update
from sqlalchemy.orm import selectinload

from app.ledger.models import LedgerTransaction
from app.ledger.sealing import (
    Block,
    SealedTransaction,
    SigningKey,
    block_header,
    canonical_transaction,
    unused_ranges,
)
from app.ledger.standalone_verify import (
    GENESIS_HASH,
    b64url,
    canonical_json,
    key_thumbprint,
    leaf_hash,
    merkle_root,
)

# Every table the ledger's evidence and its causes live in.
EVIDENCE_TABLES = (
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
    "redemptions",
)


async def tamper(app: Any, *statements: Any) -> None:
    """Run `statements` in one transaction with every trigger off.

    PostgreSQL: the superuser disables the tables' triggers (foreign keys and the
    append-only, balance and TRUNCATE guards) and enables them again before the
    commit, so other tests find them in place. SQLite: the triggers are dropped for
    good (each test has its own copy of the database) and foreign keys are off for
    this connection while it runs."""
    engine = app.state.db.engine
    async with engine.connect() as conn:
        if app.state.db.dialect == "postgresql":
            async with conn.begin():
                for table in EVIDENCE_TABLES:
                    await conn.execute(text(f"ALTER TABLE {table} DISABLE TRIGGER ALL"))
                for statement in statements:
                    await conn.execute(text(statement) if isinstance(statement, str) else statement)
                for table in EVIDENCE_TABLES:
                    await conn.execute(text(f"ALTER TABLE {table} ENABLE TRIGGER ALL"))
            return
        raw = await conn.get_raw_connection()
        driver: Any = raw.driver_connection
        await driver.execute("PRAGMA foreign_keys=OFF")
        try:
            async with conn.begin():
                names = await conn.scalars(
                    text("SELECT name FROM sqlite_master WHERE type = 'trigger'")
                )
                for name in list(names):
                    await conn.execute(text(f'DROP TRIGGER "{name}"'))
                for statement in statements:
                    await conn.execute(text(statement) if isinstance(statement, str) else statement)
        finally:
            await driver.execute("PRAGMA foreign_keys=ON")


async def forge_chain(app: Any, private: Ed25519PrivateKey) -> None:
    """Rebuild every block from the current rows and sign it with `private`, putting its
    public key in the database in place of the signer's: what someone with the database
    but not the signer's key can do to make an edit look sealed."""
    public = private.public_key().public_bytes_raw()
    kid = key_thumbprint(public)
    statements: list[Any] = []
    sealed_rows = SealedTransaction.__table__
    async with app.state.db.sessions() as session:
        blocks = list(await session.scalars(select(Block).order_by(Block.region_id, Block.height)))
        previous: Block | None = None
        for block in blocks:
            if previous is not None and previous.region_id != block.region_id:
                previous = None
            ids = list(
                await session.scalars(
                    select(SealedTransaction.transaction_id)
                    .where(SealedTransaction.block_id == block.id)
                    .order_by(SealedTransaction.position)
                )
            )
            found = {
                tx.id: tx
                for tx in await session.scalars(
                    select(LedgerTransaction)
                    .where(LedgerTransaction.id.in_(ids))
                    .options(selectinload(LedgerTransaction.postings))
                )
            }
            txs = [found[i] for i in ids if i in found]
            leaves = [leaf_hash(canonical_transaction(tx, tx.postings)) for tx in txs]
            statements.append(delete(sealed_rows).where(sealed_rows.c.block_id == block.id))
            statements.extend(
                insert(sealed_rows).values(
                    transaction_id=tx.id,
                    region_id=block.region_id,
                    block_id=block.id,
                    position=position,
                    leaf_hash=leaf.hex(),
                )
                for position, (tx, leaf) in enumerate(zip(txs, leaves, strict=True))
            )
            after = previous.seq_through or 0 if previous else 0
            block.unused_seqs = await unused_ranges(
                session, after=after, through=block.seq_through or 0
            )
            block.tx_count = len(txs)
            block.merkle_root = merkle_root(leaves).hex()
            block.prev_hash = previous.block_hash if previous else GENESIS_HASH
            block.kid = kid
            signed = canonical_json(block_header(block))
            block.block_hash = hashlib.sha256(signed).hexdigest()
            block.signature = b64url(private.sign(signed))
            statements.append(
                update(Block.__table__)
                .where(Block.__table__.c.id == block.id)
                .values(
                    unused_seqs=block.unused_seqs,
                    tx_count=block.tx_count,
                    merkle_root=block.merkle_root,
                    prev_hash=block.prev_hash,
                    kid=kid,
                    block_hash=block.block_hash,
                    signature=block.signature,
                )
            )
            previous = block
        await session.rollback()
    statements.append(update(SigningKey.__table__).values(kid=kid, public_key=b64url(public)))
    await tamper(app, *statements)
