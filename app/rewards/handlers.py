"""Outbox consumers of `app.rewards`: approved hours become 良票."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from app.integrations.models import OutboxEvent
from app.rewards import service


async def on_hours_approved(session: AsyncSession, event: OutboxEvent) -> None:
    """Issue for the approved hours record; a repeated delivery finds its issuance and stops."""
    approval = service.HoursApproved.parse(event.region_id, event.payload)
    await service.issue_for_hours(session, approval=approval)
