"""Helpers of the rewards tests (and of others that need 良票 issued for hours): approve
hours as the hours service would (an `hours.approved` event in the outbox), deliver the
events with the worker's handlers, read rows back."""

from __future__ import annotations

import uuid
from datetime import date
from typing import Any

from sqlalchemy import func, select

from app.core import clock
from app.integrations import outbox
from app.ledger import service as ledger
from app.ledger.models import LedgerTransaction
from app.rewards.models import RewardIssuance
from app.worker import register_event_handlers


async def approve(
    app: Any,
    *,
    region_id: uuid.UUID,
    volunteer_id: uuid.UUID,
    minutes: int,
    source: str = "checkin",
    activity_id: uuid.UUID | None = None,
    service_date: date | None = None,
    supersedes: uuid.UUID | None = None,
    hours_record_id: uuid.UUID | None = None,
) -> uuid.UUID:
    """Commit an `hours.approved` event, as approving a record does; returns the record id."""
    record_id = hours_record_id or uuid.uuid4()
    async with app.state.db.sessions() as session, session.begin():
        await outbox.emit(
            session,
            region_id=region_id,
            topic="hours.approved",
            payload={
                "hours_record_id": str(record_id),
                "volunteer_id": str(volunteer_id),
                "activity_id": str(activity_id or uuid.uuid4()),
                "minutes": minutes,
                "source": source,
                "supersedes_id": str(supersedes) if supersedes else None,
                "service_date": (service_date or date(2026, 5, 9)).isoformat(),
                "approved_at": clock.now().isoformat(),
                "approved_by": str(uuid.uuid4()),
            },
        )
    return record_id


async def deliver(app: Any) -> int:
    """Run the outbox until it is idle, with the worker's handlers; returns events handled."""
    register_event_handlers()
    total = 0
    while n := await outbox.dispatch_batch(app.state.db.sessions):
        total += n
    return total


async def balance(app: Any, *, region_id: uuid.UUID, volunteer_id: uuid.UUID) -> int:
    async with app.state.db.sessions() as session:
        summary = await ledger.wallet_summary(
            session, region_id=region_id, volunteer_id=volunteer_id
        )
        return summary.balance.posted


async def issuance_of(app: Any, hours_record_id: uuid.UUID) -> RewardIssuance | None:
    async with app.state.db.sessions() as session:
        return await session.scalar(
            select(RewardIssuance).where(RewardIssuance.hours_record_id == hours_record_id)
        )


async def count(app: Any, model: Any) -> int:
    async with app.state.db.sessions() as session:
        return int(await session.scalar(select(func.count()).select_from(model)) or 0)


async def ledger_transactions(app: Any, *, reference_id: str) -> list[LedgerTransaction]:
    async with app.state.db.sessions() as session:
        rows = await session.scalars(
            select(LedgerTransaction)
            .where(LedgerTransaction.reference_id == reference_id)
            .order_by(LedgerTransaction.seq)
        )
        return list(rows)
