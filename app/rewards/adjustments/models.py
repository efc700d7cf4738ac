"""Tables of manual adjustments: each request and its decision, and the running tally
of what one admin adjusted alone per account and day.

An adjustment row is never deleted and, once decided, never changed (the database
refuses it, see migration 0017): who asked, when and why, and who decided, when and
why, stay as written.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime
from enum import StrEnum

from sqlalchemy import BigInteger, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from app.core import clock
from app.core.db import Base, IdMixin


class AdjustmentStatus(StrEnum):
    posted = "posted"  # within the threshold: posted at once by the admin who asked
    pending = "pending"  # waits for a second center admin
    approved = "approved"  # posted on a second center admin's approval
    refused = "refused"


# The statuses whose 良票 moved: they count against the budget.
POSTED_STATUSES = (AdjustmentStatus.posted, AdjustmentStatus.approved)


class ApprovalCause(StrEnum):
    """Why an adjustment waits for a second admin."""

    amount = "amount"  # the amount alone is over the threshold
    # With what the same admin adjusted alone of one of its accounts that day.
    daily_total = "daily_total"


class Adjustment(IdMixin, Base):
    __tablename__ = "adjustments"
    __table_args__ = (
        Index("ix_adjustments_region_status_requested", "region_id", "status", "requested_at"),
        Index("ix_adjustments_region_requested", "region_id", "requested_at"),
        Index("ix_adjustments_region_budget_year", "region_id", "budget_year"),
    )

    region_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("regions.id"))
    debit_account_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("ledger_accounts.id"))
    credit_account_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("ledger_accounts.id"))
    amount: Mapped[int] = mapped_column(BigInteger)
    reason: Mapped[str] = mapped_column(String(500))
    reference: Mapped[str | None] = mapped_column(String(100))
    status: Mapped[AdjustmentStatus] = mapped_column(String(16))
    # The region's threshold when it was asked, and why it had to wait (if it did).
    threshold: Mapped[int]
    approval_cause: Mapped[ApprovalCause | None] = mapped_column(String(16))
    # What it adds to the region's issuance (out of the issuance account), or takes
    # back (negative, into it); zero when the issuance account is on neither side.
    issuance_delta: Mapped[int] = mapped_column(BigInteger)
    # The region-local year it was posted in, against whose budget it counts.
    budget_year: Mapped[int | None]
    requested_by_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("staff_users.id"))
    requested_at: Mapped[datetime] = mapped_column(default=clock.now)
    decided_by_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("staff_users.id"))
    decided_at: Mapped[datetime | None]
    decision_reason: Mapped[str | None] = mapped_column(String(500))
    transaction_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("ledger_transactions.id"), unique=True
    )


class AdjustmentTally(Base):
    """What one admin adjusted alone of one account on one region-local day.

    Its row is locked while an adjustment is weighed against the threshold, so that
    concurrent pieces of one split-up adjustment are counted one after another."""

    __tablename__ = "adjustment_tallies"

    staff_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("staff_users.id"), primary_key=True)
    account_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("ledger_accounts.id"), primary_key=True
    )
    day: Mapped[date] = mapped_column(primary_key=True)
    region_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("regions.id"))
    total: Mapped[int] = mapped_column(BigInteger, default=0)
