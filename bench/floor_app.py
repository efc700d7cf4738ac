"""The service's floor, served the same way as the service: the app's own middleware,
routing and error handling, a verified bearer token, and a database transaction of one
trivial statement. Every authenticated write pays this before it does any work, so the
benchmarks measure it in the same run and print their results against it.
"""

from __future__ import annotations

from fastapi import FastAPI
from sqlalchemy import text

from app.core.db import SessionDep
from app.identity.principals import CurrentPrincipal
from app.main import create_app as create_service_app

FLOOR_PATH = "/__bench/floor"
_ONE = text("SELECT 1")


def create_app() -> FastAPI:
    app = create_service_app()

    @app.post(FLOOR_PATH, status_code=201, include_in_schema=False)
    async def floor(
        principal: CurrentPrincipal, session: SessionDep, body: dict[str, object]
    ) -> dict[str, object]:
        await session.execute(_ONE)
        return {"principal": str(principal.id), "fields": len(body)}

    return app
