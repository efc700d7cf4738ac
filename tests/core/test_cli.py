"""`python -m app`: a clear line, not a traceback, for a database it cannot use; an
environment named with PostgreSQL; documented options; --version."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import make_url, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.config import ConfigurationError, Settings
from app.demo import seed_organisation
from app.orgs.models import Region
from tests.builders import PASSWORD

ROOT = Path(__file__).resolve().parents[2]
PG_URL = os.environ.get("LIANGPIAO_TEST_DATABASE_URL", "")
needs_pg = pytest.mark.skipif(
    not PG_URL.startswith("postgresql"), reason="needs PostgreSQL (set LIANGPIAO_TEST_DATABASE_URL)"
)


def run_app(*args: str, env: dict[str, str], cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("LIANGPIAO_")}
    return subprocess.run(
        [sys.executable, "-m", "app", *args],
        cwd=cwd,
        env={**clean, **env},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_a_postgresql_url_without_an_environment_is_refused() -> None:
    with pytest.raises(ConfigurationError) as refused:
        Settings(_env_file=None, database_url="postgresql+asyncpg://u@h/db")  # type: ignore[call-arg]
    assert "LIANGPIAO_ENVIRONMENT" in str(refused.value)
    named = Settings(
        _env_file=None,  # type: ignore[call-arg]
        environment="dev",
        database_url="postgresql+asyncpg://u@h/db",
    )
    assert named.environment == "dev"
    assert Settings(_env_file=None).environment == "dev"  # type: ignore[call-arg]

    result = run_app(
        "verify-ledger", env={"LIANGPIAO_DATABASE_URL": "postgresql+asyncpg://u@127.0.0.1:1/x"}
    )
    assert result.returncode == 2
    assert result.stderr.strip().count("\n") == 0
    assert "LIANGPIAO_ENVIRONMENT is not set" in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize("command", ["seed-demo", "verify-ledger", "worker", "serve"])
def test_a_missing_sqlite_database_is_named_in_one_line_and_not_created(
    tmp_path: Path, command: str
) -> None:
    db_file = tmp_path / "none" / "liangpiao.db"
    args = [command, "--once"] if command == "worker" else [command]
    result = run_app(*args, env={"LIANGPIAO_DATABASE_URL": f"sqlite+aiosqlite:///{db_file}"})

    assert result.returncode == 2, result.stdout + result.stderr
    assert result.stderr.strip().splitlines() == [
        f"{command}: no database at {db_file}: run `python -m app migrate` first"
    ]
    assert not db_file.exists()
    assert not db_file.parent.exists()


def test_an_empty_sqlite_database_and_an_old_schema_say_so(tmp_path: Path) -> None:
    db_file = tmp_path / "empty.db"
    db_file.touch()
    env = {"LIANGPIAO_DATABASE_URL": f"sqlite+aiosqlite:///{db_file}"}

    empty = run_app("seed-demo", env=env)
    migrated = run_app("migrate", env={**env, "LIANGPIAO_LOG_LEVEL": "WARNING"})
    assert migrated.returncode == 0, migrated.stderr
    downgraded = subprocess.run(
        [sys.executable, "-m", "alembic", "downgrade", "-1"],
        cwd=ROOT,
        env={**os.environ, "LIANGPIAO_DATABASE_URL": env["LIANGPIAO_DATABASE_URL"]},
        capture_output=True,
        text=True,
        check=False,
    )
    behind = run_app("verify-ledger", env=env)

    assert empty.returncode == 2
    assert empty.stderr.strip().splitlines() == [
        "seed-demo: the database has no schema: run `python -m app migrate` first"
    ]
    assert downgraded.returncode == 0, downgraded.stderr
    assert behind.returncode == 2
    (line,) = behind.stderr.strip().splitlines()
    assert line.startswith("verify-ledger: the database schema is at ")
    assert line.endswith("run `python -m app migrate`")


@pytest.fixture
def empty_pg_database() -> Iterator[str]:
    import asyncio

    import asyncpg

    base = make_url(PG_URL)
    name = f"liangpiao_cli_{uuid.uuid4().hex[:8]}"
    admin = base.set(drivername="postgresql").render_as_string(hide_password=False)

    async def sql(statement: str) -> None:
        conn = await asyncpg.connect(admin)
        try:
            await conn.execute(statement)
        finally:
            await conn.close()

    asyncio.run(sql(f'CREATE DATABASE "{name}"'))
    try:
        yield base.set(database=name).render_as_string(hide_password=False)
    finally:
        asyncio.run(sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@needs_pg
def test_a_postgresql_database_without_schema_or_out_of_reach_is_one_line(
    empty_pg_database: str,
) -> None:
    env = {"LIANGPIAO_ENVIRONMENT": "test", "LIANGPIAO_DATABASE_URL": empty_pg_database}
    empty = run_app("create-admin", "someone", env=env)
    unreachable = run_app(
        "verify-ledger",
        env={
            "LIANGPIAO_ENVIRONMENT": "test",
            "LIANGPIAO_DATABASE_URL": "postgresql+asyncpg://u:secret-pw@127.0.0.1:1/x",
        },
    )

    assert empty.returncode == 2
    assert empty.stderr.strip().splitlines() == [
        "create-admin: the database has no schema: run `python -m app migrate` first"
    ]
    assert unreachable.returncode == 2
    (line,) = unreachable.stderr.strip().splitlines()
    assert line.startswith("verify-ledger: cannot reach the database postgresql+asyncpg://u:***@")
    assert "secret-pw" not in unreachable.stderr


def test_version_and_documented_options() -> None:
    version = run_app("--version", env={})
    serve_help = run_app("serve", "--help", env={})
    top_help = run_app("--help", env={})

    assert version.returncode == 0
    assert version.stdout.strip().startswith("liangpiao 0.")
    assert serve_help.returncode == 0
    assert "the port to listen on (default: 8000)" in " ".join(serve_help.stdout.split())
    assert "(default: 127.0.0.1)" in serve_help.stdout
    assert "LIANGPIAO_ENVIRONMENT" in top_help.stdout
    for command in (
        "migrate",
        "seed-demo",
        "create-region",
        "create-admin",
        "create-platform-admin",
        "serve",
        "worker",
        "verify-ledger",
    ):
        assert command in top_help.stdout


async def test_create_region_then_its_admin_who_logs_in_to_that_region_alone(
    client: httpx.AsyncClient, session: AsyncSession, settings: Settings
) -> None:
    await seed_organisation(session, admin_password=PASSWORD)
    demo = await session.scalar(select(Region.id).where(Region.code == "wujiang"))
    await session.commit()
    env = {
        "LIANGPIAO_ENVIRONMENT": "test",
        "LIANGPIAO_DATABASE_URL": settings.database_url,
        "LIANGPIAO_LOG_LEVEL": "WARNING",
    }

    created = run_app("create-region", "suzhou", "苏州市", "--timezone", "Asia/Urumqi", env=env)
    taken = run_app("create-region", "suzhou", "另一个苏州", env=env)
    admin = run_app(
        "create-admin", "suzhou-admin", "--password", PASSWORD, "--region", "suzhou", env=env
    )
    nowhere = run_app("create-admin", "lost-admin", "--region", "nowhere", env=env)

    assert created.returncode == 0, created.stderr
    region_id = uuid.UUID(created.stdout.strip())
    assert taken.returncode == 1
    assert taken.stderr.strip().splitlines() == [
        "create-region: A region with the code 'suzhou' already exists"
    ]
    assert admin.returncode == 0, admin.stderr
    assert nowhere.returncode == 1
    assert nowhere.stderr.strip().splitlines() == ["create-admin: No region has the code 'nowhere'"]
    login = await client.post(
        "/v1/auth/login", json={"username": "suzhou-admin", "password": PASSWORD}
    )
    assert login.status_code == 200, login.text
    auth = {"Authorization": f"Bearer {login.json()['access_token']}"}
    regions = (await client.get("/v1/regions", headers=auth)).json()["items"]
    assert [(r["id"], r["timezone"]) for r in regions] == [(str(region_id), "Asia/Urumqi")]
    teams = (await client.get("/v1/teams", headers=auth)).json()["items"]
    assert len(teams) == 8
    assert {t["region_id"] for t in teams} == {str(region_id)}
    units = (await client.get("/v1/org-units", headers=auth)).json()["items"]
    assert [(u["kind"], u["region_id"]) for u in units] == [("center", str(region_id))]
    assert (await client.get(f"/v1/regions/{demo}", headers=auth)).status_code == 404


def test_create_platform_admin_prints_its_password_once_and_refuses_a_taken_name(
    settings: Settings,
) -> None:
    env = {
        "LIANGPIAO_ENVIRONMENT": "test",
        "LIANGPIAO_DATABASE_URL": settings.database_url,
        "LIANGPIAO_LOG_LEVEL": "WARNING",
    }
    made = run_app("create-platform-admin", "operator", env=env)
    again = run_app("create-platform-admin", "operator", env=env)

    assert made.returncode == 0, made.stderr
    assert made.stdout.startswith("created platform admin 'operator' with password ")
    assert again.returncode == 1
    assert again.stderr.strip().splitlines() == [
        "create-platform-admin: The username is already in use"
    ]
