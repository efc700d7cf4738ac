"""Refunds give a spend back to the lots it drew on; a reversal undoes a transaction once."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from app.core import clock
from app.ledger import service
from app.ledger.errors import (
    AlreadyReversed,
    InsufficientBalance,
    NotRefundable,
    NotReversible,
    RefundExceedsRemainder,
    ReversalExceedsRemainder,
    TransactionNotFound,
)
from app.ledger.models import AccountKind, LedgerTransaction, TxKind
from tests.ledger.support import Ledger

MARCH = datetime(2025, 3, 1, tzinfo=UTC)
SOON = datetime(2025, 6, 30, 16, tzinfo=UTC)
LATER = datetime(2026, 12, 31, 16, tzinfo=UTC)


async def _two_lots_and_a_spend(ledger: Ledger, world: Any) -> tuple[Any, LedgerTransaction]:
    """Lots of 10 (expiring SOON) and 10 (LATER); a spend of 15 takes 10 + 5."""
    with clock.travel(MARCH):
        await ledger.issue(world.volunteer_a, 10, expires_at=SOON)
        await ledger.issue(world.volunteer_a, 10, expires_at=LATER)
        shop = await ledger.merchant(world.region.id)
        spend = await ledger.spend(world.volunteer_a, 15, shop)
    return shop, spend


async def test_a_refund_restores_the_latest_expiring_lot_first(ledger: Ledger, world: Any) -> None:
    shop, spend = await _two_lots_and_a_spend(ledger, world)

    with clock.travel(MARCH):
        refund = await ledger.refund(spend, 7)

    assert refund.refunds_id == spend.id
    remaining = {lot.expires_at: lot.remaining for lot in await ledger.lots(world.volunteer_a)}
    assert remaining == {SOON: 2, LATER: 10}
    assert (await ledger.balance(shop)).posted == 8
    assert (await ledger.available(world.volunteer_a)) == 12
    assert (await ledger.verify()).ok


async def test_refunds_never_exceed_what_remains_of_the_spend(ledger: Ledger, world: Any) -> None:
    shop, spend = await _two_lots_and_a_spend(ledger, world)
    with clock.travel(MARCH):
        await ledger.refund(spend, 10)
        with pytest.raises(RefundExceedsRemainder) as refused:
            await ledger.refund(spend, 6)
        assert refused.value.extra == {"remaining": 5, "requested": 6}
        await ledger.refund(spend, 5)
        with pytest.raises(RefundExceedsRemainder):
            await ledger.refund(spend, 1)

    assert (await ledger.balance(shop)).posted == 0
    assert (await ledger.available(world.volunteer_a)) == 20
    assert (await ledger.verify()).ok


async def test_the_share_of_an_expired_lot_goes_to_the_expired_account(
    ledger: Ledger, world: Any
) -> None:
    shop, spend = await _two_lots_and_a_spend(ledger, world)

    with clock.travel(datetime(2025, 8, 1, tzinfo=UTC)):
        refund = await ledger.refund(spend, 15)

    expired = await ledger.system(world.region.id, AccountKind.expired)
    wallet_id = await ledger.wallet_id(world.volunteer_a)
    assert sorted((p.account_id, p.amount) for p in refund.postings) == sorted(
        [(shop.id, -15), (wallet_id, 5), (expired.id, 10)]
    )
    assert (await ledger.balance(expired)).posted == 10
    remaining = {lot.expires_at: lot.remaining for lot in await ledger.lots(world.volunteer_a)}
    assert remaining == {SOON: 0, LATER: 10}
    assert (await ledger.verify()).ok


async def test_a_refund_needs_the_receiving_account_to_still_hold_the_amount(
    ledger: Ledger, world: Any
) -> None:
    shop, spend = await _two_lots_and_a_spend(ledger, world)
    settled = await ledger.system(world.region.id, AccountKind.settled)
    await ledger.run(
        service.transfer,
        region_id=world.region.id,
        kind=TxKind.settle,
        postings=[(shop.id, -12), (settled.id, 12)],
        reference_type="settlement",
        reference_id="2025-03",
        actor="system:settlement",
    )

    with clock.travel(MARCH), pytest.raises(InsufficientBalance):
        await ledger.refund(spend, 4)

    assert (await ledger.available(world.volunteer_a)) == 5
    assert (await ledger.verify()).ok


async def test_only_spends_are_refundable(ledger: Ledger, world: Any) -> None:
    issued = await ledger.issue(world.volunteer_a, 10)
    with pytest.raises(NotRefundable):
        await ledger.refund(issued, 1)
    with pytest.raises(TransactionNotFound):
        await ledger.run(
            service.refund_spend,
            original_transaction_id=world.region.id,
            amount=1,
            kind=TxKind.refund,
            reference_type="x",
            reference_id="y",
            actor="z",
        )


async def test_a_spend_is_reversed_once_up_to_what_remains(ledger: Ledger, world: Any) -> None:
    shop, spend = await _two_lots_and_a_spend(ledger, world)
    with clock.travel(MARCH):
        await ledger.refund(spend, 5)
        with pytest.raises(ReversalExceedsRemainder):
            await ledger.reverse(spend, amount=11)
        reversal = await ledger.reverse(spend)
        with pytest.raises(AlreadyReversed):
            await ledger.reverse(spend, amount=1)

    assert reversal.kind == TxKind.reverse
    assert reversal.reverses_id == spend.id
    assert sum(p.amount for p in reversal.postings if p.amount > 0) == 10
    assert (await ledger.balance(shop)).posted == 0
    assert (await ledger.available(world.volunteer_a)) == 20
    with clock.travel(MARCH), pytest.raises(RefundExceedsRemainder):
        await ledger.refund(spend, 1)
    assert (await ledger.verify()).ok


async def test_reversing_an_issue_takes_back_what_is_left_of_its_lot(
    ledger: Ledger, world: Any
) -> None:
    with clock.travel(MARCH):
        issued = await ledger.issue(world.volunteer_a, 10, expires_at=SOON)
        other = await ledger.issue(world.volunteer_a, 10, expires_at=LATER)
        shop = await ledger.merchant(world.region.id)
        await ledger.spend(world.volunteer_a, 4, shop)  # from the lot that expires first

        with pytest.raises(ReversalExceedsRemainder):
            await ledger.reverse(issued, amount=7)
        reversal = await ledger.reverse(issued, amount=6)

    lots = {lot.transaction_id: lot.remaining for lot in await ledger.lots(world.volunteer_a)}
    assert lots == {issued.id: 0, other.id: 10}
    issuance = await ledger.system(world.region.id, AccountKind.issuance)
    assert (await ledger.balance(issuance)).posted == -14
    assert reversal.reverses_id == issued.id
    with pytest.raises(AlreadyReversed):
        await ledger.reverse(issued)
    assert (await ledger.verify()).ok


async def test_a_transfer_is_negated_wholly_or_in_part(ledger: Ledger, world: Any) -> None:
    shop, _ = await _two_lots_and_a_spend(ledger, world)
    settled = await ledger.system(world.region.id, AccountKind.settled)
    settle = await ledger.run(
        service.transfer,
        region_id=world.region.id,
        kind=TxKind.settle,
        postings=[(shop.id, -15), (settled.id, 15)],
        reference_type="settlement",
        reference_id="2025-03",
        actor="system:settlement",
    )

    await ledger.reverse(settle, amount=6)

    assert (await ledger.balance(shop)).posted == 6
    assert (await ledger.balance(settled)).posted == 9
    assert (await ledger.verify()).ok


async def test_refunds_reversals_and_expiries_are_not_reversible(
    ledger: Ledger, world: Any
) -> None:
    _, spend = await _two_lots_and_a_spend(ledger, world)
    with clock.travel(MARCH):
        refund = await ledger.refund(spend, 1)
        reversal = await ledger.reverse(spend, amount=1)
    for tx in (refund, reversal):
        with pytest.raises(NotReversible):
            await ledger.reverse(tx)
    with pytest.raises(TransactionNotFound):
        await ledger.reverse(spend, region_id=world.other_region.id)
