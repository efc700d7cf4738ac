"""`python -m app export-ledger`: the whole ledger as a third party checks it.

Every region's chain of signed block heads, each with its transactions' canonical
JSON in the block's order, then the region's transactions no block holds yet.
`app.ledger.standalone_verify ledger FILE --key KEY` checks it with the public key
alone: signatures, the chain, each block's Merkle root, each transaction's balance
and the attested sequence.
"""

from __future__ import annotations

import asyncio
import json
import sys
from typing import Any

from sqlalchemy import exists, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from app.core import clock
from app.core.config import Settings
from app.ledger import sealing
from app.ledger.models import LedgerTransaction
from app.orgs.models import Region

FORMAT = "liangpiao.ledger-export"


def _canonical(tx: LedgerTransaction) -> str:
    return sealing.canonical_transaction(tx, tx.postings).decode()


async def _region(session: AsyncSession, region_id: Any) -> dict[str, Any]:
    blocks = []
    for block in await session.scalars(
        select(sealing.Block)
        .where(sealing.Block.region_id == region_id)
        .order_by(sealing.Block.height)
    ):
        txs = await session.scalars(
            select(LedgerTransaction)
            .join(
                sealing.SealedTransaction,
                sealing.SealedTransaction.transaction_id == LedgerTransaction.id,
            )
            .where(sealing.SealedTransaction.block_id == block.id)
            .options(selectinload(LedgerTransaction.postings))
            .order_by(sealing.SealedTransaction.position)
        )
        blocks.append(
            {"head": sealing.head_record(block), "transactions": [_canonical(t) for t in txs]}
        )
    unsealed = await session.scalars(
        select(LedgerTransaction)
        .where(
            LedgerTransaction.region_id == region_id,
            ~exists().where(sealing.SealedTransaction.transaction_id == LedgerTransaction.id),
        )
        .options(selectinload(LedgerTransaction.postings))
        .order_by(LedgerTransaction.seq)
    )
    return {
        "region_id": str(region_id),
        "blocks": blocks,
        "unsealed": [_canonical(t) for t in unsealed],
    }


async def export_ledger(session: AsyncSession) -> dict[str, Any]:
    """Every region's blocks and transactions, as one JSON document."""
    regions = await session.scalars(select(Region.id).order_by(Region.id))
    return {
        "format": FORMAT,
        "version": 1,
        "exported_at": sealing.instant(clock.now()),
        "regions": [await _region(session, region_id) for region_id in list(regions)],
    }


async def _run(settings: Settings) -> dict[str, Any]:
    from app.core.db import Database

    db = Database(settings)
    try:
        async with db.sessions() as session:
            if db.dialect == "postgresql":
                # One snapshot, so that blocks and their transactions agree.
                await session.connection(
                    execution_options={
                        "isolation_level": "REPEATABLE READ",
                        "postgresql_readonly": True,
                    }
                )
            return await export_ledger(session)
    finally:
        await db.dispose()


def run_cli(settings: Settings, output: str | None) -> int:
    document = json.dumps(asyncio.run(_run(settings)), ensure_ascii=False, indent=1)
    if output is None:
        sys.stdout.write(document + "\n")
    else:
        with open(output, "w", encoding="utf-8") as f:
            f.write(document + "\n")
    return 0
