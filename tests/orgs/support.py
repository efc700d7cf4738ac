"""Test helpers shared by the org and volunteer tests: problem assertions, a row reader."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, TypeVar

import httpx
from sqlalchemy import Select, func, select

from app.core.db import Base

PROBLEM = "application/problem+json"
M = TypeVar("M", bound=Base)


def assert_problem(response: httpx.Response, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == PROBLEM
    body: dict[str, Any] = response.json()
    assert body["code"] == code, body
    assert body["status"] == status
    assert body["type"] == f"/problems/{code}"
    return body


class Reader:
    """Reads in a fresh, short session: no stale identity map, no lock left held."""

    def __init__(self, app: Any) -> None:
        self.sessions = app.state.db.sessions

    async def find(self, model: type[M], ident: Any) -> M | None:
        async with self.sessions() as s:
            found: M | None = await s.get(model, ident)
            return found

    async def get(self, model: type[M], ident: Any) -> M:
        found = await self.find(model, ident)
        assert found is not None, f"no {model.__name__} {ident}"
        return found

    async def all(self, stmt: Select[Any]) -> Sequence[Any]:
        async with self.sessions() as s:
            rows: Sequence[Any] = (await s.scalars(stmt)).all()
            return rows

    async def count(self, model: type[Base], *where: Any) -> int:
        async with self.sessions() as s:
            return int(await s.scalar(select(func.count()).select_from(model).where(*where)) or 0)


async def walk(
    client: httpx.AsyncClient,
    url: str,
    auth: dict[str, str],
    params: dict[str, Any] | None = None,
) -> list[dict[str, Any]]:
    """Every item of a cursor-paged list, fetched two at a time."""
    items: list[dict[str, Any]] = []
    cursor: str | None = None
    for _ in range(50):
        query: dict[str, Any] = {**(params or {}), "limit": 2}
        if cursor:
            query["cursor"] = cursor
        response = await client.get(url, params=query, headers=auth)
        assert response.status_code == 200, response.text
        page = response.json()
        assert len(page["items"]) <= 2
        items.extend(page["items"])
        cursor = page["next_cursor"]
        if cursor is None:
            return items
    raise AssertionError("the cursor does not advance")
