"""The muster board live, as `text/event-stream`: the board when the client connects and
again after each change, found by polling the alert's version (one indexed read every
`POLL_SECONDS`, the same on both databases: every change bumps it in its own
transaction); a comment line as a heartbeat; the stream ends once the alert is stood down
(after sending the final board) or the client goes away."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.emergency import repository, schemas
from app.emergency.models import AlertStatus

POLL_SECONDS = 0.2
HEARTBEAT_SECONDS = 15.0

Board = Callable[[AsyncSession], Awaitable[schemas.Alert]]


def _event(board: schemas.Alert) -> bytes:
    data = json.dumps(board.model_dump(mode="json"), ensure_ascii=False, separators=(",", ":"))
    return f"id: {board.version}\nevent: board\ndata: {data}\n\n".encode()


async def board_events(
    sessions: async_sessionmaker[AsyncSession],
    *,
    alert_id: uuid.UUID,
    board: Board,
    is_disconnected: Callable[[], Awaitable[bool]],
    poll_seconds: float = POLL_SECONDS,
    heartbeat_seconds: float = HEARTBEAT_SECONDS,
) -> AsyncIterator[bytes]:
    loop = asyncio.get_running_loop()
    sent: int | None = None
    quiet_since = loop.time()
    while True:
        async with sessions() as session:
            state = await repository.alert_state(session, alert_id=alert_id)
            if state is None:
                return
            version, status = state
            if version != sent:
                current = await board(session)
                sent = current.version
                quiet_since = loop.time()
                yield _event(current)
            await session.rollback()
        if status != AlertStatus.open and sent is not None and sent >= version:
            return
        if loop.time() - quiet_since >= heartbeat_seconds:
            quiet_since = loop.time()
            yield b": heartbeat\n\n"
        if await is_disconnected():
            return
        await asyncio.sleep(poll_seconds)
