"""One app and one seeded world for the whole authorization matrix.

Seeding the world takes longer than the hundred requests a route's row makes, so
the matrix seeds once per module: refusals change nothing (the matrix checks that),
and the calls that consume what they act on make a fresh one each (see `calls.py`).
"""

from __future__ import annotations

import shutil
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from app.main import create_app
from app.models import metadata
from tests.conftest import IS_PG, ServerThread, base_settings
from tests.security.runner import Matrix
from tests.security.seed import build_seed


@pytest.fixture(scope="module")
async def matrix_app(
    database_template: str, fake_wechat: ServerThread, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Any]:
    directory = tmp_path_factory.mktemp("matrix")
    if IS_PG:
        url = database_template
    else:
        shutil.copyfile(database_template, directory / "matrix.db")
        url = f"sqlite+aiosqlite:///{directory / 'matrix.db'}"
    settings = base_settings(
        database_url=url,
        wechat_api_base=fake_wechat.url,
        var_dir=directory / "var",
        db_pool_size=20,
        db_max_overflow=40,
    )
    application = create_app(settings)
    async with application.router.lifespan_context(application):
        yield application
        if IS_PG:
            # As the suite's `app` fixture does: leave the shared database empty.
            statements = ["SET session_replication_role = replica"]
            statements += [f'DELETE FROM "{t.name}"' for t in metadata.sorted_tables]  # noqa: S608
            async with application.state.db.engine.connect() as conn:
                raw = await conn.get_raw_connection()
                await raw.driver_connection.execute(";\n".join(statements))


@pytest.fixture(scope="module")
async def matrix(matrix_app: Any) -> AsyncIterator[Matrix]:
    transport = httpx.ASGITransport(app=matrix_app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        yield Matrix(await build_seed(matrix_app, client))
