"""The ledger under real parallel PostgreSQL connections: no overdraft, one reversal,
one effect per idempotency key, and a consistent ledger after a mixed workload."""

from __future__ import annotations

import asyncio
import random
import uuid
from collections import Counter
from collections.abc import Awaitable
from datetime import timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from app.core import clock
from app.core.errors import AppError
from app.ledger import jobs, service
from app.ledger.errors import AlreadyReversed, InsufficientBalance
from app.ledger.models import AccountKind, Hold, LedgerTransaction, TxKind
from tests.ledger.support import Ledger

pytestmark = pytest.mark.postgres_only


async def outcomes(calls: list[Awaitable[Any]]) -> list[Any]:
    """Run the calls at once; each one's result or the exception it raised."""
    return await asyncio.gather(*calls, return_exceptions=True)


async def test_200_simultaneous_spends_of_1_from_a_wallet_of_100_leave_it_at_0(
    ledger: Ledger, world: Any
) -> None:
    await ledger.issue(world.volunteer_a, 60)
    await ledger.issue(world.volunteer_a, 40)
    shop = await ledger.merchant(world.region.id)

    results = await outcomes([ledger.spend(world.volunteer_a, 1, shop) for _ in range(200)])

    kinds = Counter(type(r).__name__ for r in results)
    assert kinds == {"LedgerTransaction": 100, "InsufficientBalance": 100}
    summary = await ledger.wallet(world.volunteer_a)
    assert (summary.balance.posted, summary.balance.available) == (0, 0)
    assert [lot.remaining for lot in await ledger.lots(world.volunteer_a)] == [0, 0]
    assert (await ledger.balance(shop)).posted == 100
    assert (await ledger.verify()).ok


async def test_holds_and_spends_together_never_overdraw(ledger: Ledger, world: Any) -> None:
    await ledger.issue(world.volunteer_a, 50)
    shop = await ledger.merchant(world.region.id)

    def hold() -> Awaitable[Hold]:
        return ledger.run(
            service.hold_from_wallet,
            region_id=world.region.id,
            volunteer_id=world.volunteer_a.id,
            to_account_id=shop.id,
            amount=3,
            reference_type="redemption",
            reference_id=uuid.uuid4().hex,
            actor="t",
        )

    calls: list[Awaitable[Any]] = []
    for i in range(60):
        calls.append(hold() if i % 2 else ledger.spend(world.volunteer_a, 2, shop))
    results = await outcomes(calls)

    assert all(isinstance(r, Hold | LedgerTransaction | InsufficientBalance) for r in results)
    held = sum(3 for r in results if isinstance(r, Hold))
    spent = sum(2 for r in results if isinstance(r, LedgerTransaction))
    summary = await ledger.wallet(world.volunteer_a)
    assert summary.balance.pending == held
    assert summary.balance.posted == 50 - spent
    assert 0 <= summary.balance.available < 3
    assert (await ledger.verify()).ok


async def test_100_simultaneous_reversals_of_one_transaction_reverse_it_once(
    ledger: Ledger, world: Any
) -> None:
    await ledger.issue(world.volunteer_a, 30)
    shop = await ledger.merchant(world.region.id)
    spend = await ledger.spend(world.volunteer_a, 10, shop)

    results = await outcomes([ledger.reverse(spend) for _ in range(100)])

    reversals = [r for r in results if isinstance(r, LedgerTransaction)]
    assert len(reversals) == 1
    assert all(isinstance(r, AlreadyReversed) for r in results if r not in reversals)
    assert (await ledger.available(world.volunteer_a)) == 30
    assert (await ledger.balance(shop)).posted == 0
    assert (await ledger.verify()).ok


async def test_100_simultaneous_reversals_over_http_give_one(
    client: httpx.AsyncClient, ledger: Ledger, world: Any
) -> None:
    await ledger.issue(world.volunteer_a, 30)
    issuance = await ledger.system(world.region.id, AccountKind.issuance)
    settled = await ledger.system(world.region.id, AccountKind.settled)
    transfer = await ledger.run(
        service.transfer,
        region_id=world.region.id,
        kind=TxKind.adjust,
        postings=[(issuance.id, -5), (settled.id, 5)],
        reference_type="test",
        reference_id="t",
        actor="t",
    )
    url = f"/v1/ledger/transactions/{transfer.id}/reversals"

    responses = await outcomes(
        [
            client.post(
                url,
                json={"reason": "重复"},
                headers={**world.auth["center_admin"], "Idempotency-Key": uuid.uuid4().hex},
            )
            for _ in range(100)
        ]
    )

    statuses = Counter(r.status_code for r in responses)
    assert statuses == {201: 1, 409: 99}
    assert {r.json()["code"] for r in responses if r.status_code == 409} == {"already_reversed"}
    assert (await ledger.balance(settled)).posted == 0
    assert (await ledger.verify()).ok


async def test_50_retries_with_one_idempotency_key_have_one_effect(
    client: httpx.AsyncClient, ledger: Ledger, world: Any
) -> None:
    wallet_id = await ledger.wallet_id(world.volunteer_a)
    issuance = await ledger.system(world.region.id, AccountKind.issuance)
    body = {
        "debit_account_id": str(issuance.id),
        "credit_account_id": str(wallet_id),
        "amount": 9,
        "reason": "补发",
    }
    headers = {**world.auth["center_admin"], "Idempotency-Key": uuid.uuid4().hex}

    responses = await outcomes(
        [client.post("/v1/ledger/adjustments", json=body, headers=headers) for _ in range(50)]
    )
    # Whatever was refused as still in flight is retried, as a client would.
    while any(r.status_code == 409 for r in responses):
        for r in responses:
            if r.status_code == 409:
                assert r.json()["code"] == "idempotency_key_in_flight"
        responses = [
            r
            if r.status_code != 409
            else await client.post("/v1/ledger/adjustments", json=body, headers=headers)
            for r in responses
        ]

    assert {r.status_code for r in responses} == {201}
    assert len({r.text for r in responses}) == 1
    assert (await ledger.available(world.volunteer_a)) == 9
    assert await ledger.count(LedgerTransaction) == 1


async def test_a_random_mixed_workload_leaves_a_consistent_ledger(
    ledger: Ledger, world: Any
) -> None:
    rng = random.Random(20250301)
    volunteers = [world.volunteer_a, world.volunteer_b]
    region = world.region.id
    shop = await ledger.merchant(region)
    spends: list[LedgerTransaction] = []
    holds: list[Hold] = []
    now = clock.now()
    for v in volunteers:
        await ledger.issue(v, 40, expires_at=now + timedelta(seconds=3))
        await ledger.issue(v, 40)

    async def one() -> Any:
        v = rng.choice(volunteers)
        op = rng.choice(
            ["issue", "spend", "spend", "hold", "post", "void", "refund", "reverse", "expire"]
        )
        if op == "issue":
            return await ledger.issue(v, rng.randint(1, 10))
        if op == "spend":
            tx = await ledger.spend(v, rng.randint(1, 8), shop)
            spends.append(tx)
            return tx
        if op == "hold":
            hold = await ledger.run(
                service.hold_from_wallet,
                region_id=region,
                volunteer_id=v.id,
                to_account_id=shop.id,
                amount=rng.randint(1, 6),
                reference_type="redemption",
                reference_id=uuid.uuid4().hex,
                actor="t",
                expires_at=clock.now() + timedelta(seconds=rng.choice([1, 60])),
            )
            holds.append(hold)
            return hold
        if op in ("post", "void") and holds:
            hold = rng.choice(holds)
            if op == "post":
                return await ledger.run(
                    service.post_hold,
                    hold_id=hold.id,
                    amount=rng.randint(1, hold.amount),
                    actor="t",
                )
            return await ledger.run(service.void_hold, hold_id=hold.id, actor="t")
        if op == "refund" and spends:
            return await ledger.refund(rng.choice(spends), rng.randint(1, 3))
        if op == "reverse" and spends:
            return await ledger.reverse(rng.choice(spends))
        if op == "expire":
            return (
                await jobs.time_out_holds(ledger.sessions),
                await jobs.expire_lots(ledger.sessions),
            )
        return None

    # Rounds of 40 concurrent operations, the clock moving 2 s between rounds, so that
    # lots expire and holds time out while the others keep coming.
    for round_no in range(6):
        with clock.travel(now + timedelta(seconds=2 * round_no)):
            results = await outcomes([one() for _ in range(40)])
        unexpected = [
            r for r in results if isinstance(r, Exception) and not isinstance(r, AppError)
        ]
        assert not unexpected, unexpected

    report = await ledger.verify()
    assert report.ok, report.problems
    assert report.postings_total == 0
    assert report.transactions > 100
    kinds = {kind for (kind,) in await ledger.scalar_all(select(LedgerTransaction.kind).distinct())}
    assert kinds == {"issue", "redeem", "refund", "reverse", "expire"}
    for v in volunteers:
        summary = await ledger.wallet(v)
        assert summary.balance.available >= 0
