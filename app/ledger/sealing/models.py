"""The sealing's tables: the regions' public keys, each region's seal state (its lock row
and watermark), the blocks and which block holds which transaction."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import JSON, BigInteger, ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from app.core import clock
from app.core.db import Base, IdMixin


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
