"""Lot expiry: the unspent remainder of due lots moves to the region's expired account."""

from __future__ import annotations

import uuid

from sqlalchemy.ext.asyncio import AsyncSession

from app.core import clock
from app.ledger import repository as repo
from app.ledger.models import (
    AccountKind,
    LotEntryKind,
    TxKind,
)
from app.ledger.service.accounts import system_account
from app.ledger.service.transactions import Entry, lot_entries, new_transaction

EXPIRY_ACTOR = "system:lot-expiry"


async def expire_lots_of_wallet(session: AsyncSession, *, account_id: uuid.UUID) -> int | None:
    """Expire the unspent remainder of the wallet's due lots into the expired account,
    one transaction per lot. None when a request holds the wallet (try again later).

    A lot with an open hold on it waits until the hold resolves: the hold was taken
    while the lot was live and may still be posted.
    """
    wallet = await repo.lock_wallet_if_free(session, account_id)
    if wallet is None:
        return None
    now = clock.now()
    lots = await repo.due_lots(session, account_id=account_id, now=now)
    if not lots:
        return 0
    expired = await system_account(session, region_id=wallet.region_id, kind=AccountKind.expired)
    total = sum(lot.remaining for lot in lots)
    await repo.change_wallet(session, account_id=wallet.id, posted=-total)
    await repo.change_lots(session, {lot.id: (-lot.remaining, 0) for lot in lots})
    await repo.credit(session, region_id=wallet.region_id, account_id=expired.id, amount=total)
    for lot in lots:
        entry = Entry(
            region_id=wallet.region_id,
            kind=TxKind.expire,
            reference_type="ledger_lot",
            reference_id=str(lot.id),
            actor=EXPIRY_ACTOR,
            metadata={"expires_at": lot.expires_at.isoformat()},
        )
        postings = [(wallet.id, -lot.remaining), (expired.id, lot.remaining)]
        tx = await new_transaction(session, entry, postings, now=now)
        await lot_entries(session, tx, LotEntryKind.expire, [(lot.id, -lot.remaining)])
    return len(lots)


async def wallets_due_for_expiry(session: AsyncSession, *, limit: int) -> list[uuid.UUID]:
    return await repo.wallets_with_due_lots(session, now=clock.now(), limit=limit)
