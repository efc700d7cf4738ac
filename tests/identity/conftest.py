"""Fixtures for identity: a handle on the fake WeChat's counters, second apps, row reloads."""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any, TypeVar

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.config import Settings
from app.main import create_app
from tests.conftest import ServerThread

PROBLEM = "application/problem+json"
T = TypeVar("T")


@dataclass
class FakeWeChat:
    """The fake WeChat server the app calls, seen from the test: its counters and hooks."""

    url: str

    async def _call(self, method: str, path: str) -> dict[str, Any]:
        async with httpx.AsyncClient(base_url=self.url) as http:
            response = await http.request(method, path)
            response.raise_for_status()
            body: dict[str, Any] = response.json()
            return body

    async def stats(self) -> dict[str, int]:
        return await self._call("GET", "/__stats")

    async def reset(self) -> None:
        await self._call("POST", "/__reset")

    async def expire_access_token(self) -> None:
        await self._call("POST", "/__expire_access_token")


@pytest.fixture
async def wechat_fake(fake_wechat: ServerThread) -> FakeWeChat:
    fake = FakeWeChat(fake_wechat.url)
    await fake.reset()
    return fake


@asynccontextmanager
async def running_app(settings: Settings) -> AsyncIterator[tuple[Any, httpx.AsyncClient]]:
    """Another app process on the same database (its own locks, caches and HTTP client)."""
    application = create_app(settings)
    async with application.router.lifespan_context(application):
        transport = httpx.ASGITransport(app=application, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
            yield application, client


@asynccontextmanager
async def wechat_answering(app: Any, handler: Any) -> AsyncIterator[None]:
    """Inside the block, the app's WeChat calls are answered by `handler` instead."""
    original = app.state.http
    async with httpx.AsyncClient(transport=httpx.MockTransport(handler)) as http:
        app.state.http = http
        try:
            yield
        finally:
            app.state.http = original


def closed_port_url() -> str:
    """A loopback URL where nothing listens."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}"


async def reload(session: AsyncSession, model: type[T], ident: Any) -> T | None:
    """The row as committed now; ends the read so SQLite's writer lock is not held."""
    row = await session.get(model, ident, populate_existing=True)
    await session.commit()
    return row


def assert_problem(response: httpx.Response, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == PROBLEM
    body: dict[str, Any] = response.json()
    assert body["code"] == code
    assert body["status"] == status
    return body
