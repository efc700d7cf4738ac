"""Tamper evidence for the ledger: transactions sealed into signed, chained blocks.

A sealing job, off the request path, groups committed transactions that no block
holds yet into a block of their region: the block's Merkle root (RFC 6962 tree
hashing, SHA-256) covers each transaction's canonical JSON with its postings, the
block names the hash of the previous block, and the region's Ed25519 key signs
the block's header. A transaction's inclusion proof (leaf, audit path, header,
signature) can then be checked by anyone holding the region's public key, and
`verify_blocks` recomputes everything from the current rows to find any edit.

Ledger rows stay untouched (they are append-only): which block holds which
transaction is recorded here, in `ledger_sealed_transactions`. Sequence numbers
are handed out before commit, so on PostgreSQL a lower `seq` may commit after a
higher one was sealed; the sealer therefore takes any unsealed transaction it
can see, and orders only within a block by `seq`. To avoid re-scanning the whole
ledger, each region keeps a watermark below which every transaction is sealed;
it only moves past transactions older than `SETTLE_AFTER` (a database
transaction never runs that long), and a full sweep every `SWEEP_EVERY` catches
anything that still slipped behind it.

The private key is the signer's (`app.ledger.signer`: a key file, an environment
secret or a KMS), never the database's: `ledger_signing_keys` holds the public keys
that blocks name, so the database's credentials are not enough to sign a block.

The package, by use case: `models` (the tables), `blocks` (canonical forms, hashing, the
signed header), `keys` (the region's public keys), `sequence` (what a block attests about
the ledger's sequence), `job` (the sealing job), `reading` (heads and inclusion proofs)
and `verification` (every block recomputed). Callers import `app.ledger.sealing`.
"""

from app.ledger.sealing.blocks import (
    BLOCK_VERSION,
    HEADER_VERSION,
    block_header,
    canonical_json,
    canonical_transaction,
    head_record,
    instant,
)
from app.ledger.sealing.job import (
    BLOCK_SEALED,
    MAX_BLOCK_SIZE,
    SWEEP_EVERY,
    seal_block,
    seal_pending,
)
from app.ledger.sealing.keys import SignerKeyMismatch, public_keys
from app.ledger.sealing.models import Block, SealedTransaction, SealState, SigningKey
from app.ledger.sealing.reading import (
    Proof,
    block_hashes,
    latest_block,
    proof,
    sealed_in,
    touches_wallet,
    transaction_region,
)
from app.ledger.sealing.sequence import SETTLE_AFTER, unused_ranges
from app.ledger.sealing.verification import verify_blocks
from app.ledger.standalone_verify import b64url

__all__ = [
    "BLOCK_SEALED",
    "BLOCK_VERSION",
    "HEADER_VERSION",
    "MAX_BLOCK_SIZE",
    "SETTLE_AFTER",
    "SWEEP_EVERY",
    "Block",
    "Proof",
    "SealState",
    "SealedTransaction",
    "SignerKeyMismatch",
    "SigningKey",
    "b64url",
    "block_hashes",
    "block_header",
    "canonical_json",
    "canonical_transaction",
    "head_record",
    "instant",
    "latest_block",
    "proof",
    "public_keys",
    "seal_block",
    "seal_pending",
    "sealed_in",
    "touches_wallet",
    "transaction_region",
    "unused_ranges",
    "verify_blocks",
]
