"""Migrations build the models' schema, both ways, on the database under test."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect
from sqlalchemy.ext.asyncio import async_sessionmaker, create_async_engine

from app.cli import alembic_config
from app.core import clock
from app.models import metadata
from app.orgs.models import Role
from app.volunteers.models import IdType
from tests.builders import make_region, make_staff, make_unit, make_volunteer
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


async def test_downgrading_id_claims_keeps_each_number_once(scratch_url: str) -> None:
    # Before 0023 a number was unique as soon as it was typed: of the claims that
    # repeat one, the verified holder's, or else the oldest, is kept.
    cfg = alembic_config(scratch_url)
    await asyncio.to_thread(command.upgrade, cfg, "head")
    try:
        volunteers = await _claims_of_one_region(scratch_url)
        await asyncio.to_thread(command.downgrade, cfg, "0019")
        kept = await _id_numbers(scratch_url)
        assert [kept[v.id] for v in volunteers] == [
            None,
            "E1111111",
            None,
            "E2222222",
            None,
            "E3333333",
        ]
    finally:
        # On PostgreSQL the scratch database is the run's: leave it empty and migrated.
        await asyncio.to_thread(command.downgrade, cfg, "base")
        await asyncio.to_thread(command.upgrade, cfg, "head")


async def _claims_of_one_region(url: str) -> list[Any]:
    """Three claims of one number (the second verified), two of another, one alone."""
    engine = create_async_engine(url)
    start = clock.now() - timedelta(days=1)
    try:
        async with async_sessionmaker(engine, expire_on_commit=False)() as session:
            region = await make_region(session, name="吴江区")
            center = await make_unit(session, region, name="中心")
            admin = await make_staff(session, region, role=Role.center_admin, unit=center)
            claims = ["E1111111", "E1111111", "E1111111", "E2222222", "E2222222", "E3333333"]
            volunteers = [
                await make_volunteer(
                    session,
                    region,
                    id_type=IdType.passport,
                    id_number=number,
                    created_at=start + timedelta(minutes=i),
                )
                for i, number in enumerate(claims)
            ]
            volunteers[1].id_verified_at = clock.now()
            volunteers[1].id_verified_by = admin.id
            await session.commit()
            return volunteers
    finally:
        await engine.dispose()


async def _id_numbers(url: str) -> dict[Any, str | None]:
    engine = create_async_engine(url)
    try:
        async with engine.connect() as conn:
            query = sa.text("SELECT id, id_number FROM volunteers").columns(
                sa.column("id", sa.Uuid()), sa.column("id_number", sa.String())
            )
            return {row.id: row.id_number for row in await conn.execute(query)}
    finally:
        await engine.dispose()
