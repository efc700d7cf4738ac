"""Holds on a wallet: available counts them as spent until they are posted, voided or time out."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from app.core import clock
from app.ledger import repository as repo
from app.ledger.errors import (
    AccountKindNotAllowed,
    AccountNotFound,
    HoldAlreadyResolved,
    HoldNotFound,
    HoldPostExceedsAmount,
    InvalidAmount,
)
from app.ledger.models import (
    AccountKind,
    Hold,
    HoldResolution,
    HoldStatus,
    LedgerTransaction,
    LotEntryKind,
    TxKind,
)
from app.ledger.service.transactions import (
    Entry,
    insufficient,
    lot_entries,
    new_transaction,
    require_amount,
    wallet_insufficient,
)

DEFAULT_HOLD_TTL = timedelta(minutes=15)


HOLD_TIMEOUT_ACTOR = "system:hold-timeout"


async def hold_from_wallet(
    session: AsyncSession,
    *,
    region_id: uuid.UUID,
    volunteer_id: uuid.UUID,
    to_account_id: uuid.UUID,
    amount: int,
    reference_type: str,
    reference_id: str,
    actor: str,
    metadata: dict[str, Any] | None = None,
    expires_at: datetime | None = None,
) -> Hold:
    """Hold `amount` of the wallet for `to_account_id`: available counts it as spent
    until it is posted, voided, or times out at `expires_at` (default 15 minutes)."""
    require_amount(amount)
    now = clock.now()
    expires_at = expires_at or now + DEFAULT_HOLD_TTL
    if expires_at <= now:
        raise InvalidAmount("A hold must time out in the future")
    target = await repo.get_account(session, to_account_id, region_id=region_id)
    if target is None:
        raise AccountNotFound(f"No ledger account {to_account_id} in this region")
    if target.kind == AccountKind.wallet:
        raise AccountKindNotAllowed("Hold for a merchant or system account, not a wallet")
    wallet_id = await repo.hold_on_wallet_of(
        session, region_id=region_id, owner_id=volunteer_id, amount=amount
    )
    if wallet_id is None:
        raise await wallet_insufficient(
            session, region_id=region_id, volunteer_id=volunteer_id, amount=amount
        )
    reservations = await repo.lot_draws(
        session, region_id=region_id, wallet_id=wallet_id, amount=amount, now=now
    )
    live = sum(take for _, take in reservations)
    if live < amount:
        raise await insufficient(session, wallet_id, amount, live=live)
    await repo.change_lots(session, {lot_id: (0, take) for lot_id, take in reservations})
    hold = Hold(
        id=uuid.uuid4(),
        region_id=region_id,
        account_id=wallet_id,
        to_account_id=to_account_id,
        amount=amount,
        expires_at=expires_at,
        reference_type=reference_type,
        reference_id=reference_id,
        actor=actor,
        meta=dict(metadata or {}),
        created_at=now,
    )
    await repo.insert_hold(session, hold, reservations)
    return hold


async def _open_hold(
    session: AsyncSession, hold_id: uuid.UUID, region_id: uuid.UUID | None
) -> Hold:
    """The hold, its wallet locked, refused if it has already resolved."""
    hold = await repo.hold_by_id(session, hold_id)
    if hold is None or (region_id is not None and hold.region_id != region_id):
        raise HoldNotFound()
    await repo.lock_accounts(session, [hold.account_id])
    resolution = await repo.resolution_of(session, hold.id)
    if resolution is not None:
        raise HoldAlreadyResolved(f"The hold was {resolution.status}", status=resolution.status)
    return hold


async def _release(
    session: AsyncSession, hold: Hold, *, posted: int
) -> list[tuple[uuid.UUID, int]]:
    """Release the hold's reservations, drawing `posted` of them; returns the draws."""
    draws: list[tuple[uuid.UUID, int]] = []
    changes: dict[uuid.UUID, tuple[int, int]] = {}
    left = posted
    for lot_id, reserved in await repo.reservations_of(session, hold.id):
        take = min(left, reserved)
        left -= take
        changes[lot_id] = (-take, -reserved)
        if take:
            draws.append((lot_id, take))
    await repo.change_lots(session, changes)
    await repo.change_wallet(
        session, account_id=hold.account_id, posted=-posted, pending=-hold.amount
    )
    return draws


async def post_hold(
    session: AsyncSession,
    *,
    hold_id: uuid.UUID,
    actor: str,
    amount: int | None = None,
    kind: TxKind = TxKind.redeem,
    reference_type: str | None = None,
    reference_id: str | None = None,
    metadata: dict[str, Any] | None = None,
    region_id: uuid.UUID | None = None,
) -> LedgerTransaction:
    """Post the hold, wholly or `amount` of it; the rest is released."""
    hold = await _open_hold(session, hold_id, region_id)
    if hold.expires_at <= clock.now():
        raise HoldAlreadyResolved("The hold has timed out", status=HoldStatus.expired)
    posted = hold.amount if amount is None else amount
    require_amount(posted)
    if posted > hold.amount:
        raise HoldPostExceedsAmount(f"The hold is for {hold.amount} 良票; {posted} asked")
    draws = await _release(session, hold, posted=posted)
    await repo.credit(
        session, region_id=hold.region_id, account_id=hold.to_account_id, amount=posted
    )
    entry = Entry(
        region_id=hold.region_id,
        kind=kind,
        reference_type=reference_type or hold.reference_type,
        reference_id=reference_id or hold.reference_id,
        actor=actor,
        metadata={**hold.meta, **(metadata or {}), "hold_id": str(hold.id)},
    )
    tx = await new_transaction(
        session, entry, [(hold.account_id, -posted), (hold.to_account_id, posted)]
    )
    await lot_entries(session, tx, LotEntryKind.draw, [(lot_id, -take) for lot_id, take in draws])
    await repo.insert_resolution(
        session,
        HoldResolution(
            region_id=hold.region_id,
            hold_id=hold.id,
            status=HoldStatus.posted,
            posted_amount=posted,
            transaction_id=tx.id,
            actor=actor,
            created_at=tx.created_at,
        ),
    )
    return tx


async def _end_hold(
    session: AsyncSession, hold: Hold, *, status: HoldStatus, actor: str
) -> HoldResolution:
    await _release(session, hold, posted=0)
    resolution = HoldResolution(
        region_id=hold.region_id,
        hold_id=hold.id,
        status=status,
        posted_amount=0,
        transaction_id=None,
        actor=actor,
        created_at=clock.now(),
    )
    await repo.insert_resolution(session, resolution)
    return resolution


async def void_hold(
    session: AsyncSession, *, hold_id: uuid.UUID, actor: str, region_id: uuid.UUID | None = None
) -> HoldResolution:
    """Release the hold without moving any 良票."""
    hold = await _open_hold(session, hold_id, region_id)
    return await _end_hold(session, hold, status=HoldStatus.voided, actor=actor)


async def holds_due(session: AsyncSession, *, limit: int) -> list[uuid.UUID]:
    """Open holds past their timeout, oldest first."""
    return [hold.id for hold in await repo.due_holds(session, now=clock.now(), limit=limit)]


async def time_out_hold(session: AsyncSession, *, hold_id: uuid.UUID) -> bool:
    """Release a hold past its timeout; False if it resolved meanwhile."""
    hold = await repo.hold_by_id(session, hold_id)
    if hold is None or hold.expires_at > clock.now():
        return False
    await repo.lock_accounts(session, [hold.account_id])
    if await repo.resolution_of(session, hold.id) is not None:
        return False
    await _end_hold(session, hold, status=HoldStatus.expired, actor=HOLD_TIMEOUT_ACTOR)
    return True
