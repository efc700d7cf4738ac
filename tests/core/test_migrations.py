"""Migrations build the models' schema, both ways, on the database under test."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect
from sqlalchemy.ext.asyncio import create_async_engine

from app.cli import alembic_config
from app.models import metadata
from tests.conftest import IS_PG


@pytest.fixture
def scratch_url(database_template: str, tmp_path: Any) -> str:
    if IS_PG:
        return database_template
    return f"sqlite+aiosqlite:///{tmp_path / 'scratch.db'}"


def _diff(sync_conn: Any) -> list[Any]:
    context = MigrationContext.configure(sync_conn, opts={"compare_type": True})
    return list(compare_metadata(context, metadata))


async def _tables(url: str) -> tuple[set[str], list[Any]]:
    engine = create_async_engine(url)
    try:
        async with engine.connect() as conn:
            names = await conn.run_sync(lambda c: set(inspect(c).get_table_names()))
            diff = await conn.run_sync(_diff)
    finally:
        await engine.dispose()
    return names, diff


async def test_upgrade_downgrade_upgrade_matches_the_models(scratch_url: str) -> None:
    cfg = alembic_config(scratch_url)
    # Alembic's async env runs its own event loop: give it a thread.
    await asyncio.to_thread(command.upgrade, cfg, "head")
    await asyncio.to_thread(command.downgrade, cfg, "base")
    tables, _ = await _tables(scratch_url)
    assert tables <= {"alembic_version"}
    await asyncio.to_thread(command.upgrade, cfg, "head")
    tables, diff = await _tables(scratch_url)
    assert {t.name for t in metadata.sorted_tables} <= tables
    assert diff == [], f"models and migrations differ: {diff}"
