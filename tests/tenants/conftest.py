"""Fixtures of the tenant tests: a platform admin, signed in."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from app.identity.service import create_platform_admin
from tests.builders import PASSWORD
from tests.orgs.support import Reader

PLATFORM_USER = "operator"


@pytest.fixture
def db(app: Any) -> Reader:
    return Reader(app)


@pytest.fixture
async def platform(client: httpx.AsyncClient, session: AsyncSession) -> dict[str, str]:
    """The bearer header of a platform admin, from its own login."""
    await create_platform_admin(session, username=PLATFORM_USER, password=PASSWORD)
    await session.commit()
    login = await client.post(
        "/v1/platform/auth/login", json={"username": PLATFORM_USER, "password": PASSWORD}
    )
    assert login.status_code == 200, login.text
    return {"Authorization": f"Bearer {login.json()['access_token']}"}
