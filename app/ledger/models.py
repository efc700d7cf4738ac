"""Tables of the 良票 ledger: accounts, transactions, postings, lots, holds.

Facts are append-only (the database refuses UPDATE and DELETE on them, see
migration 0006): transactions, postings, lot entries, hold reservations and hold
resolutions, and the identity of accounts and lots. What changes is a cache of
those facts kept beside them in the same database transaction: an account's
`posted` and `pending`, a lot's `remaining` and `reserved`. `app.ledger.verify`
replays the facts and compares.

Signs: a posting credits an account with a positive amount and debits it with a
negative one; a transaction's postings sum to zero. A wallet's lots split its
balance by expiry: the sum of a wallet's lots' `remaining` is its `posted`.

The CHECK constraints below say what one row can hold. Migration 0009 creates them
on PostgreSQL and enforces the same conditions with triggers on SQLite; it also
makes PostgreSQL refuse, at commit, a transaction whose postings do not balance.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    CheckConstraint,
    ForeignKey,
    Index,
    Integer,
    String,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.core import clock
from app.core.db import Base, new_id

# An integer key that autoincrements on PostgreSQL (bigint identity) and on SQLite
# (only a plain INTEGER PRIMARY KEY aliases SQLite's rowid).
Serial = BigInteger().with_variant(Integer(), "sqlite")


class AccountKind(StrEnum):
    wallet = "wallet"  # a volunteer's 良票
    merchant = "merchant"  # a merchant's receipts, until settled
    issuance = "issuance"  # the region's source of new 良票; goes negative as it issues
    expired = "expired"  # where unspent 良票 go when their lot expires
    settled = "settled"  # where merchants' receipts go when the region settles them


SYSTEM_KINDS = frozenset({AccountKind.issuance, AccountKind.expired, AccountKind.settled})


class TxKind(StrEnum):
    issue = "issue"
    redeem = "redeem"
    void = "void"
    refund = "refund"
    reverse = "reverse"
    expire = "expire"
    settle = "settle"
    adjust = "adjust"


class LotEntryKind(StrEnum):
    draw = "draw"  # a spend took this much from the lot (negative)
    restore = "restore"  # a refund or reversal gave it back (positive)
    # A refund's share of a lot that had already expired: it went to the expired
    # account, not back into the lot, so it leaves the lot's remainder alone.
    restore_expired = "restore_expired"
    expire = "expire"  # the expiry job took the unspent remainder (negative)


# The lot entry kinds that change a lot's remainder.
REMAINDER_KINDS = (LotEntryKind.draw, LotEntryKind.restore, LotEntryKind.expire)


class HoldStatus(StrEnum):
    posted = "posted"
    voided = "voided"
    expired = "expired"


class Account(Base):
    """An account of one region. Wallets belong to a volunteer, merchant accounts to a
    merchant; the region's own (issuance, expired, settled) have the region as owner."""

    __tablename__ = "ledger_accounts"
    __table_args__ = (
        UniqueConstraint("region_id", "kind", "owner_id"),
        # Open holds count as spent; only the issuance account may go below zero.
        CheckConstraint("allow_negative OR posted - pending >= 0", name="no_overdraft"),
        CheckConstraint("pending >= 0", name="pending_not_negative"),
        CheckConstraint("NOT allow_negative OR kind = 'issuance'", name="overdraft_only_issuance"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    region_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("regions.id"), index=True)
    kind: Mapped[AccountKind] = mapped_column(String(16))
    owner_id: Mapped[uuid.UUID]
    allow_negative: Mapped[bool] = mapped_column(default=False)
    # Cached: the sum of the account's postings, and of its open holds.
    posted: Mapped[int] = mapped_column(BigInteger, default=0)
    pending: Mapped[int] = mapped_column(BigInteger, default=0)
    created_at: Mapped[datetime] = mapped_column(default=clock.now)

    @property
    def available(self) -> int:
        return self.posted - self.pending


class LedgerTransaction(Base):
    """A balanced set of postings. `seq` orders every transaction of every region;
    `id` may be chosen by the caller, so that a retried call cannot post twice."""

    __tablename__ = "ledger_transactions"
    __table_args__ = (
        Index("ix_ledger_transactions_reference", "region_id", "reference_type", "reference_id"),
        CheckConstraint("reverses_id IS NULL OR refunds_id IS NULL", name="one_link"),
        # A reversal names what it reverses, and only a reversal does.
        CheckConstraint("(kind = 'reverse') = (reverses_id IS NOT NULL)", name="reversal_linked"),
    )

    seq: Mapped[int] = mapped_column(Serial, primary_key=True, autoincrement=True)
    id: Mapped[uuid.UUID] = mapped_column(unique=True, default=new_id)
    region_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("regions.id"), index=True)
    kind: Mapped[TxKind] = mapped_column(String(16))
    reference_type: Mapped[str] = mapped_column(String(40))
    reference_id: Mapped[str] = mapped_column(String(100))
    actor: Mapped[str] = mapped_column(String(120))
    # `metadata` is reserved on declarative classes; the column keeps the name.
    meta: Mapped[dict[str, Any]] = mapped_column("metadata", JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(default=clock.now)
    # At most one reversal per transaction: the database refuses a second.
    reverses_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("ledger_transactions.id"), unique=True
    )
    refunds_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("ledger_transactions.id"), index=True
    )

    postings: Mapped[list[Posting]] = relationship(
        back_populates="transaction", lazy="raise", order_by="Posting.id"
    )


class Posting(Base):
    __tablename__ = "ledger_postings"
    __table_args__ = (
        Index("ix_ledger_postings_account_id_id", "account_id", "id"),
        CheckConstraint("amount <> 0", name="amount_not_zero"),
    )

    id: Mapped[int] = mapped_column(Serial, primary_key=True, autoincrement=True)
    region_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("regions.id"))
    transaction_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("ledger_transactions.id"), index=True
    )
    account_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("ledger_accounts.id"))
    amount: Mapped[int] = mapped_column(BigInteger)

    transaction: Mapped[LedgerTransaction] = relationship(back_populates="postings", lazy="raise")


class Lot(Base):
    """One credit to a wallet, spent oldest-expiry-first and expired on `expires_at`."""

    __tablename__ = "ledger_lots"
    __table_args__ = (
        Index("ix_ledger_lots_account_id_expires_at", "account_id", "expires_at"),
        CheckConstraint("amount > 0", name="amount_positive"),
        CheckConstraint(
            "0 <= reserved AND reserved <= remaining AND remaining <= amount", name="bounds"
        ),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    region_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("regions.id"), index=True)
    account_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("ledger_accounts.id"))
    transaction_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("ledger_transactions.id"), index=True
    )
    amount: Mapped[int] = mapped_column(BigInteger)
    expires_at: Mapped[datetime] = mapped_column(index=True)
    created_at: Mapped[datetime] = mapped_column(default=clock.now)
    # Cached: the amount plus the lot's entries, and what open holds reserve of it.
    remaining: Mapped[int] = mapped_column(BigInteger)
    reserved: Mapped[int] = mapped_column(BigInteger, default=0)


class LotEntry(Base):
    """What one transaction took from or gave back to one lot."""

    __tablename__ = "ledger_lot_entries"
    __table_args__ = (
        # The expiry job expires a lot once, however often it runs.
        Index(
            "uq_ledger_lot_entries_expire_lot_id",
            "lot_id",
            unique=True,
            postgresql_where=text("kind = 'expire'"),
            sqlite_where=text("kind = 'expire'"),
        ),
        # Draws and expiries take from a lot, restores give back.
        CheckConstraint(
            "(kind IN ('draw', 'expire') AND amount < 0) "
            "OR (kind IN ('restore', 'restore_expired') AND amount > 0)",
            name="signed",
        ),
    )

    id: Mapped[int] = mapped_column(Serial, primary_key=True, autoincrement=True)
    region_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("regions.id"))
    lot_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("ledger_lots.id"), index=True)
    transaction_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("ledger_transactions.id"), index=True
    )
    kind: Mapped[LotEntryKind] = mapped_column(String(16))
    amount: Mapped[int] = mapped_column(BigInteger)


class Hold(Base):
    """A pending debit of a wallet: available counts it as spent until it is posted
    (fully or partly), voided, or times out; each hold resolves once."""

    __tablename__ = "ledger_holds"
    __table_args__ = (CheckConstraint("amount > 0", name="amount_positive"),)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    region_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("regions.id"), index=True)
    account_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("ledger_accounts.id"), index=True)
    to_account_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("ledger_accounts.id"))
    amount: Mapped[int] = mapped_column(BigInteger)
    expires_at: Mapped[datetime] = mapped_column(index=True)
    reference_type: Mapped[str] = mapped_column(String(40))
    reference_id: Mapped[str] = mapped_column(String(100))
    actor: Mapped[str] = mapped_column(String(120))
    meta: Mapped[dict[str, Any]] = mapped_column("metadata", JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(default=clock.now)


class HoldLot(Base):
    """The part of one lot that a hold reserves."""

    __tablename__ = "ledger_hold_lots"
    __table_args__ = (CheckConstraint("amount > 0", name="amount_positive"),)

    id: Mapped[int] = mapped_column(Serial, primary_key=True, autoincrement=True)
    region_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("regions.id"))
    hold_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("ledger_holds.id"), index=True)
    lot_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("ledger_lots.id"), index=True)
    amount: Mapped[int] = mapped_column(BigInteger)


class HoldResolution(Base):
    """How a hold ended. One per hold: the database refuses a second."""

    __tablename__ = "ledger_hold_resolutions"
    __table_args__ = (
        CheckConstraint(
            "(status = 'posted' AND posted_amount > 0 AND transaction_id IS NOT NULL) "
            "OR (status IN ('voided', 'expired') AND posted_amount = 0 "
            "AND transaction_id IS NULL)",
            name="outcome",
        ),
    )

    id: Mapped[int] = mapped_column(Serial, primary_key=True, autoincrement=True)
    region_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("regions.id"))
    hold_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("ledger_holds.id"), unique=True)
    status: Mapped[HoldStatus] = mapped_column(String(16))
    posted_amount: Mapped[int] = mapped_column(BigInteger, default=0)
    transaction_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("ledger_transactions.id"))
    actor: Mapped[str] = mapped_column(String(120))
    created_at: Mapped[datetime] = mapped_column(default=clock.now)
