"""Request and response bodies of `app.merchants`."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Annotated, Literal

from pydantic import BaseModel, Field, StringConstraints, model_validator

from app.core.schemas import RequestSchema, Schema
from app.merchants.models import (
    CodeKind,
    LimitPeriod,
    MerchantCategory,
    MerchantRole,
    MerchantStatus,
    OfferStatus,
    RedemptionStatus,
    ReservationStatus,
    TerminalStatus,
)

# PostgreSQL text cannot hold NUL (U+0000): refused here, not failed on in the database.
_NO_NUL = r"^[^\x00]*$"
Name = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100, pattern=_NO_NUL)
]
Latitude = Annotated[float, Field(ge=-90, le=90)]
Longitude = Annotated[float, Field(ge=-180, le=180)]
Phone = Annotated[str, StringConstraints(pattern=r"^\+?[0-9\-]{5,20}$")]
RequestNo = Annotated[
    str,
    StringConstraints(pattern=r"^[A-Za-z0-9_\-]{1,64}$"),
    Field(description="The terminal's number for this attempt: its idempotency key"),
]
Amount = Annotated[int, Field(ge=1, le=1_000_000, description="良票, whole units")]


# Merchants


class MerchantCreate(RequestSchema):
    name: Name
    address: Annotated[
        str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200, pattern=_NO_NUL)
    ]
    latitude: Latitude
    longitude: Longitude
    category: MerchantCategory
    contact_name: (
        Annotated[str, StringConstraints(min_length=1, max_length=50, pattern=_NO_NUL)] | None
    ) = None
    contact_phone: Phone | None = None
    station_ids: list[uuid.UUID] = Field(
        default_factory=list,
        max_length=20,
        description="Stations to pair with; you must administer each (center admins reach all)",
    )


class MerchantUpdate(RequestSchema):
    name: Name | None = None
    address: (
        Annotated[
            str,
            StringConstraints(strip_whitespace=True, min_length=1, max_length=200, pattern=_NO_NUL),
        ]
        | None
    ) = None
    latitude: Latitude | None = None
    longitude: Longitude | None = None
    category: MerchantCategory | None = None
    contact_name: (
        Annotated[str, StringConstraints(min_length=1, max_length=50, pattern=_NO_NUL)] | None
    ) = None
    contact_phone: Phone | None = None
    station_ids: list[uuid.UUID] | None = Field(
        default=None,
        max_length=20,
        description="Replaces the paired stations; you must administer each added or removed. "
        "An unpaired station's pairing is kept, ended, with who ended it and `pairing_reason`",
    )
    pairing_reason: (
        Annotated[
            str,
            StringConstraints(strip_whitespace=True, min_length=1, max_length=500, pattern=_NO_NUL),
        ]
        | None
    ) = Field(default=None, description="Why stations are unpaired; kept with those pairings")


class MerchantStatusChange(RequestSchema):
    status: MerchantStatus


class Merchant(BaseModel):
    id: uuid.UUID
    region_id: uuid.UUID
    name: str
    address: str
    latitude: float
    longitude: float
    category: MerchantCategory
    contact_name: str | None
    contact_phone: str | None
    status: MerchantStatus
    station_ids: list[uuid.UUID]
    created_at: datetime
    updated_at: datetime


class MerchantStaffCreate(RequestSchema):
    username: Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_.\-]{3,64}$")]
    display_name: Name
    password: Annotated[str, StringConstraints(min_length=10, max_length=128)]
    role: MerchantRole


class MerchantStaffUpdate(RequestSchema):
    """Each field given changes; disabling the account or giving it a new password ends
    every login it has at once."""

    display_name: Name | None = None
    is_active: bool | None = Field(default=None, description="false: the account is disabled")
    password: Annotated[str, StringConstraints(min_length=10, max_length=128)] | None = Field(
        default=None, description="A new password: the account's logins end"
    )


class MerchantStaff(BaseModel):
    id: uuid.UUID
    username: str
    display_name: str
    role: MerchantRole
    is_active: bool
    created_at: datetime


class MerchantPolicy(BaseModel):
    region_id: uuid.UUID
    refund_window_days: int
    is_default: bool


class MerchantPolicyUpdate(RequestSchema):
    refund_window_days: int = Field(ge=0, le=90)


# Offers


class OfferCreate(RequestSchema):
    title: Name
    description: Annotated[str, StringConstraints(max_length=1000, pattern=_NO_NUL)] | None = None
    price: Amount
    stock: int | None = Field(default=None, ge=0, le=1_000_000, description="None: unlimited")
    limit_count: int | None = Field(default=None, ge=1, le=1000)
    limit_period: LimitPeriod | None = None
    valid_from: date | None = None
    valid_until: date | None = None
    min_star_level: int = Field(default=0, ge=0, le=5)


class OfferUpdate(RequestSchema):
    title: Name | None = None
    description: Annotated[str, StringConstraints(max_length=1000, pattern=_NO_NUL)] | None = None
    price: Amount | None = None
    stock: int | None = Field(default=None, ge=0, le=1_000_000)
    limit_count: int | None = Field(default=None, ge=1, le=1000)
    limit_period: LimitPeriod | None = None
    valid_from: date | None = None
    valid_until: date | None = None
    min_star_level: int | None = Field(default=None, ge=0, le=5)
    status: OfferStatus | None = None


class Offer(Schema):
    id: uuid.UUID
    merchant_id: uuid.UUID
    title: str
    description: str | None
    price: int
    stock: int | None
    limit_count: int | None
    limit_period: LimitPeriod | None
    valid_from: date | None
    valid_until: date | None
    min_star_level: int
    status: OfferStatus
    created_at: datetime
    updated_at: datetime


class OfferMerchant(BaseModel):
    id: uuid.UUID
    name: str
    address: str
    latitude: float
    longitude: float
    category: MerchantCategory


class OfferListing(BaseModel):
    """An active offer as volunteers browse it, with its merchant and distance."""

    id: uuid.UUID
    title: str
    description: str | None
    price: int
    stock: int | None
    limit_count: int | None
    limit_period: LimitPeriod | None
    valid_until: date | None
    min_star_level: int
    merchant: OfferMerchant
    distance_m: int | None = Field(description="From the given position; None without one")


# Terminals


class TerminalCreate(RequestSchema):
    name: Name
    public_key: (
        Annotated[
            str,
            StringConstraints(min_length=40, max_length=64),
            Field(
                description="The terminal's own Ed25519 public key, raw 32 bytes in base64; "
                "omit it and the server generates a key pair and returns the private key once"
            ),
        ]
        | None
    ) = None


class Terminal(BaseModel):
    id: uuid.UUID
    key_id: str = Field(description="The `keyid` the terminal signs with")
    merchant_id: uuid.UUID
    name: str
    algorithm: Literal["ed25519"] = "ed25519"
    public_key: str
    status: TerminalStatus
    created_at: datetime
    revoked_at: datetime | None


class TerminalRegistered(Terminal):
    private_key: str | None = Field(
        description="PKCS#8 PEM of the generated private key: shown this once, never again; "
        "None when the terminal registered its own public key"
    )


# Redemption codes


class RedemptionCodeCreate(RequestSchema):
    """The volunteer's bounds on what the code may pay; none, and only the balance bounds it."""

    max_amount: Amount | None = Field(
        default=None, description="The most the code may pay; a terminal asking more is refused"
    )
    offer_id: uuid.UUID | None = Field(
        default=None,
        description="An offer of your region: the code pays for this offer and nothing else",
    )


class RedemptionCodeOut(BaseModel):
    code: str = Field(description="18 digits; show it as a QR code and as digits")
    kind: CodeKind
    expires_at: datetime
    qr_png: str = Field(description="The code as a PNG QR image, a data: URI")
    max_amount: int | None = Field(description="The most the code may pay; None: no bound")
    offer_id: uuid.UUID | None = Field(description="The only offer the code pays for, if any")


class OfflineCodeSecretCreate(RequestSchema):
    max_amount: Amount | None = Field(
        default=None,
        description="The most any one offline code of this wallet may pay; None: no bound",
    )


class OfflineCodeSecret(BaseModel):
    """What the mini-program needs to derive offline codes; shown once."""

    secret: str = Field(description="TOTP secret, base32 (RFC 6238, SHA-1)")
    wallet_no: str
    prefix: str
    digits: int = Field(description="Digits of the TOTP part")
    period_seconds: int
    format: str
    otpauth_uri: str
    max_amount: int | None = Field(description="The most any one offline code may pay")


# Redemption at the terminal


class RedemptionRequest(RequestSchema):
    code: Annotated[str, StringConstraints(pattern=r"^[0-9]{18}$")]
    offer_id: uuid.UUID | None = None
    amount: Amount | None = None
    request_no: RequestNo

    @model_validator(mode="after")
    def _offer_or_amount(self) -> RedemptionRequest:
        if (self.offer_id is None) == (self.amount is None):
            raise ValueError("give either offer_id or amount")
        return self


class Refusal(BaseModel):
    code: str
    status: int
    detail: str


class Receipt(BaseModel):
    """The outcome of one redemption attempt: what the terminal asked and got, never
    what the volunteer has left (that is the volunteer's own to see, in the wallet)."""

    id: uuid.UUID
    request_no: str
    status: RedemptionStatus
    merchant_id: uuid.UUID
    terminal_id: uuid.UUID
    offer_id: uuid.UUID | None
    amount: int | None
    volunteer: str | None = Field(description="The volunteer's name, masked: 张*明")
    code_kind: CodeKind | None
    transaction_id: uuid.UUID | None
    refunded_amount: int
    created_at: datetime
    voided_at: datetime | None
    refusal: Refusal | None = Field(description="Why it was refused, when it was")


class RefundRequest(RequestSchema):
    refund_no: RequestNo
    amount: Amount


class Refund(BaseModel):
    id: uuid.UUID
    refund_no: str
    redemption_id: uuid.UUID
    amount: int
    remaining: int = Field(description="What of the redemption can still be refunded")
    transaction_id: uuid.UUID
    refunded_by: str
    created_at: datetime


# Statements and settlement


class StatementLine(BaseModel):
    at: datetime
    type: Literal["redemption", "void", "refund", "settlement"]
    redemption_id: uuid.UUID | None
    request_no: str | None
    refund_no: str | None
    offer_id: uuid.UUID | None
    terminal_id: uuid.UUID | None
    amount: int = Field(description="Signed: what the day's line adds to the merchant's account")
    transaction_id: uuid.UUID | None


class StatementTotals(BaseModel):
    redemptions: int
    redeemed: int
    voided: int
    refunded: int
    net: int
    settled: int


class Settlement(Schema):
    id: uuid.UUID
    merchant_id: uuid.UUID
    period: str
    amount: int
    transaction_id: uuid.UUID | None
    settled_by: str
    created_at: datetime


class Statement(BaseModel):
    merchant_id: uuid.UUID
    merchant_name: str
    date: date
    timezone: str
    provisional: bool = Field(
        description="True for the region's current day: lines may still join it, so it "
        "has no digest until the day has closed"
    )
    lines: list[StatementLine]
    totals: StatementTotals
    settlement: Settlement | None = Field(
        description="The monthly settlement that covers this day, once it has run"
    )
    csv_sha256: str | None = Field(
        description="SHA-256 (hex) of this statement's CSV form; null while provisional"
    )


# Years 2000-2999: the month after the period must be a date too (no year 0, no 10000).
Period = Annotated[str, StringConstraints(pattern=r"^2[0-9]{3}-(0[1-9]|1[0-2])$")]


class SettlementRequest(RequestSchema):
    period: Period


class SettlementRun(BaseModel):
    period: str
    settlements: list[Settlement] = Field(description="One per merchant with receipts")
    total: int


# Reservations for pick-up

PickupCode = Annotated[str, StringConstraints(pattern=r"^[0-9]{8}$")]


class ReservationCreate(RequestSchema):
    offer_id: uuid.UUID


class Reservation(BaseModel):
    """A reservation as its volunteer sees it, with the code to show at the counter."""

    id: uuid.UUID
    status: ReservationStatus
    offer_id: uuid.UUID
    offer_title: str
    merchant_id: uuid.UUID
    merchant_name: str
    amount: int = Field(description="良票 held in the wallet until pick-up or timeout")
    pickup_code: str | None = Field(
        description="Shown at the counter to pick up; null once the reservation has closed"
    )
    expires_at: datetime
    created_at: datetime
    resolved_at: datetime | None
    redemption_id: uuid.UUID | None = Field(description="The redemption of the pick-up")


class MerchantReservation(BaseModel):
    """A reservation as the merchant sees it: what to set aside, for whom (masked), until
    when; never the pick-up code, which the volunteer brings."""

    id: uuid.UUID
    status: ReservationStatus
    offer_id: uuid.UUID
    offer_title: str
    amount: int
    volunteer: str = Field(description="The volunteer's name, masked: 张*明")
    expires_at: datetime
    created_at: datetime
    resolved_at: datetime | None
    redemption_id: uuid.UUID | None


class PickupRequest(RequestSchema):
    request_no: RequestNo
    pickup_code: PickupCode
