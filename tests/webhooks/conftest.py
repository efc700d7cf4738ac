"""Fixtures of the webhook tests: a receiver on a loopback port, retries seconds apart."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.config import Settings
from tests.builders import World
from tests.orgs.support import Reader
from tests.webhooks.support import Integrator, Receiver, integrator


@pytest.fixture
def settings(settings: Settings) -> Settings:
    # Three retries, a few milliseconds apart, instead of three days' schedule.
    return settings.model_copy(
        update={"webhook_retry_schedule": [0.001, 0.001, 0.001], "webhook_timeout_seconds": 2.0}
    )


@pytest.fixture
def db(app: Any) -> Reader:
    return Reader(app)


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    async with Receiver() as running:
        yield running


@pytest.fixture
async def city(client: Any, world: World, session: AsyncSession) -> Integrator:
    """The city app's client: hours, activities and its own webhooks."""
    return await integrator(
        client, world, scopes=["activities:read", "hours:read", "ledger:read", "webhooks:manage"]
    )
