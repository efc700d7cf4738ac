"""Request and response bodies of `app.rewards`: the reward policy, ledger proofs and keys."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, field_validator

from app.rewards.models import DEFAULT_ADJUSTMENT_THRESHOLD, EarningSource

Cap = Annotated[int | None, Field(ge=0, le=10_000_000)]
MAX_ADJUSTMENT_THRESHOLD = 10_000


class RewardPolicyUpdate(BaseModel):
    """The whole policy; a null cap or budget means unlimited."""

    model_config = ConfigDict(extra="forbid")

    rate_per_hour: int = Field(ge=0, le=10_000, description="良票 per approved hour")
    earning_sources: list[EarningSource] = Field(
        max_length=len(EarningSource), description="Hour sources that earn 良票"
    )
    activity_cap: Cap = Field(
        default=None, description="Most 良票 one volunteer earns per activity"
    )
    daily_cap: Cap = Field(
        default=None, description="Most 良票 one volunteer earns per service day (region time)"
    )
    yearly_cap: Cap = Field(
        default=None, description="Most 良票 one volunteer earns per service year"
    )
    yearly_budget: Annotated[int | None, Field(ge=0, le=10_000_000_000)] = Field(
        default=None,
        description="Most 良票 the region issues per year, net of claw-backs; manual "
        "adjustments out of (or back into) the issuance account count too",
    )
    # Bounded so that one admin cannot lift the two-person rule by policy.
    adjustment_threshold: int = Field(
        default=DEFAULT_ADJUSTMENT_THRESHOLD,
        ge=0,
        le=MAX_ADJUSTMENT_THRESHOLD,
        description="Most 良票 one center admin adjusts alone, per call and per account "
        "and region-local day; above it a second center admin must approve",
    )

    @field_validator("earning_sources")
    @classmethod
    def _distinct(cls, sources: list[EarningSource]) -> list[EarningSource]:
        if len(set(sources)) != len(sources):
            raise ValueError("list each source once")
        return sources


class RewardPolicyOut(BaseModel):
    region_id: uuid.UUID
    rate_per_hour: int
    earning_sources: list[EarningSource]
    activity_cap: int | None
    daily_cap: int | None
    yearly_cap: int | None
    yearly_budget: int | None
    adjustment_threshold: int
    is_default: bool = Field(description="True while the region has not set its own policy")
    updated_at: datetime | None
    updated_by_id: uuid.UUID | None


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
