"""The application role (migration 0025): what `liangpiao_app` may and may not do.

Each refusal is met head-on, under `SET ROLE liangpiao_app`, as a bug in the service or
someone holding its credentials would try it: the ledger's rows can be neither updated,
deleted nor truncated, and the triggers that guard them can be neither disabled,
dropped nor replaced, since the role owns nothing. PostgreSQL only: SQLite has no roles.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncConnection, create_async_engine

from app.core.db import sqlstate
from app.models import metadata

pytestmark = pytest.mark.postgres_only

ROLE = "liangpiao_app"
INSUFFICIENT_PRIVILEGE = "42501"

# Rows never change once written: the ledger's facts and evidence, the hours audit, the
# emergency audit and the calls an alert made.
APPEND_ONLY = (
    "ledger_transactions",
    "ledger_postings",
    "ledger_lot_entries",
    "ledger_holds",
    "ledger_hold_lots",
    "ledger_hold_resolutions",
    "ledger_blocks",
    "ledger_sealed_transactions",
    "ledger_signing_keys",
    "hours_audit",
    "webhook_attempts",
    "emergency_audit",
    "emergency_calls",
    "emergency_alert_grids",
)
# Of these ledger tables only some columns move: the cached balances, the seal cursor,
# an issuance's outcome (never which hours it was for).
UPDATED_COLUMNS = {
    "ledger_accounts": {"posted", "pending"},
    "ledger_lots": {"remaining", "reserved"},
    "ledger_seal_states": {"sealed_through_seq", "swept_at"},
    "reward_issuances": {
        "superseded_by_id",
        "granted",
        "reasons",
        "issued",
        "transaction_id",
        "clawed_back",
        "shortfall",
    },
}
# Updated, never deleted (their triggers bound which updates).
KEPT = (
    "hours_records",
    "hours_corrections",
    "staff_grants",
    "merchant_stations",
    "adjustments",
)
# What the service purges: the only tables it may delete from.
PURGED = {
    "idempotency_keys",
    "notification_templates",
    "oauth_spent_assertions",
    "login_throttles",
    "redemption_codes",
    "revoked_access_tokens",
    "terminal_nonces",
}
TABLES = [t.name for t in metadata.sorted_tables]


@pytest.fixture
async def as_role(database_url: str) -> AsyncIterator[AsyncConnection]:
    """A connection of the tables' owner that has `SET ROLE liangpiao_app` for one
    transaction, rolled back at the end."""
    engine = create_async_engine(database_url)
    try:
        async with engine.connect() as conn:
            await conn.execute(text(f"SET LOCAL ROLE {ROLE}"))
            yield conn
            await conn.rollback()
    finally:
        await engine.dispose()


async def refused(conn: AsyncConnection, sql: str) -> str:
    """The message with which `sql` is refused for lack of privilege (in a savepoint)."""
    savepoint = await conn.begin_nested()
    with pytest.raises(DBAPIError) as refusal:
        await conn.execute(text(sql))
    await savepoint.rollback()
    assert sqlstate(refusal.value) == INSUFFICIENT_PRIVILEGE, refusal.value
    return str(refusal.value.orig)


async def allowed(conn: AsyncConnection, sql: str) -> None:
    savepoint = await conn.begin_nested()
    await conn.execute(text(sql))
    await savepoint.rollback()


def first_column(table: str) -> str:
    return next(iter(metadata.tables[table].primary_key.columns)).name


async def test_the_role_is_a_plain_group_that_owns_nothing(as_role: AsyncConnection) -> None:
    row = (
        await as_role.execute(
            text(
                "SELECT rolcanlogin, rolsuper, rolcreaterole, rolcreatedb, rolbypassrls "
                "FROM pg_roles WHERE rolname = :role"
            ),
            {"role": ROLE},
        )
    ).one()
    owned = await as_role.scalar(
        text(
            "SELECT count(*) FROM pg_class c JOIN pg_roles r ON r.oid = c.relowner "
            "WHERE r.rolname = :role"
        ),
        {"role": ROLE},
    )

    assert tuple(row) == (False, False, False, False, False)
    assert owned == 0
    assert await as_role.scalar(text("SELECT current_user")) == ROLE


@pytest.mark.parametrize("table", APPEND_ONLY)
async def test_the_ledgers_facts_are_refused_update_delete_and_truncate(
    as_role: AsyncConnection, table: str
) -> None:
    column = first_column(table)

    update = await refused(as_role, f"UPDATE {table} SET {column} = {column}")  # noqa: S608
    delete = await refused(as_role, f"DELETE FROM {table}")  # noqa: S608
    truncate = await refused(as_role, f"TRUNCATE {table}")

    for message in (update, delete, truncate):
        assert f"permission denied for table {table}" in message


@pytest.mark.parametrize("table", sorted(UPDATED_COLUMNS))
async def test_accounts_lots_seals_and_issuances_move_only_what_may_move(
    as_role: AsyncConnection, table: str
) -> None:
    moving = UPDATED_COLUMNS[table]
    fixed = [c.name for c in metadata.tables[table].columns if c.name not in moving]

    for column in sorted(moving):
        await allowed(as_role, f"UPDATE {table} SET {column} = {column} WHERE false")  # noqa: S608
    for column in fixed:
        await refused(as_role, f"UPDATE {table} SET {column} = {column}")  # noqa: S608
    await refused(as_role, f"DELETE FROM {table}")  # noqa: S608
    await refused(as_role, f"TRUNCATE {table}")


@pytest.mark.parametrize("table", KEPT)
async def test_kept_records_are_refused_delete_and_truncate(
    as_role: AsyncConnection, table: str
) -> None:
    await refused(as_role, f"DELETE FROM {table}")  # noqa: S608
    await refused(as_role, f"TRUNCATE {table}")


@pytest.mark.parametrize(
    "sql",
    [
        "ALTER TABLE ledger_postings DISABLE TRIGGER ledger_postings_append_only",
        "ALTER TABLE ledger_postings DISABLE TRIGGER ALL",
        "DROP TRIGGER ledger_postings_append_only ON ledger_postings",
        "DROP TRIGGER ledger_transactions_no_truncate ON ledger_transactions",
        "ALTER TABLE ledger_accounts DROP CONSTRAINT ck_ledger_accounts_no_overdraft",
        "CREATE OR REPLACE FUNCTION ledger_refuse_change() RETURNS trigger "
        "LANGUAGE plpgsql AS $$ BEGIN RETURN NEW; END $$",
        "DROP FUNCTION ledger_refuse_change() CASCADE",
        "SET session_replication_role = replica",
        "DROP TABLE ledger_postings",
        "CREATE TABLE ledger_shadow (id int)",
    ],
)
async def test_the_guards_themselves_cannot_be_turned_off(
    as_role: AsyncConnection, sql: str
) -> None:
    await refused(as_role, sql)


async def test_every_table_is_read_and_written_as_the_matrix_says(
    as_role: AsyncConnection,
) -> None:
    """SELECT and INSERT everywhere; UPDATE nowhere on the ledger's facts and only of
    some columns of its accounts, lots, seal cursors and issuances; DELETE only of what
    is purged; TRUNCATE, REFERENCES and TRIGGER nowhere."""
    rows = (
        await as_role.execute(
            text(
                "SELECT t, has_table_privilege(t, 'SELECT'), has_table_privilege(t, 'INSERT'), "
                "has_table_privilege(t, 'UPDATE'), has_any_column_privilege(t, 'UPDATE'), "
                "has_table_privilege(t, 'DELETE'), has_table_privilege(t, 'TRUNCATE'), "
                "has_table_privilege(t, 'REFERENCES'), has_table_privilege(t, 'TRIGGER') "
                "FROM unnest(CAST(:tables AS text[])) AS t"
            ),
            {"tables": TABLES},
        )
    ).all()
    granted = {row[0]: row[1:] for row in rows}

    for table, (select, insert, update, some_update, delete, *never) in granted.items():
        assert (select, insert) == (True, True), table
        assert never == [False, False, False], table
        assert delete == (table in PURGED), table
        if table in APPEND_ONLY:
            assert not some_update, table
        if table in UPDATED_COLUMNS:
            assert (update, some_update) == (False, True), table
    assert not await as_role.scalar(text("SELECT has_table_privilege('alembic_version', 'INSERT')"))


async def test_reading_and_inserting_still_work(as_role: AsyncConnection) -> None:
    for table in TABLES:
        await allowed(as_role, f"SELECT * FROM {table} LIMIT 1")  # noqa: S608
    await allowed(
        as_role,
        "INSERT INTO regions (id, code, name, timezone, created_at, updated_at) VALUES "
        "(gen_random_uuid(), 'role-probe', '探针区', 'Asia/Shanghai', now(), now())",
    )
