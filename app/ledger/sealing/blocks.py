"""A block's canonical forms: the bytes a transaction's leaf hashes, the header the region's
key signs, and the signed head as the digest route, the head log and the outbox carry it."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from app.ledger.models import LedgerTransaction, Posting
from app.ledger.sealing.models import Block
from app.ledger.standalone_verify import canonical_json

__all__ = [
    "BLOCK_VERSION",
    "HEADER_VERSION",
    "block_header",
    "canonical_json",
    "canonical_transaction",
    "head_record",
    "instant",
]

BLOCK_VERSION = 1
# Headers that attest the ledger's unused sequence numbers (`seq_through`, `unused_seqs`).
HEADER_VERSION = 2


def instant(value: datetime) -> str:
    return value.astimezone(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")


def canonical_transaction(tx: LedgerTransaction, postings: Sequence[Posting]) -> bytes:
    """The bytes a transaction's leaf hashes: every field of it and of its postings."""
    return canonical_json(
        {
            "v": BLOCK_VERSION,
            "id": str(tx.id),
            "seq": tx.seq,
            "region_id": str(tx.region_id),
            "kind": str(tx.kind),
            "reference_type": tx.reference_type,
            "reference_id": tx.reference_id,
            "actor": tx.actor,
            "metadata": tx.meta,
            "created_at": instant(tx.created_at),
            "reverses_id": str(tx.reverses_id) if tx.reverses_id else None,
            "refunds_id": str(tx.refunds_id) if tx.refunds_id else None,
            "postings": sorted(
                ({"account_id": str(p.account_id), "amount": p.amount} for p in postings),
                key=lambda p: (p["account_id"], p["amount"]),
            ),
        }
    )


def block_header(block: Block) -> dict[str, Any]:
    header: dict[str, Any] = {
        "v": BLOCK_VERSION,
        "region_id": str(block.region_id),
        "height": block.height,
        "prev_hash": block.prev_hash,
        "merkle_root": block.merkle_root,
        "tx_count": block.tx_count,
        "sealed_at": instant(block.sealed_at),
        "kid": block.kid,
    }
    if block.seq_through is not None:
        header.update(
            v=HEADER_VERSION, seq_through=block.seq_through, unused_seqs=block.unused_seqs or []
        )
    return header


def head_record(block: Block) -> dict[str, Any]:
    """A signed block head as JSON: what the digest route answers, the head log keeps and
    the `ledger.block_sealed` event carries."""
    header = block_header(block)
    return {
        "block_id": str(block.id),
        "header": header,
        "signed_header": canonical_json(header).decode(),
        "block_hash": block.block_hash,
        "signature": block.signature,
        "algorithm": "Ed25519",
    }
