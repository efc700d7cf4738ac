"""`verify-ledger` checks every redemption debit against the terminal's redemption that
made it: one written straight into the ledger, or one for another amount, is a problem."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest
from sqlalchemy import select, update

from app.ledger.models import LedgerTransaction
from app.merchants.models import Redemption
from app.verification import verify_all
from tests.ledger.evidence_support import tamper
from tests.merchants.conftest import Shop
from tests.rewards.support import approve, deliver


async def _problems(app: Any) -> list[str]:
    async with app.state.db.sessions() as session:
        return (await verify_all(session)).problems


async def _redeem(client: httpx.AsyncClient, shop: Shop, amount: int) -> dict[str, Any]:
    volunteer = shop.world.volunteer_b
    await approve(shop.app, region_id=volunteer.region_id, volunteer_id=volunteer.id, minutes=300)
    await deliver(shop.app)
    code = await shop.code(client, "volunteer_b")
    response = await shop.client.redeem(code, request_no="R-0001", amount=amount)
    assert response.status_code == 201, response.text
    return dict(response.json())


async def test_a_terminals_redemption_verifies(client: httpx.AsyncClient, shop: Shop) -> None:
    await _redeem(client, shop, 20)

    assert await _problems(shop.app) == []


@pytest.mark.database_owner
async def test_a_redemption_whose_amount_was_edited_is_a_problem(
    client: httpx.AsyncClient, shop: Shop
) -> None:
    receipt = await _redeem(client, shop, 20)
    redemptions = Redemption.__table__
    await tamper(
        shop.app,
        update(redemptions).where(redemptions.c.request_no == "R-0001").values(amount=2),
    )

    assert await _problems(shop.app) == [
        f"transaction {receipt['transaction_id']} (seq {await _seq(shop, receipt)}): "
        f"redemption {receipt['id']} is for 2, but the transaction takes 20 from a wallet, "
        "or from another volunteer's"
    ]


async def _seq(shop: Shop, receipt: dict[str, Any]) -> int:
    tx_id = uuid.UUID(receipt["transaction_id"])
    async with shop.app.state.db.sessions() as session:
        seq = await session.scalar(
            select(LedgerTransaction.seq).where(LedgerTransaction.id == tx_id)
        )
    return int(seq)
