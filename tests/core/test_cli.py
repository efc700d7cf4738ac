"""`python -m app`: a clear line, not a traceback, for a database it cannot use; an
environment named with PostgreSQL; documented options; --version."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import make_url

from app.core.config import ConfigurationError, Settings

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
    for command in ("migrate", "seed-demo", "create-admin", "serve", "worker", "verify-ledger"):
        assert command in top_help.stdout
