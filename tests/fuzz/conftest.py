"""Fixtures of the fuzz tests: the seeded world, and the app served over real HTTP.

The fuzzer speaks HTTP to a second instance of the app, built from the same settings
and served by uvicorn in a thread with its own event loop (and so its own database
pool); the `app` fixture's instance seeds the world through the API beforehand and
cleans the database afterwards.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from app.core.config import Settings
from app.main import create_app
from tests.builders import World
from tests.conftest import ServerThread
from tests.fuzz.world import FuzzWorld, seed


@pytest.fixture
async def fuzz_world(app: Any, client: httpx.AsyncClient, world: World) -> FuzzWorld:
    return await seed(app, client, world)


@pytest.fixture
def live_url(app: Any, settings: Settings) -> Iterator[str]:
    server = ServerThread(create_app(settings))
    # Fuzzed header bytes make uvicorn warn on every request that h11 refuses.
    logging.getLogger("uvicorn.error").setLevel(logging.ERROR)
    with server:
        yield server.url
