"""The unit of work survives the database dropping its connections."""

from __future__ import annotations

import asyncio
import struct
import uuid
from typing import Any

import asyncpg
import httpx
import pytest
from sqlalchemy.engine import make_url

from app.main import create_app
from tests.conftest import base_settings


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


@pytest.mark.postgres_only
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


async def _shutting_down_postgres(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter
) -> None:
    """Answer every connection as a PostgreSQL that is shutting down does (SQLSTATE 57P03)."""
    while True:
        length, code = struct.unpack("!ii", await reader.readexactly(8))
        if code == 80877103:  # SSLRequest: refuse TLS, then read the startup message
            writer.write(b"N")
            await writer.drain()
            continue
        await reader.readexactly(length - 8)
        fields = b"SFATAL\0VFATAL\0C57P03\0Mthe database system is shutting down\0\0"
        writer.write(b"E" + struct.pack("!i", len(fields) + 4) + fields)
        await writer.drain()
        writer.close()
        return


async def test_a_request_while_postgresql_shuts_down_answers_503_problem_json() -> None:
    server = await asyncio.start_server(_shutting_down_postgres, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    app = create_app(
        base_settings(database_url=f"postgresql+asyncpg://postgres@127.0.0.1:{port}/x")
    )
    token, _ = app.state.keyring.issue(sub=uuid.uuid4(), typ="volunteer", region_id=uuid.uuid4())
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    try:
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            response = await client.get("/v1/me", headers={"Authorization": f"Bearer {token}"})
    finally:
        server.close()
        await app.state.db.dispose()
    assert response.status_code == 503
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["code"] == "database_unavailable"
    assert response.headers["retry-after"] == "1"
