"""Tables of `app.rewards`: each region's reward policy and the issuance per hours record.

A `RewardIssuance` row is the decision the policy made for one approved hours
record: what it was entitled to, what the caps and budget let through, and the
ledger transaction that moved the 良票. The row is unique per hours record, so
a second delivery of the same `hours.approved` event finds it and does nothing.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime
from enum import StrEnum

from sqlalchemy import JSON, BigInteger, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from app.core import clock
from app.core.db import Base, IdMixin


class EarningSource(StrEnum):
    """Where approved hours came from; the policy says which of them earn 良票."""

    checkin = "checkin"
    makeup = "makeup"
    bulk = "bulk"


class IssuanceReason(StrEnum):
    """Why an issuance is smaller than the hours' entitlement, or zero."""

    source_not_earning = "source_not_earning"
    activity_cap = "activity_cap"
    daily_cap = "daily_cap"
    yearly_cap = "yearly_cap"
    budget_exhausted = "budget_exhausted"
    # The record was replaced by a correction that was issued first.
    superseded = "superseded"
    # A correction downwards found fewer 良票 in the wallet than it had to take back.
    clawback_shortfall = "clawback_shortfall"


DEFAULT_RATE_PER_HOUR = 10
DEFAULT_EARNING_SOURCES: tuple[EarningSource, ...] = (EarningSource.checkin,)
# 良票 one center admin may adjust alone: fifty hours' worth at the default rate.
DEFAULT_ADJUSTMENT_THRESHOLD = 500


class RewardPolicy(IdMixin, Base):
    """A region's policy. Absent, the defaults apply; caps and budget left null are unlimited.

    Issuance locks this row, so policy changes and issuances of one region take
    turns and every issuance reads one consistent policy.
    """

    __tablename__ = "reward_policies"

    region_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("regions.id"), unique=True)
    rate_per_hour: Mapped[int] = mapped_column(default=DEFAULT_RATE_PER_HOUR)
    earning_sources: Mapped[list[str]] = mapped_column(
        JSON, default=lambda: [s.value for s in DEFAULT_EARNING_SOURCES]
    )
    # Caps are in 良票 per volunteer; the budget is the region's net issuance per year.
    activity_cap: Mapped[int | None]
    daily_cap: Mapped[int | None]
    yearly_cap: Mapped[int | None]
    yearly_budget: Mapped[int | None] = mapped_column(BigInteger)
    # A manual adjustment above this, or one taking an admin's adjustments of one account
    # on one day above it, waits for a second center admin (see app.rewards.adjustments).
    adjustment_threshold: Mapped[int] = mapped_column(
        default=DEFAULT_ADJUSTMENT_THRESHOLD, server_default=str(DEFAULT_ADJUSTMENT_THRESHOLD)
    )
    updated_at: Mapped[datetime] = mapped_column(default=clock.now)
    updated_by_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("staff_users.id"))


class RewardIssuance(IdMixin, Base):
    """The policy's decision for one approved hours record, and its effect on the ledger."""

    __tablename__ = "reward_issuances"
    __table_args__ = (
        Index("ix_reward_issuances_volunteer_date", "region_id", "volunteer_id", "service_date"),
        Index("ix_reward_issuances_volunteer_activity", "region_id", "volunteer_id", "activity_id"),
        Index("ix_reward_issuances_volunteer_year", "region_id", "volunteer_id", "service_year"),
        Index("ix_reward_issuances_budget_year", "region_id", "budget_year"),
    )

    region_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("regions.id"))
    # The hours record and activity are named as the event named them (rewards reads
    # events, not the activities tables), like a ledger transaction names its cause.
    hours_record_id: Mapped[uuid.UUID] = mapped_column(unique=True)
    supersedes_hours_record_id: Mapped[uuid.UUID | None] = mapped_column(unique=True)
    # Set on the row of a record once a correction replaced it: caps count only live rows.
    superseded_by_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("reward_issuances.id"))
    volunteer_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("volunteers.id"))
    activity_id: Mapped[uuid.UUID | None]
    source: Mapped[str] = mapped_column(String(16))
    minutes: Mapped[int]
    service_date: Mapped[date]
    service_year: Mapped[int]
    # The region-local year of the issuance, against whose budget it counts.
    budget_year: Mapped[int]
    rate_per_hour: Mapped[int]
    # minutes * rate // 60 when the source earns, else 0.
    entitled: Mapped[int]
    # What the record is worth after caps and budget.
    granted: Mapped[int]
    issued: Mapped[int] = mapped_column(default=0)
    clawed_back: Mapped[int] = mapped_column(default=0)
    # What a claw-back could not take because the wallet had already spent it.
    shortfall: Mapped[int] = mapped_column(default=0)
    reasons: Mapped[list[str]] = mapped_column(JSON, default=list)
    transaction_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("ledger_transactions.id"))
    approved_by: Mapped[str | None] = mapped_column(String(64))
    approved_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=clock.now)

    @property
    def held(self) -> int:
        """What the volunteer holds from this record's chain of corrections."""
        return self.granted + self.shortfall
