"""Request and response bodies of manual adjustments and their decisions."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated

from pydantic import Field, StringConstraints

from app.core.schemas import RequestSchema, Schema
from app.rewards.adjustments.models import AdjustmentStatus, ApprovalCause

# PostgreSQL text cannot hold NUL (U+0000): refused here, not failed on in the database.
_NO_NUL = r"^[^\x00]*$"
Reason = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=500, pattern=_NO_NUL)
]


class AdjustmentCreate(RequestSchema):
    debit_account_id: uuid.UUID = Field(description="The account the 良票 leave")
    credit_account_id: uuid.UUID = Field(description="The account the 良票 go to")
    amount: int = Field(ge=1, le=1_000_000_000)
    reason: str = Field(
        min_length=1, max_length=500, pattern=_NO_NUL, description="Why; kept in the audit trail"
    )
    reference: str | None = Field(
        default=None,
        min_length=1,
        max_length=100,
        pattern=_NO_NUL,
        description="A case or ticket number",
    )


class AdjustmentApprove(RequestSchema):
    reason: Reason | None = Field(default=None, description="A note kept with the approval")


class AdjustmentRefuse(RequestSchema):
    reason: Reason = Field(description="Why it is refused; kept in the audit trail")


class Adjustment(Schema):
    """One adjustment: what was asked, by whom and why, and who decided it."""

    id: uuid.UUID
    region_id: uuid.UUID
    status: AdjustmentStatus
    debit_account_id: uuid.UUID
    credit_account_id: uuid.UUID
    amount: int
    reason: str
    reference: str | None
    threshold: int = Field(description="The region's threshold when it was asked")
    approval_cause: ApprovalCause | None = Field(
        description="Why it needs a second admin: `amount` over the threshold, or the "
        "`daily_total` of the requester's adjustments of one of its accounts that day"
    )
    requested_by_id: uuid.UUID
    requested_at: datetime
    decided_by_id: uuid.UUID | None = Field(description="Who approved or refused it")
    decided_at: datetime | None
    decision_reason: str | None
    transaction_id: uuid.UUID | None = Field(description="The ledger transaction, once posted")
