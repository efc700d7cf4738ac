"""Request and response bodies of `app.ledger`, its tamper evidence (signed block heads,
inclusion proofs, public keys) included."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field

from app.core.schemas import RequestSchema
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


class ReversalCreate(RequestSchema):
    amount: int | None = Field(
        default=None, ge=1, le=1_000_000_000, description="Default: all that remains"
    )
    reason: str = Field(min_length=1, max_length=500)


# --- tamper evidence ---------------------------------------------------------------------


class LedgerKey(BaseModel):
    """An Ed25519 public key as a JWK (RFC 8037), with when it came into use."""

    kid: str = Field(description="RFC 7638 thumbprint of the key")
    kty: str = "OKP"
    crv: str = "Ed25519"
    alg: str = "EdDSA"
    use: str = "sig"
    x: str = Field(description="The public key, base64url without padding")
    created_at: datetime


class LedgerKeySet(BaseModel):
    region_id: uuid.UUID
    keys: list[LedgerKey]


class BlockHeader(BaseModel):
    """The signed part of a block; its canonical JSON is `signed_header` of a digest."""

    v: int
    region_id: uuid.UUID
    height: int
    prev_hash: str
    merkle_root: str
    tx_count: int
    sealed_at: str
    kid: str
    seq_through: int | None = Field(
        default=None,
        description="Headers v2: every ledger sequence number up to this one is a "
        "transaction's or listed in some block's `unused_seqs`",
    )
    unused_seqs: list[list[int]] | None = Field(
        default=None,
        description="Headers v2: [first, last] ranges of sequence numbers no transaction took, "
        "since the previous attestation",
    )


class LedgerDigest(BaseModel):
    """A signed block head: verify `signature` over `signed_header` with the key `kid`."""

    block_id: uuid.UUID
    header: BlockHeader
    signed_header: str = Field(description="The exact bytes signed (UTF-8): canonical JSON")
    block_hash: str = Field(description="SHA-256 of `signed_header`, hex")
    signature: str = Field(description="Ed25519 signature of `signed_header`, base64url")
    algorithm: str = "Ed25519"


class TransactionProof(BaseModel):
    """Everything needed to check, with the region's public key alone, that a transaction
    is in a signed block: RFC 6962 leaf hash and audit path up to the block's Merkle root."""

    transaction_id: uuid.UUID
    transaction: str = Field(description="Canonical JSON of the transaction and its postings")
    leaf_hash: str = Field(description="SHA-256(0x00 || transaction), hex")
    leaf_index: int
    tree_size: int
    audit_path: list[str] = Field(description="Sibling hashes from the leaf up, hex (RFC 6962)")
    block: LedgerDigest
