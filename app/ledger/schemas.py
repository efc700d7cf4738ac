"""Request and response bodies of `app.ledger`."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from app.ledger.models import AccountKind, TxKind


class Balance(BaseModel):
    posted: int = Field(description="The sum of the account's postings")
    pending: int = Field(description="What open holds keep aside")
    available: int = Field(description="posted − pending")


class Account(BaseModel):
    id: uuid.UUID
    region_id: uuid.UUID
    kind: AccountKind
    owner_id: uuid.UUID = Field(
        description="The volunteer, the merchant, or (for the region's own accounts) the region"
    )
    allow_negative: bool
    balance: Balance
    created_at: datetime


class PostingOut(BaseModel):
    account_id: uuid.UUID
    amount: int = Field(description="Credit positive, debit negative")


class Transaction(BaseModel):
    id: uuid.UUID
    seq: int = Field(description="The ledger's global order")
    region_id: uuid.UUID
    kind: TxKind
    reference_type: str
    reference_id: str
    actor: str
    metadata: dict[str, Any]
    created_at: datetime
    reverses_id: uuid.UUID | None
    refunds_id: uuid.UUID | None
    postings: list[PostingOut]


class Lot(BaseModel):
    id: uuid.UUID
    amount: int = Field(description="What was credited")
    remaining: int = Field(description="What is left of it")
    reserved: int = Field(description="What open holds keep aside of what is left")
    expires_at: datetime
    issued_at: datetime


class NextExpiry(BaseModel):
    expires_at: datetime
    amount: int


class Wallet(BaseModel):
    balance: Balance
    spendable: int = Field(description="What can be spent now: unreserved, unexpired 良票")
    lots: list[Lot] = Field(description="Unexpired lots that hold 良票, soonest expiry first")
    next_expiry: NextExpiry | None


class Counterpart(BaseModel):
    account_id: uuid.UUID
    kind: AccountKind
    owner_id: uuid.UUID
    amount: int


class Cause(BaseModel):
    reference_type: str = Field(description="What caused it, e.g. `hours_record`, `redemption`")
    reference_id: str


class WalletEntry(BaseModel):
    transaction_id: uuid.UUID
    seq: int
    kind: TxKind
    amount: int = Field(description="The change to the wallet: positive in, negative out")
    created_at: datetime
    counterparts: list[Counterpart]
    cause: Cause
    description: str | None = Field(
        description="A short line for the volunteer, when the cause gave one"
    )


class ReversalCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    amount: int | None = Field(
        default=None, ge=1, le=1_000_000_000, description="Default: all that remains"
    )
    reason: str = Field(min_length=1, max_length=500)
