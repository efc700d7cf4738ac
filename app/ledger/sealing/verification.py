"""Every block recomputed from the current rows: the chain, each header's hash and
signature, each block's leaves and Merkle root, and the sequence the blocks attest."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from app.ledger.models import LedgerTransaction
from app.ledger.sealing.blocks import block_header, canonical_transaction
from app.ledger.sealing.models import Block, SealedTransaction, SigningKey
from app.ledger.sealing.sequence import unused_ranges
from app.ledger.standalone_verify import (
    GENESIS_HASH,
    canonical_json,
    leaf_hash,
    merkle_root,
    signature_valid,
    unaccounted,
)


async def verify_blocks(
    session: AsyncSession, *, pinned_keys: Mapping[str, str] | None = None
) -> list[str]:
    """Recompute every block from the current rows; name each thing that does not match.

    Checks, per region and block: the chain (heights and previous hashes), each
    header against its hash and signature, the block's transactions (each leaf
    against the one recorded when sealed, and the Merkle root over them all); and
    that every sequence number up to what the blocks attest is a transaction's or
    one the blocks record as unused. With `pinned_keys` (public keys by `kid`, held
    outside the database) signatures are checked against those alone, and a key row
    of the database that differs from its pinned key is reported.
    """
    problems: list[str] = []
    db_keys = list(await session.scalars(select(SigningKey)))
    if pinned_keys is None:
        keys = {(k.region_id, k.kid): k.public_key for k in db_keys}
    else:
        for k in db_keys:
            if k.kid not in pinned_keys:
                problems.append(
                    f"signing key {k.kid} of region {k.region_id}: not one of the pinned keys"
                )
            elif pinned_keys[k.kid] != k.public_key:
                problems.append(
                    f"signing key {k.kid} of region {k.region_id}: the database holds another "
                    "public key than the pinned one"
                )
    previous: Block | None = None
    blocks = list(await session.scalars(select(Block).order_by(Block.region_id, Block.height)))
    for block in blocks:
        name = f"block {block.id} (region {block.region_id}, height {block.height})"
        if previous is None or previous.region_id != block.region_id:
            previous = None
        expected_height = previous.height + 1 if previous else 1
        expected_prev = previous.block_hash if previous else GENESIS_HASH
        if block.height != expected_height:
            problems.append(f"{name}: expected height {expected_height}; a block is missing")
        if block.prev_hash != expected_prev:
            problems.append(f"{name}: prev_hash does not match the previous block's hash")
        signed = canonical_json(block_header(block))
        if hashlib.sha256(signed).hexdigest() != block.block_hash:
            problems.append(f"{name}: header does not match block_hash")
        public_key = (
            keys.get((block.region_id, block.kid))
            if pinned_keys is None
            else pinned_keys.get(block.kid)
        )
        if public_key is None:
            problems.append(f"{name}: signed by unknown key {block.kid}")
        elif not signature_valid(public_key, block.signature, signed):
            problems.append(f"{name}: signature is not valid")
        problems.extend(await _verify_block_transactions(session, block, name))
        previous = block
    problems.extend(await _verify_sequence(session, blocks))
    return problems


async def _verify_sequence(session: AsyncSession, blocks: Sequence[Block]) -> list[str]:
    """Every number the blocks attest is a transaction's, or one they record as unused."""
    through = max((b.seq_through or 0 for b in blocks), default=0)
    if through == 0:
        return []
    recorded = [r for b in blocks for r in b.unused_seqs or []]
    missing = await unused_ranges(session, after=0, through=through)
    return [
        f"sequence numbers {first} to {last} are missing, though the blocks "
        f"attest the ledger through {through} and record them as used: transactions were "
        "deleted"
        for first, last in unaccounted(missing, recorded)
    ]


async def _verify_block_transactions(session: AsyncSession, block: Block, name: str) -> list[str]:
    problems: list[str] = []
    sealed = list(
        await session.scalars(
            select(SealedTransaction)
            .where(SealedTransaction.block_id == block.id)
            .order_by(SealedTransaction.position)
        )
    )
    if [s.position for s in sealed] != list(range(block.tx_count)):
        problems.append(
            f"{name}: holds {len(sealed)} transactions at positions "
            f"{[s.position for s in sealed]}, its header says {block.tx_count}"
        )
    txs = {
        tx.id: tx
        for tx in await session.scalars(
            select(LedgerTransaction)
            .where(LedgerTransaction.id.in_([s.transaction_id for s in sealed]))
            .options(selectinload(LedgerTransaction.postings))
        )
    }
    leaves: list[bytes] = []
    for s in sealed:
        tx = txs.get(s.transaction_id)
        if tx is None:
            problems.append(f"transaction {s.transaction_id} of {name} is missing")
            leaves.append(bytes.fromhex(s.leaf_hash))
            continue
        leaf = leaf_hash(canonical_transaction(tx, tx.postings))
        leaves.append(leaf)
        if leaf.hex() != s.leaf_hash or tx.region_id != block.region_id:
            problems.append(
                f"transaction {tx.id} (seq {tx.seq}) changed since it was sealed in {name}"
            )
    if not leaves or merkle_root(leaves).hex() != block.merkle_root:
        problems.append(f"{name}: the Merkle root of its transactions does not match")
    return problems
