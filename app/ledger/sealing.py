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
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    ForeignKey,
    String,
    UniqueConstraint,
    exists,
    func,
    insert,
    select,
    text,
)
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm import Mapped, mapped_column, selectinload

from app.core import clock
from app.core.db import Base, IdMixin, session_insert
from app.integrations import outbox
from app.ledger.heads import HeadLog
from app.ledger.models import Account, AccountKind, LedgerTransaction, Posting
from app.ledger.signer import LedgerSigner
from app.ledger.standalone_verify import (
    GENESIS_HASH,
    audit_path,
    b64url,
    canonical_json,
    leaf_hash,
    merkle_root,
    signature_valid,
    unaccounted,
)
from app.orgs.models import Region

log = logging.getLogger("liangpiao.ledger.sealing")

BLOCK_VERSION = 1
# Headers that attest the ledger's unused sequence numbers (`seq_through`, `unused_seqs`).
HEADER_VERSION = 2
MAX_BLOCK_SIZE = 1000
SETTLE_AFTER = timedelta(minutes=10)
SWEEP_EVERY = timedelta(hours=1)
BLOCK_SEALED = "ledger.block_sealed"


# --- tables ---------------------------------------------------------------------------


class SigningKey(IdMixin, Base):
    """A public key that has signed a region's blocks; blocks name it by `kid`.

    Only the public half is here: the private key is the signer's (`app.ledger.signer`).
    A new generation appears when the signer's key changes."""

    __tablename__ = "ledger_signing_keys"
    __table_args__ = (
        UniqueConstraint("region_id", "generation"),
        UniqueConstraint("region_id", "kid"),
    )

    region_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("regions.id"))
    generation: Mapped[int]
    kid: Mapped[str] = mapped_column(String(64))
    # The raw 32-byte key, base64url without padding.
    public_key: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(default=clock.now)


class SealState(IdMixin, Base):
    """Per region: the sealer's lock row and its watermark."""

    __tablename__ = "ledger_seal_states"

    region_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("regions.id"), unique=True)
    # Every transaction of the region with a seq up to this one is sealed.
    sealed_through_seq: Mapped[int] = mapped_column(BigInteger, default=0)
    swept_at: Mapped[datetime | None]


class Block(IdMixin, Base):
    __tablename__ = "ledger_blocks"
    __table_args__ = (UniqueConstraint("region_id", "height"),)

    region_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("regions.id"))
    height: Mapped[int]
    prev_hash: Mapped[str] = mapped_column(String(64))
    merkle_root: Mapped[str] = mapped_column(String(64))
    tx_count: Mapped[int]
    sealed_at: Mapped[datetime]
    kid: Mapped[str] = mapped_column(String(64))
    block_hash: Mapped[str] = mapped_column(String(64), unique=True)
    signature: Mapped[str] = mapped_column(String(128))
    # What the block attests about the whole ledger's sequence, every region's: each
    # number up to `seq_through` is a transaction's, or lies in one of `unused_seqs`
    # (inclusive [first, last] ranges no transaction took, e.g. rolled back), counted
    # from the previous block's `seq_through`. Null on blocks sealed before headers v2.
    seq_through: Mapped[int | None] = mapped_column(BigInteger)
    unused_seqs: Mapped[list[list[int]] | None] = mapped_column(JSON)


class SealedTransaction(Base):
    """Which block holds a transaction, where, and the leaf hash it had when sealed."""

    __tablename__ = "ledger_sealed_transactions"
    __table_args__ = (UniqueConstraint("block_id", "position"),)

    transaction_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("ledger_transactions.id"), primary_key=True
    )
    region_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("regions.id"))
    block_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("ledger_blocks.id"))
    position: Mapped[int]
    leaf_hash: Mapped[str] = mapped_column(String(64))


# --- canonical forms and hashing --------------------------------------------------------


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


# --- keys -------------------------------------------------------------------------------


async def public_keys(session: AsyncSession, *, region_id: uuid.UUID) -> list[SigningKey]:
    rows = await session.scalars(
        select(SigningKey).where(SigningKey.region_id == region_id).order_by(SigningKey.generation)
    )
    return list(rows)


class SignerKeyMismatch(RuntimeError):
    """The database's public key under the signer's `kid` is not the signer's key."""


async def _signing_key(
    session: AsyncSession, region_id: uuid.UUID, signer: LedgerSigner
) -> SigningKey:
    """The region's row of the signer's public key, added as a new generation on first use.

    Refuses to sign when the row under the signer's `kid` holds another key: someone
    changed it, and blocks signed now would verify against neither."""
    kid = signer.key_id
    key = await session.scalar(
        select(SigningKey).where(SigningKey.region_id == region_id, SigningKey.kid == kid)
    )
    if key is not None:
        if key.public_key != b64url(signer.public_key):
            raise SignerKeyMismatch(
                f"ledger_signing_keys holds another public key under kid {kid}; refusing to seal"
            )
        return key
    newest = await session.scalar(
        select(func.max(SigningKey.generation)).where(SigningKey.region_id == region_id)
    )
    await session.execute(
        session_insert(session)(SigningKey)
        .values(
            id=uuid.uuid4(),
            region_id=region_id,
            generation=int(newest or 0) + 1,
            kid=kid,
            public_key=b64url(signer.public_key),
            created_at=clock.now(),
        )
        .on_conflict_do_nothing(index_elements=["region_id", "kid"])
    )
    log.info("ledger signing key registered", extra={"region_id": str(region_id), "kid": kid})
    return await _signing_key(session, region_id, signer)


# --- sealing ----------------------------------------------------------------------------


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


# Each run of consecutive missing sequence numbers in (after, through]: the previous
# number present (or `after`) is `prev`; the last part picks up a run at the end.
_UNUSED_RANGES = text(
    """
    SELECT first, last FROM (
        SELECT prev + 1 AS first, seq - 1 AS last FROM (
            SELECT seq, LAG(seq, 1, :after) OVER (ORDER BY seq) AS prev
            FROM ledger_transactions WHERE seq > :after AND seq <= :through
        ) s
        WHERE seq - prev > 1
        UNION ALL
        SELECT COALESCE(MAX(seq), :after) + 1 AS first, :through AS last
        FROM ledger_transactions WHERE seq > :after AND seq <= :through
        HAVING COALESCE(MAX(seq), :after) < :through
    ) gaps
    ORDER BY first
    """
)


async def unused_ranges(session: AsyncSession, *, after: int, through: int) -> list[list[int]]:
    """The sequence numbers in (after, through] that no transaction holds, as ranges."""
    rows = await session.execute(_UNUSED_RANGES, {"after": after, "through": through})
    return [[int(first), int(last)] for first, last in rows]


async def _attest_sequence(session: AsyncSession, now: datetime) -> tuple[int, list[list[int]]]:
    """How far the ledger's sequence is settled, and its unused numbers since the last
    attestation (any region's block).

    A number is settled once a transaction with a higher one is older than
    `SETTLE_AFTER`: the transaction that drew it would have committed by then, so
    if it is missing now, it was rolled back. A transaction deleted later leaves a
    missing number the blocks do not account for."""
    attested = int(await session.scalar(select(func.max(Block.seq_through))) or 0)
    settled = await session.scalar(
        select(func.max(LedgerTransaction.seq)).where(
            LedgerTransaction.seq > attested,
            LedgerTransaction.created_at < now - SETTLE_AFTER,
        )
    )
    if settled is None:
        return attested, []
    return int(settled), await unused_ranges(session, after=attested, through=int(settled))


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
    key = await _signing_key(session, region_id, signer)
    seq_through, unused = await _attest_sequence(session, now)
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


# --- reading: heads and proofs ----------------------------------------------------------


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


# --- verification -----------------------------------------------------------------------


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
