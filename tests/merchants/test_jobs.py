"""Housekeeping: spent nonces and old codes are deleted once they can no longer matter."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import httpx
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.core import clock
from app.merchants.jobs import purge_expired
from app.merchants.models import RedemptionCode, TerminalNonce
from tests.merchants.conftest import Shop, fetch_all


async def test_the_purge_keeps_live_nonces_and_codes_and_deletes_dead_ones(
    client: httpx.AsyncClient, session: AsyncSession, shop: Shop, app: Any
) -> None:
    old_code = await shop.code(client)
    await shop.client.query("J-1")  # spends a nonce
    assert len(await fetch_all(session, select(TerminalNonce))) == 1

    with clock.travel(clock.now() + timedelta(seconds=601)):
        await shop.client.query("J-2")
        assert await purge_expired(app.state.db.sessions) == 1
        assert len(await fetch_all(session, select(TerminalNonce))) == 1
    with clock.travel(clock.now() + timedelta(days=1, minutes=2)):
        new_code = await shop.code(client)
        assert await purge_expired(app.state.db.sessions) == 2
    rows = await fetch_all(session, select(RedemptionCode))
    assert len(rows) == 1
    assert old_code != new_code
