"""The sealing job: per region, its unsealed transactions into its next signed block, the
watermark moved past what no late commit can precede, the head on the outbox and the
head log."""

from __future__ import annotations

import asyncio
import hashlib
import logging
import uuid
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import exists, func, insert, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm import selectinload

from app.core import clock
from app.core.db import session_insert
from app.integrations import outbox
from app.ledger.heads import HeadLog
from app.ledger.models import LedgerTransaction
from app.ledger.sealing.blocks import block_header, canonical_transaction, head_record
from app.ledger.sealing.keys import signing_key
from app.ledger.sealing.models import Block, SealedTransaction, SealState
from app.ledger.sealing.reading import latest_block
from app.ledger.sealing.sequence import SETTLE_AFTER, attest_sequence
from app.ledger.signer import LedgerSigner
from app.ledger.standalone_verify import (
    GENESIS_HASH,
    b64url,
    canonical_json,
    leaf_hash,
    merkle_root,
)
from app.orgs.models import Region

log = logging.getLogger("liangpiao.ledger.sealing")

MAX_BLOCK_SIZE = 1000
SWEEP_EVERY = timedelta(hours=1)
BLOCK_SEALED = "ledger.block_sealed"


def _unsealed(region_id: uuid.UUID, *, after_seq: int) -> Any:
    return (
        select(LedgerTransaction.seq, LedgerTransaction.id)
        .where(
            LedgerTransaction.region_id == region_id,
            LedgerTransaction.seq > after_seq,
            ~exists().where(SealedTransaction.transaction_id == LedgerTransaction.id),
        )
        .order_by(LedgerTransaction.seq)
    )


def _sweep_due(state: SealState, now: datetime) -> bool:
    return state.swept_at is None or now - state.swept_at >= SWEEP_EVERY


def _scan_from(state: SealState, now: datetime) -> int:
    """Where to look for unsealed transactions: the watermark, or 0 when a sweep is due."""
    return 0 if _sweep_due(state, now) else state.sealed_through_seq


async def _lock_state(session: AsyncSession, region_id: uuid.UUID) -> SealState | None:
    """The region's seal state, locked; None while another sealer holds it."""
    await session.execute(
        session_insert(session)(SealState)
        .values(id=uuid.uuid4(), region_id=region_id, sealed_through_seq=0, swept_at=None)
        .on_conflict_do_nothing(index_elements=["region_id"])
    )
    return await session.scalar(
        select(SealState)
        .where(SealState.region_id == region_id)
        .with_for_update(skip_locked=True)
        .execution_options(populate_existing=True)
    )


async def _advance_watermark(session: AsyncSession, state: SealState, now: datetime) -> None:
    """Move the watermark past sealed transactions that no late commit can precede."""
    first_gap = await session.scalar(
        _unsealed(state.region_id, after_seq=state.sealed_through_seq)
        .with_only_columns(LedgerTransaction.seq)
        .limit(1)
    )
    query = select(func.max(LedgerTransaction.seq)).where(
        LedgerTransaction.region_id == state.region_id,
        LedgerTransaction.seq > state.sealed_through_seq,
        LedgerTransaction.created_at < now - SETTLE_AFTER,
    )
    if first_gap is not None:
        query = query.where(LedgerTransaction.seq < first_gap)
    settled = await session.scalar(query)
    if settled is not None:
        state.sealed_through_seq = int(settled)


async def seal_block(
    session: AsyncSession,
    *,
    region_id: uuid.UUID,
    signer: LedgerSigner,
    limit: int = MAX_BLOCK_SIZE,
) -> Block | None:
    """Seal up to `limit` of the region's unsealed transactions into its next block."""
    state = await _lock_state(session, region_id)
    if state is None:
        return None
    now = clock.now()
    scan_from = _scan_from(state, now)
    picked = (await session.execute(_unsealed(region_id, after_seq=scan_from).limit(limit))).all()
    if scan_from == 0:
        state.swept_at = now
    if not picked:
        await _advance_watermark(session, state, now)
        await session.flush()
        return None

    txs = list(
        await session.scalars(
            select(LedgerTransaction)
            .where(LedgerTransaction.id.in_([tx_id for _, tx_id in picked]))
            .options(selectinload(LedgerTransaction.postings))
            .order_by(LedgerTransaction.seq)
        )
    )
    leaves = [leaf_hash(canonical_transaction(tx, tx.postings)) for tx in txs]
    previous = await latest_block(session, region_id=region_id)
    key = await signing_key(session, region_id, signer)
    seq_through, unused = await attest_sequence(session, now)
    block = Block(
        id=uuid.uuid4(),
        region_id=region_id,
        height=previous.height + 1 if previous else 1,
        prev_hash=previous.block_hash if previous else GENESIS_HASH,
        merkle_root=merkle_root(leaves).hex(),
        tx_count=len(txs),
        sealed_at=now,
        kid=key.kid,
        block_hash="",
        signature="",
        seq_through=seq_through,
        unused_seqs=unused,
    )
    signed = canonical_json(block_header(block))
    block.block_hash = hashlib.sha256(signed).hexdigest()
    block.signature = b64url(await signer.sign(signed))
    session.add(block)
    await session.flush()
    await session.execute(
        insert(SealedTransaction),
        [
            {
                "transaction_id": tx.id,
                "region_id": region_id,
                "block_id": block.id,
                "position": position,
                "leaf_hash": leaf.hex(),
            }
            for position, (tx, leaf) in enumerate(zip(txs, leaves, strict=True))
        ],
    )
    await _advance_watermark(session, state, now)
    # Subscribers learn each head in the same transaction that writes it.
    await outbox.emit(session, region_id=region_id, topic=BLOCK_SEALED, payload=head_record(block))
    await session.flush()
    log.info(
        "ledger block sealed",
        extra={"region_id": str(region_id), "height": block.height, "tx_count": block.tx_count},
    )
    return block


async def _regions_to_seal(session: AsyncSession) -> list[uuid.UUID]:
    """Regions with work for the sealer: a transaction above the watermark, or a sweep due."""
    now = clock.now()
    states = {s.region_id: s for s in await session.scalars(select(SealState))}
    due = []
    for region_id in list(await session.scalars(select(Region.id).order_by(Region.id))):
        state = states.get(region_id)
        if state is not None and _sweep_due(state, now):
            due.append(region_id)
            continue
        after = state.sealed_through_seq if state else 0
        if await session.scalar(_unsealed(region_id, after_seq=after).limit(1)) is not None:
            due.append(region_id)
    return due


async def seal_pending(
    sessions: async_sessionmaker[AsyncSession], *, signer: LedgerSigner, heads: HeadLog
) -> int:
    """The sealing job: one block per region that has unsealed transactions, each head
    appended to the head log once its block has committed.

    Returns how many transactions it sealed, so that a caller running it until idle
    stops once every region is sealed.
    """
    async with sessions() as session, session.begin():
        regions = await _regions_to_seal(session)
    sealed = 0
    for region_id in regions:
        async with sessions() as session, session.begin():
            block = await seal_block(session, region_id=region_id, signer=signer)
        if block is None:
            continue
        sealed += block.tx_count
        try:
            await asyncio.to_thread(heads.append, head_record(block))
        except OSError:
            # The block stands and its event is on the outbox; only this copy is missing.
            log.exception("ledger head log not written", extra={"height": block.height})
    return sealed
