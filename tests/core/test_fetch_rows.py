"""`fetch_rows`: a hot path's statement on the driver's own connection (PostgreSQL) or
through the session (SQLite), inside the session's transaction and savepoints either way."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

import asyncpg
import pytest
from sqlalchemy import bindparam, func, insert, select, text, update
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from app.core import clock
from app.core.db import fetch_rows, is_disconnect, sqlstate
from app.core.models import IdempotencyRecord

_keys = IdempotencyRecord.metadata.tables[IdempotencyRecord.__tablename__]
_INSERT = insert(_keys)
_STATUS_OF = select(_keys.c.id, _keys.c.status_code).where(_keys.c.scope == bindparam("b_scope"))
_SET_STATUS = (
    update(_keys)
    .where(_keys.c.scope == bindparam("b_scope"))
    .values(status_code=bindparam("b_status"))
    .returning(_keys.c.status_code)
)
_COUNT = select(func.count()).select_from(_keys).where(_keys.c.scope == bindparam("b_scope"))


def _record(scope: str, key: str = "k") -> dict[str, object]:
    now = clock.now()
    return {
        "id": uuid.uuid4(),
        "scope": scope,
        "key": key,
        "fingerprint": "f",
        "status_code": 201,
        "response_body": {"ok": True},
        "created_at": now,
        "expires_at": now + timedelta(hours=24),
    }


async def _count(session: AsyncSession, scope: str) -> int:
    return int(await session.scalar(_COUNT, {"b_scope": scope}) or 0)


@pytest.mark.database_owner
async def test_rows_come_back_in_order_and_the_write_commits(session: AsyncSession) -> None:
    scope = f"t:{uuid.uuid4()}"
    record = _record(scope)
    assert await fetch_rows(session, _INSERT, record) == []
    assert [tuple(row) for row in await fetch_rows(session, _STATUS_OF, {"b_scope": scope})] == [
        (record["id"], 201)
    ]
    rows = await fetch_rows(session, _SET_STATUS, {"b_scope": scope, "b_status": 409})
    assert [row[0] for row in rows] == [409]
    await session.commit()
    assert await _count(session, scope) == 1
    assert await session.scalar(select(_keys.c.status_code).where(_keys.c.scope == scope)) == 409


async def test_a_write_is_undone_with_its_transaction(session: AsyncSession) -> None:
    scope = f"t:{uuid.uuid4()}"
    await fetch_rows(session, _INSERT, _record(scope))
    await fetch_rows(session, _INSERT, _record(scope, "k2"))
    await session.rollback()
    assert await _count(session, scope) == 0


@pytest.mark.database_owner
async def test_a_write_inside_a_savepoint_is_undone_with_the_savepoint(
    session: AsyncSession,
) -> None:
    scope = f"t:{uuid.uuid4()}"
    await fetch_rows(session, _INSERT, _record(scope))
    await fetch_rows(session, _INSERT, _record(scope, "k0"))
    savepoint = await session.begin_nested()
    # The first statement after begin_nested: SQLAlchemy has not sent SAVEPOINT yet.
    await fetch_rows(session, _SET_STATUS, {"b_scope": scope, "b_status": 500})
    await fetch_rows(session, _INSERT, _record(scope, "k2"))
    await savepoint.rollback()
    await fetch_rows(session, _INSERT, _record(scope, "k3"))
    await session.commit()
    rows = await session.execute(
        select(_keys.c.key, _keys.c.status_code).where(_keys.c.scope == scope)
    )
    assert sorted(tuple(row) for row in rows) == [("k", 201), ("k0", 201), ("k3", 201)]


async def test_a_unique_violation_is_sqlalchemys_integrity_error(
    session: AsyncSession, database_url: str
) -> None:
    scope = f"t:{uuid.uuid4()}"
    await fetch_rows(session, _INSERT, _record(scope))
    with pytest.raises(IntegrityError) as caught:
        await fetch_rows(session, _INSERT, _record(scope))
    if database_url.startswith("postgresql"):
        assert sqlstate(caught.value) == "23505"
    assert "idempotency_keys" in str(caught.value.orig)
    await session.rollback()
    assert await _count(session, scope) == 0


async def test_an_insert_missing_a_required_value_fails_loudly(session: AsyncSession) -> None:
    incomplete = _record(f"t:{uuid.uuid4()}")
    del incomplete["fingerprint"]
    await fetch_rows(session, _INSERT, _record(f"t:{uuid.uuid4()}"))  # the transaction is open
    with pytest.raises(Exception, match="fingerprint"):
        await fetch_rows(session, _INSERT, incomplete)
    await session.rollback()


@pytest.mark.postgres_only
async def test_a_sessions_first_statement_begins_its_transaction(
    app: Any, session: AsyncSession
) -> None:
    # Sent on the driver before SQLAlchemy has sent anything: without a BEGIN of its
    # own the insert would commit at once, and the other session would see it.
    scope = f"t:{uuid.uuid4()}"
    await fetch_rows(session, _INSERT, _record(scope))
    async with app.state.db.sessions() as other:
        assert await _count(other, scope) == 0
        await session.commit()
        await other.rollback()
        assert await _count(other, scope) == 1


async def _terminate(database_url: str, backend: int) -> None:
    url = make_url(database_url).set(drivername="postgresql")
    admin = await asyncpg.connect(url.render_as_string(hide_password=False))
    try:
        assert await admin.fetchval("SELECT pg_terminate_backend($1)", backend)
    finally:
        await admin.close()


@pytest.mark.postgres_only
async def test_a_connection_lost_mid_transaction_is_a_disconnect(
    app: Any, session: AsyncSession, database_url: str
) -> None:
    scope = f"t:{uuid.uuid4()}"
    await fetch_rows(session, _INSERT, _record(scope))
    backend = await session.scalar(text("SELECT pg_backend_pid()"))
    await _terminate(database_url, backend)

    with pytest.raises(DBAPIError) as caught:
        await fetch_rows(session, _INSERT, _record(scope, "k1"))
    assert is_disconnect(caught.value)
    await session.rollback()

    # Nothing of the lost transaction stayed, and the pool hands out a live connection.
    async with app.state.db.sessions() as fresh:
        assert await _count(fresh, scope) == 0
        await fetch_rows(fresh, _INSERT, _record(scope))
        await fetch_rows(fresh, _INSERT, _record(scope, "k2"))
        await fresh.commit()
        assert await _count(fresh, scope) == 2


@pytest.mark.postgres_only
async def test_a_connection_lost_before_the_first_statement_is_a_disconnect(
    app: Any, session: AsyncSession, database_url: str
) -> None:
    connection = await session.connection()  # checked out; nothing sent yet
    backend = (await connection.get_raw_connection()).driver_connection.get_server_pid()
    await _terminate(database_url, backend)

    scope = f"t:{uuid.uuid4()}"
    with pytest.raises(DBAPIError) as caught:
        await fetch_rows(session, _INSERT, _record(scope))
    assert is_disconnect(caught.value)
    await session.rollback()
    await fetch_rows(session, _INSERT, _record(scope))
    await session.commit()
    assert await _count(session, scope) == 1


@pytest.mark.postgres_only
async def test_a_statement_refused_for_its_argument_leaves_the_connection_usable(
    session: AsyncSession,
) -> None:
    scope = f"t:{uuid.uuid4()}"
    await fetch_rows(session, _INSERT, _record(scope))

    with pytest.raises(DBAPIError) as caught:
        await fetch_rows(session, _SET_STATUS, {"b_scope": scope, "b_status": "many"})
    assert not is_disconnect(caught.value)
    await session.rollback()

    await fetch_rows(session, _INSERT, _record(scope))
    await fetch_rows(session, _INSERT, _record(scope, "k1"))
    await session.commit()
    assert await _count(session, scope) == 2
