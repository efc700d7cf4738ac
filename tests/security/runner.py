"""Sends a route's request as a given principal, and reads the database's row counts.

A bearer principal sends its access token; a terminal signs the exact request
(method, path, query, body) as `bench.terminal_client` does; `anonymous` sends
neither.
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import urlencode

import httpx
from fastapi import FastAPI
from fastapi.routing import APIRoute, iter_route_contexts
from sqlalchemy import func, select

from app.models import metadata
from tests.security.calls import CALLS, Ctx, Req
from tests.security.seed import Seed


def route_keys(app: FastAPI) -> set[str]:
    """Every operation of the app as "METHOD /path/template"."""
    keys: set[str] = set()
    for context in iter_route_contexts(app.routes):
        if isinstance(context.original_route, APIRoute):
            keys.update(f"{method} {context.path}" for method in context.methods or ())
    return keys


class Matrix:
    def __init__(self, seed: Seed) -> None:
        self.seed = seed

    async def build(self, route: str, *, real: bool) -> Req:
        targets = self.seed.targets if real else self.seed.targets.randomized()
        return await CALLS[route](Ctx(seed=self.seed, t=targets, real=real))

    async def send(
        self, route: str, req: Req, who: str, *, without: frozenset[str] = frozenset()
    ) -> httpx.Response:
        """`req` as `who` sends it; `without` names headers to leave out (signed or not)."""
        method, template = route.split(" ", 1)
        path = template.format(**{name: str(value) for name, value in req.path.items()})
        body = b""
        headers = dict(req.headers)
        if req.json is not None:
            body = json.dumps(req.json, ensure_ascii=False, separators=(",", ":")).encode()
            headers["Content-Type"] = "application/json"
        elif req.form is not None:
            body = urlencode(req.form).encode()
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        signer = self.seed.principals.signer(who)
        if signer is not None:
            headers.update(signer.sign(method, path, body=body).headers)
        elif who != "anonymous":
            headers.update(self.seed.principals.bearer(who))
        headers = {name: value for name, value in headers.items() if name not in without}
        return await self.seed.client.request(method, path, content=body, headers=headers)

    async def row_counts(self) -> dict[str, int]:
        """The number of rows of every table, in one round trip."""
        tables = metadata.sorted_tables
        statement = select(
            *(select(func.count()).select_from(t).scalar_subquery().label(t.name) for t in tables)
        )
        async with self.seed.app.state.db.sessions() as session:
            row: Any = (await session.execute(statement)).one()
        return dict(zip((t.name for t in tables), row, strict=True))
