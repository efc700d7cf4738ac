"""Helpers of the sealing and proof tests: issue straight through the ledger, run the
sealing job until it is idle, the app's signer."""

from __future__ import annotations

import uuid
from typing import Any

from app.ledger import sealing
from app.ledger import service as ledger
from app.ledger.heads import HeadLog
from app.ledger.signer import LedgerSigner, load_signer


async def seal(app: Any) -> int:
    """Run the sealing job until it is idle; returns transactions sealed."""
    total = 0
    heads = HeadLog.from_settings(app.state.settings)
    while n := await sealing.seal_pending(app.state.db.sessions, signer=signer(app), heads=heads):
        total += n
    return total


def signer(app: Any) -> LedgerSigner:
    """The app's ledger signer: in tests, a key generated under the test's var directory."""
    return load_signer(app.state.settings)


async def issue(app: Any, *, region_id: uuid.UUID, volunteer_id: uuid.UUID, amount: int) -> Any:
    """A plain issuance straight through the ledger (for the sealing tests)."""
    async with app.state.db.sessions() as session, session.begin():
        return await ledger.issue_to_wallet(
            session,
            region_id=region_id,
            volunteer_id=volunteer_id,
            amount=amount,
            reference_type="test",
            reference_id=str(uuid.uuid4()),
            actor="test",
        )
