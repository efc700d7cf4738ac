"""Tables of `app.merchants`: merchants and their staff, offers and their reservations,
terminals and their nonces, redemption codes, redemptions with their refunds, and
monthly settlements.

The 良票 themselves live in the ledger; these rows are the merchant-side facts
that point to ledger transactions (`transaction_id`) and answer the terminal's
questions (what became of request number N?).
"""

from __future__ import annotations

import uuid
from datetime import date, datetime
from enum import StrEnum

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    ForeignKey,
    Index,
    Integer,
    PrimaryKeyConstraint,
    String,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from app.core import clock
from app.core.db import Base, IdMixin, TimestampMixin


class MerchantStatus(StrEnum):
    pending = "pending"  # onboarded, not yet redeeming
    active = "active"
    suspended = "suspended"


# Which status may follow which.
MERCHANT_TRANSITIONS: dict[MerchantStatus, frozenset[MerchantStatus]] = {
    MerchantStatus.pending: frozenset({MerchantStatus.active, MerchantStatus.suspended}),
    MerchantStatus.active: frozenset({MerchantStatus.suspended}),
    MerchantStatus.suspended: frozenset({MerchantStatus.active}),
}


class MerchantCategory(StrEnum):
    food = "food"  # 餐饮
    grocery = "grocery"  # 超市便利
    personal_care = "personal_care"  # 理发美容
    health = "health"  # 医药健康
    education = "education"  # 文化教育
    household = "household"  # 家政维修
    leisure = "leisure"  # 文体休闲
    other = "other"


class MerchantRole(StrEnum):
    merchant_owner = "merchant_owner"
    cashier = "cashier"


class Merchant(IdMixin, TimestampMixin, Base):
    """A 文明商户 of one region."""

    __tablename__ = "merchants"
    __table_args__ = (Index("ix_merchants_region_status", "region_id", "status"),)

    region_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("regions.id"))
    name: Mapped[str] = mapped_column(String(100))
    address: Mapped[str] = mapped_column(String(200))
    # GCJ-02, as the mini-program reports positions.
    latitude: Mapped[float]
    longitude: Mapped[float]
    category: Mapped[MerchantCategory] = mapped_column(String(32))
    contact_name: Mapped[str | None] = mapped_column(String(50))
    contact_phone: Mapped[str | None] = mapped_column(String(20))
    status: Mapped[MerchantStatus] = mapped_column(String(16), default=MerchantStatus.pending)
    created_by_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("staff_users.id"))
    # The merchant's receipts account in the ledger, kept here so that a redemption
    # learns it together with its terminal instead of asking the ledger each time.
    ledger_account_id: Mapped[uuid.UUID | None]


class MerchantStation(IdMixin, Base):
    """A pairing of the merchant with a station, whose admins may manage the merchant
    while it lasts. Unpairing keeps the row with who ended it, when and why; pairing
    the same station again is a new row. The database refuses DELETE, and changes to
    a pairing other than ending it once (migration 0021)."""

    __tablename__ = "merchant_stations"
    __table_args__ = (
        Index(
            "uq_merchant_stations_live",
            "merchant_id",
            "org_unit_id",
            unique=True,
            postgresql_where=text("revoked_at IS NULL"),
            sqlite_where=text("revoked_at IS NULL"),
        ),
    )

    region_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("regions.id"))
    merchant_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("merchants.id"))
    org_unit_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("org_units.id"), index=True)
    created_at: Mapped[datetime] = mapped_column(default=clock.now)
    revoked_at: Mapped[datetime | None]
    revoked_by: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("staff_users.id"))
    revoked_reason: Mapped[str | None] = mapped_column(String(500))


class MerchantMember(IdMixin, Base):
    """A merchant staff account (StaffUser of kind `merchant`) and its role at one merchant."""

    __tablename__ = "merchant_members"

    region_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("regions.id"))
    merchant_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("merchants.id"), index=True)
    staff_user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("staff_users.id"), unique=True)
    role: Mapped[MerchantRole] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(default=clock.now)
    # A removed member's account stays (its username, and who did what, are kept), but
    # it is disabled for good and the merchant no longer lists it.
    removed_at: Mapped[datetime | None]
    removed_by_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("staff_users.id"))


DEFAULT_REFUND_WINDOW_DAYS = 7


class MerchantPolicy(IdMixin, Base):
    """A region's rules for merchants. Absent, the defaults apply."""

    __tablename__ = "merchant_policies"

    region_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("regions.id"), unique=True)
    # How long after a redemption its merchant's owner may still refund it; region
    # staff may refund at any time.
    refund_window_days: Mapped[int] = mapped_column(default=DEFAULT_REFUND_WINDOW_DAYS)
    updated_at: Mapped[datetime] = mapped_column(default=clock.now)
    updated_by_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("staff_users.id"))


class OfferStatus(StrEnum):
    active = "active"
    withdrawn = "withdrawn"


class LimitPeriod(StrEnum):
    day = "day"
    week = "week"  # ISO week, Monday first
    month = "month"


class Offer(IdMixin, TimestampMixin, Base):
    """Goods or a service a merchant gives for 良票."""

    __tablename__ = "offers"
    __table_args__ = (
        CheckConstraint("price > 0", name="price_positive"),
        CheckConstraint("stock IS NULL OR stock >= 0", name="stock_not_negative"),
        Index("ix_offers_region_status", "region_id", "status"),
    )

    region_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("regions.id"))
    merchant_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("merchants.id"), index=True)
    title: Mapped[str] = mapped_column(String(100))
    description: Mapped[str | None] = mapped_column(String(1000))
    price: Mapped[int]
    # None: unlimited. Redemptions decrement it with a conditional UPDATE; voids restore it.
    stock: Mapped[int | None]
    # At most `limit_count` redemptions per volunteer per `limit_period` (region time).
    limit_count: Mapped[int | None]
    limit_period: Mapped[LimitPeriod | None] = mapped_column(String(8))
    # Inclusive dates in region time; None leaves that side open.
    valid_from: Mapped[date | None]
    valid_until: Mapped[date | None]
    min_star_level: Mapped[int] = mapped_column(default=0)
    status: Mapped[OfferStatus] = mapped_column(String(16), default=OfferStatus.active)


class OfferUsage(IdMixin, Base):
    """How many times one volunteer redeemed one offer in one period.

    An upsert that only increments below the limit makes the limit exact under
    concurrency, without counting redemptions.
    """

    __tablename__ = "offer_usages"
    __table_args__ = (UniqueConstraint("offer_id", "volunteer_id", "period_key"),)

    region_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("regions.id"))
    offer_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("offers.id"))
    volunteer_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("volunteers.id"), index=True)
    # "2025-05-06", "2025-W19" or "2025-05".
    period_key: Mapped[str] = mapped_column(String(16))
    used: Mapped[int] = mapped_column(default=0)


class TerminalStatus(StrEnum):
    active = "active"
    suspended = "suspended"  # refused until resumed
    revoked = "revoked"  # refused for good


class Terminal(IdMixin, TimestampMixin, Base):
    """A phone or POS app that redeems for a merchant, known by its Ed25519 public key.

    The private half is the terminal's alone (generated by it, or by the server
    and shown once at registration); the server keeps nothing that could sign.
    """

    __tablename__ = "terminals"

    region_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("regions.id"))
    merchant_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("merchants.id"), index=True)
    name: Mapped[str] = mapped_column(String(100))
    # Raw 32-byte Ed25519 public key, base64.
    public_key: Mapped[str] = mapped_column(String(64))
    status: Mapped[TerminalStatus] = mapped_column(String(16), default=TerminalStatus.active)
    revoked_at: Mapped[datetime | None]
    created_by: Mapped[str] = mapped_column(String(80))


class TerminalNonce(Base):
    """A nonce a terminal signed with, kept until its signature could no longer be fresh.

    The primary key refuses a second use across every API replica.
    """

    __tablename__ = "terminal_nonces"
    __table_args__ = (PrimaryKeyConstraint("terminal_id", "nonce"),)

    terminal_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("terminals.id"))
    nonce: Mapped[str] = mapped_column(String(64))
    region_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("regions.id"))
    expires_at: Mapped[datetime] = mapped_column(index=True)


class CodeStatus(StrEnum):
    active = "active"
    used = "used"
    retired = "retired"  # replaced by a newer code before use


class RedemptionCode(IdMixin, Base):
    """An online redemption code; only its SHA-256 is stored.

    `max_amount` and `offer_id` are the volunteer's bounds on what the code may pay:
    the terminal chooses the amount, so the volunteer's consent is what the code allows.
    """

    __tablename__ = "redemption_codes"
    __table_args__ = (Index("ix_redemption_codes_volunteer_status", "volunteer_id", "status"),)

    region_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("regions.id"))
    volunteer_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("volunteers.id"))
    code_hash: Mapped[str] = mapped_column(String(64), unique=True)
    status: Mapped[CodeStatus] = mapped_column(String(16), default=CodeStatus.active)
    created_at: Mapped[datetime] = mapped_column(default=clock.now)
    expires_at: Mapped[datetime] = mapped_column(index=True)
    used_at: Mapped[datetime | None]
    max_amount: Mapped[int | None]
    offer_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("offers.id"))


class OfflineCodeKey(IdMixin, Base):
    """A wallet's TOTP secret for offline codes, and the last time step it redeemed with.

    The secret must be readable to compute codes (RFC 6238); it never leaves the
    server again after provisioning. `wallet_no` is the public part of each offline
    code that tells the server whose secret to use.
    """

    __tablename__ = "offline_code_keys"

    region_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("regions.id"))
    volunteer_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("volunteers.id"), unique=True)
    wallet_no: Mapped[str] = mapped_column(String(8), unique=True)
    secret: Mapped[str] = mapped_column(String(64))
    last_used_step: Mapped[int | None] = mapped_column(BigInteger)
    # The most any one offline code of this wallet may pay; None: no bound but the balance.
    max_amount: Mapped[int | None]
    created_at: Mapped[datetime] = mapped_column(default=clock.now)
    rotated_at: Mapped[datetime | None]


class CodeKind(StrEnum):
    online = "online"
    offline = "offline"
    # Not a code the volunteer made at the counter: the pick-up of a reservation.
    pickup = "pickup"


class RedemptionStatus(StrEnum):
    # Only ever seen inside the transaction that decides the attempt.
    pending = "pending"
    succeeded = "succeeded"
    refused = "refused"
    voided = "voided"


class Redemption(IdMixin, Base):
    """One attempt of a terminal to redeem, keyed by its `request_no`: succeeded (and maybe
    voided or partly refunded later) or refused, and why."""

    __tablename__ = "redemptions"
    __table_args__ = (
        UniqueConstraint("terminal_id", "request_no"),
        Index("ix_redemptions_merchant_created", "merchant_id", "created_at"),
        Index("ix_redemptions_merchant_voided", "merchant_id", "voided_at"),
    )

    region_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("regions.id"))
    merchant_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("merchants.id"))
    terminal_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("terminals.id"))
    request_no: Mapped[str] = mapped_column(String(64))
    # SHA-256 of the request body; another body under the same number is refused.
    fingerprint: Mapped[str] = mapped_column(String(64))
    status: Mapped[RedemptionStatus] = mapped_column(String(16))
    volunteer_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("volunteers.id"))
    offer_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("offers.id"))
    code_kind: Mapped[CodeKind | None] = mapped_column(String(8))
    amount: Mapped[int | None]
    transaction_id: Mapped[uuid.UUID | None]
    volunteer_display: Mapped[str | None] = mapped_column(String(60))
    refusal_code: Mapped[str | None] = mapped_column(String(64))
    refusal_status: Mapped[int | None] = mapped_column(Integer)
    refusal_detail: Mapped[str | None] = mapped_column(String(300))
    refunded_amount: Mapped[int] = mapped_column(default=0)
    created_at: Mapped[datetime] = mapped_column(default=clock.now)
    voided_at: Mapped[datetime | None]
    void_transaction_id: Mapped[uuid.UUID | None]
    # The period of the offer usage this redemption counted against; a void gives it back.
    usage_period_key: Mapped[str | None] = mapped_column(String(16))


class RedemptionRefund(IdMixin, Base):
    """A (partial) refund of a redemption, at most once per `refund_no`."""

    __tablename__ = "redemption_refunds"
    __table_args__ = (
        UniqueConstraint("redemption_id", "refund_no"),
        Index("ix_redemption_refunds_merchant_created", "merchant_id", "created_at"),
    )

    region_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("regions.id"))
    merchant_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("merchants.id"))
    redemption_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("redemptions.id"))
    refund_no: Mapped[str] = mapped_column(String(64))
    amount: Mapped[int]
    transaction_id: Mapped[uuid.UUID]
    refunded_by: Mapped[str] = mapped_column(String(80))
    created_at: Mapped[datetime] = mapped_column(default=clock.now)


class MerchantSettlement(IdMixin, Base):
    """One merchant's receipts of one month moved to the region's settled account."""

    __tablename__ = "merchant_settlements"
    __table_args__ = (UniqueConstraint("merchant_id", "period"),)

    region_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("regions.id"), index=True)
    merchant_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("merchants.id"))
    period: Mapped[str] = mapped_column(String(7))  # "YYYY-MM", region time
    amount: Mapped[int]
    transaction_id: Mapped[uuid.UUID | None]
    settled_by: Mapped[str] = mapped_column(String(80))
    created_at: Mapped[datetime] = mapped_column(default=clock.now)


class ReservationStatus(StrEnum):
    held = "held"  # the 良票 are held, the item set aside, until pick-up or timeout
    picked_up = "picked_up"
    cancelled = "cancelled"
    expired = "expired"


class OfferReservation(IdMixin, Base):
    """A volunteer's reservation of one offer for pick-up at the merchant.

    Reserving holds the offer's price in the wallet (a ledger hold), takes one of its
    stock and counts against the volunteer's limit; the pick-up at a terminal posts the
    hold as a redemption; a cancellation or the timeout releases the hold and gives the
    stock and the usage back. `pickup_code` is the volunteer's to show at the counter,
    unique among the merchant's open reservations.
    """

    __tablename__ = "offer_reservations"
    __table_args__ = (
        Index(
            "uq_offer_reservations_open_pickup_code",
            "merchant_id",
            "pickup_code",
            unique=True,
            sqlite_where=text("status = 'held'"),
            postgresql_where=text("status = 'held'"),
        ),
        Index("ix_offer_reservations_volunteer_created", "volunteer_id", "created_at"),
        Index("ix_offer_reservations_merchant_created", "merchant_id", "created_at"),
        Index("ix_offer_reservations_status_expires", "status", "expires_at"),
        CheckConstraint("amount > 0", name="amount_positive"),
    )

    region_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("regions.id"))
    merchant_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("merchants.id"))
    offer_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("offers.id"))
    volunteer_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("volunteers.id"))
    hold_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("ledger_holds.id"), unique=True)
    amount: Mapped[int] = mapped_column(BigInteger)
    pickup_code: Mapped[str] = mapped_column(String(8))
    status: Mapped[ReservationStatus] = mapped_column(String(16), default=ReservationStatus.held)
    # The offer-limit period the reservation counted against; a release gives it back.
    usage_period_key: Mapped[str | None] = mapped_column(String(16))
    volunteer_display: Mapped[str] = mapped_column(String(60))
    created_at: Mapped[datetime] = mapped_column(default=clock.now)
    expires_at: Mapped[datetime]
    resolved_at: Mapped[datetime | None]
    resolved_by: Mapped[str | None] = mapped_column(String(80))
    redemption_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("redemptions.id"))
