"""The unit of work survives the database dropping its connections."""

from __future__ import annotations

from typing import Any

import asyncpg
import httpx
import pytest
from sqlalchemy.engine import make_url

pytestmark = pytest.mark.postgres_only


async def _terminate_other_backends(database_url: str) -> int:
    url = make_url(database_url).set(drivername="postgresql")
    conn = await asyncpg.connect(url.render_as_string(hide_password=False))
    try:
        return int(
            await conn.fetchval(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                "WHERE datname = current_database() AND pid <> pg_backend_pid()"
            )
        )
    finally:
        await conn.close()


async def test_a_request_after_the_database_dropped_its_connections_succeeds(
    client: httpx.AsyncClient, world: Any, database_url: str
) -> None:
    headers = world.auth["volunteer_a"]
    assert (await client.get("/v1/me", headers=headers)).status_code == 200
    assert await _terminate_other_backends(database_url) >= 1
    # The pooled connection is dead; the request runs again on a fresh one.
    response = await client.get("/v1/me", headers=headers)
    assert response.status_code == 200, response.text
    assert response.json()["id"] == str(world.volunteer_a.id)
