"""Test harness: a fresh database per run (SQLite or PostgreSQL), a clean one per test.

`LIANGPIAO_TEST_DATABASE_URL` picks the server: unset, every test gets a copy of a
migrated SQLite file; a PostgreSQL URL (of any existing database) makes this run
create its own database beside it, migrate it, truncate it after each test and
drop it at the end. Tests marked `postgres_only` need real parallel connections:
they skip on SQLite, and `LIANGPIAO_TEST_FORBID_SKIPS=1` (CI's PostgreSQL pass)
turns any skip into a failure. `LIANGPIAO_TEST_DATABASE_ROLE=liangpiao_app` (PostgreSQL
only) runs every app of the run under migration 0025's application role, to show
that its grants are enough for what the tests exercise; tests marked `database_owner`
(tampering, raw writes past the service, which the role refuses) keep the owner's.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import socket
import threading
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
import uvicorn
from pydantic import SecretStr
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncSession

from app.cli import alembic_config
from app.core.config import Settings
from app.core.security import generate_private_key_pem
from app.main import create_app
from app.models import metadata

PG_URL = os.environ.get("LIANGPIAO_TEST_DATABASE_URL", "")
IS_PG = PG_URL.startswith("postgresql")
FORBID_SKIPS = os.environ.get("LIANGPIAO_TEST_FORBID_SKIPS") == "1"
TEST_ROLE = os.environ.get("LIANGPIAO_TEST_DATABASE_ROLE") or None
SIGNING_KEY = generate_private_key_pem()


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if IS_PG:
        return
    skip = pytest.mark.skip(reason="needs PostgreSQL (set LIANGPIAO_TEST_DATABASE_URL)")
    for item in items:
        if "postgres_only" in item.keywords:
            item.add_marker(skip)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[Any]) -> Iterator[None]:
    outcome = yield
    report = outcome.get_result()
    if FORBID_SKIPS and report.skipped:
        report.outcome = "failed"
        report.longrepr = f"skipped, but this run forbids skips: {report.longrepr}"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class ServerThread:
    """An ASGI app served by uvicorn on a free loopback port, in a thread."""

    def __init__(self, app: Any) -> None:
        self.port = _free_port()
        config = uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning")
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> ServerThread:
        self.thread.start()
        deadline = time.monotonic() + 10
        while not self.server.started:
            if time.monotonic() > deadline:
                raise RuntimeError("test server did not start")
            time.sleep(0.01)
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)


def base_settings(**overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "environment": "test",
        "jwt_private_key": SecretStr(SIGNING_KEY),
        "jwt_kid": "test-key",
        "run_jobs_in_process": False,
        "login_max_failures": 5,
        # The suite's traffic all comes from one address; tests of the limits turn them on.
        "rate_limits_enabled": False,
        "gc_gen0_threshold": 0,
    }
    values.update(overrides)
    return Settings(**values)


@pytest.fixture(scope="session")
def fake_wechat() -> Iterator[ServerThread]:
    from fakes.wechat import create_fake_wechat

    with ServerThread(create_fake_wechat(base_settings())) as server:
        yield server


def _migrate_sync(url: str) -> None:
    from alembic import command

    command.upgrade(alembic_config(url), "head")


@pytest.fixture(scope="session")
def database_template(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A migrated database for this run: a SQLite file to copy, or a PostgreSQL URL."""
    if IS_PG:
        base = make_url(PG_URL)
        name = f"liangpiao_test_{os.getpid()}_{uuid.uuid4().hex[:6]}"
        admin_dsn = base.set(drivername="postgresql").render_as_string(hide_password=False)

        async def admin(sql: str) -> None:
            conn = await asyncpg.connect(admin_dsn)
            try:
                await conn.execute(sql)
            finally:
                await conn.close()

        asyncio.run(admin(f'CREATE DATABASE "{name}"'))
        url = base.set(database=name).render_as_string(hide_password=False)
        try:
            _migrate_sync(url)
            yield url
        finally:
            asyncio.run(admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    else:
        path = tmp_path_factory.mktemp("db") / "template.db"
        _migrate_sync(f"sqlite+aiosqlite:///{path}")
        yield str(path)


@pytest.fixture
def database_url(database_template: str, tmp_path: Path) -> str:
    if IS_PG:
        return database_template
    path = tmp_path / "test.db"
    shutil.copyfile(database_template, path)
    return f"sqlite+aiosqlite:///{path}"


@pytest.fixture
def settings(
    database_url: str, fake_wechat: ServerThread, tmp_path: Path, request: pytest.FixtureRequest
) -> Settings:
    as_owner = request.node.get_closest_marker("database_owner") is not None
    return base_settings(
        database_url=database_url,
        wechat_api_base=fake_wechat.url,
        var_dir=tmp_path / "var",
        db_pool_size=20,
        db_max_overflow=40,
        database_role=TEST_ROLE if IS_PG and not as_owner else None,
    )


@pytest.fixture
async def app(settings: Settings) -> AsyncIterator[Any]:
    application = create_app(settings)
    async with application.router.lifespan_context(application):
        yield application
        if IS_PG:
            # DELETE of a few rows is much faster than TRUNCATE; replica mode skips the
            # foreign-key and append-only triggers for this cleanup session only.
            # Cleaning is the harness's, not the service's: back to the superuser login.
            statements = ["SET ROLE NONE", "SET session_replication_role = replica"]
            statements += [f'DELETE FROM "{t.name}"' for t in metadata.sorted_tables]  # noqa: S608 - our own table names
            async with application.state.db.engine.connect() as conn:
                raw = await conn.get_raw_connection()
                # asyncpg's simple-query protocol runs the whole script in one round trip.
                await raw.driver_connection.execute(";\n".join(statements))  # type: ignore[union-attr]


@pytest.fixture
async def client(app: Any) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
        yield c


@pytest.fixture
async def session(app: Any) -> AsyncIterator[AsyncSession]:
    """A session for builders and for reading rows back; builders commit."""
    async with app.state.db.sessions() as s:
        yield s


@pytest.fixture
async def world(session: AsyncSession, app: Any) -> Any:
    from tests.builders import make_world

    return await make_world(session, app)
