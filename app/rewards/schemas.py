"""Request and response bodies of `app.rewards`: the reward policy."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, Field, field_validator

from app.core.schemas import RequestSchema
from app.rewards.models import DEFAULT_ADJUSTMENT_THRESHOLD, EarningSource

Cap = Annotated[int | None, Field(ge=0, le=10_000_000)]
MAX_ADJUSTMENT_THRESHOLD = 10_000


class RewardPolicyUpdate(RequestSchema):
    """The whole policy; a null cap or budget means unlimited."""

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
