"""Reading the sealed ledger: every block's hash, a region's latest head, and a
transaction's inclusion proof."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from app.ledger.models import Account, AccountKind, LedgerTransaction, Posting
from app.ledger.sealing.blocks import canonical_transaction
from app.ledger.sealing.models import Block, SealedTransaction
from app.ledger.standalone_verify import audit_path, leaf_hash


async def block_hashes(session: AsyncSession) -> dict[tuple[str, int], str]:
    """Every block's hash by (region id, height)."""
    rows = await session.execute(select(Block.region_id, Block.height, Block.block_hash))
    return {(str(region_id), height): block_hash for region_id, height, block_hash in rows}


async def latest_block(session: AsyncSession, *, region_id: uuid.UUID) -> Block | None:
    return await session.scalar(
        select(Block).where(Block.region_id == region_id).order_by(Block.height.desc()).limit(1)
    )


@dataclass(frozen=True)
class Proof:
    transaction: bytes
    leaf_hash: bytes
    leaf_index: int
    tree_size: int
    audit_path: list[bytes]
    block: Block


async def transaction_region(
    session: AsyncSession, *, transaction_id: uuid.UUID
) -> uuid.UUID | None:
    return await session.scalar(
        select(LedgerTransaction.region_id).where(LedgerTransaction.id == transaction_id)
    )


async def touches_wallet(
    session: AsyncSession, *, transaction_id: uuid.UUID, volunteer_id: uuid.UUID
) -> bool:
    """Does the transaction post to this volunteer's wallet?"""
    found = await session.scalar(
        select(Posting.id)
        .join(Account, Account.id == Posting.account_id)
        .where(
            Posting.transaction_id == transaction_id,
            Account.kind == AccountKind.wallet,
            Account.owner_id == volunteer_id,
        )
        .limit(1)
    )
    return found is not None


async def sealed_in(
    session: AsyncSession, *, transaction_id: uuid.UUID
) -> SealedTransaction | None:
    return await session.get(SealedTransaction, transaction_id)


async def proof(session: AsyncSession, *, transaction_id: uuid.UUID) -> Proof | None:
    """The inclusion proof of a sealed transaction; None if unsealed.

    The transaction and its leaf come from its current rows, the path from the
    leaves recorded when its block was sealed: an edit of this transaction makes
    its proof fail, an edit of another one is that one's (and verify-ledger's) to
    report."""
    sealed = await sealed_in(session, transaction_id=transaction_id)
    if sealed is None:
        return None
    block = await session.get(Block, sealed.block_id)
    assert block is not None
    tx = await session.scalar(
        select(LedgerTransaction)
        .where(LedgerTransaction.id == transaction_id)
        .options(selectinload(LedgerTransaction.postings))
    )
    assert tx is not None
    leaves = [
        bytes.fromhex(recorded)
        for recorded in await session.scalars(
            select(SealedTransaction.leaf_hash)
            .where(SealedTransaction.block_id == block.id)
            .order_by(SealedTransaction.position)
        )
    ]
    canonical = canonical_transaction(tx, tx.postings)
    return Proof(
        transaction=canonical,
        leaf_hash=leaf_hash(canonical),
        leaf_index=sealed.position,
        tree_size=len(leaves),
        audit_path=audit_path(sealed.position, leaves),
        block=block,
    )
