"""The ledger repository's queries at their edges: what each one finds, and what not."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from app.core import clock
from app.ledger import repository as repo
from app.ledger import service
from app.ledger.models import AccountKind
from tests.ledger.support import Ledger

ISSUED = datetime(2025, 2, 1, tzinfo=UTC)
MID_2026 = datetime(2026, 6, 30, 16, 0, tzinfo=UTC)
AFTER_2026 = datetime(2027, 1, 2, tzinfo=UTC)


async def test_the_expiry_batch_holds_only_wallets_with_something_left_to_expire(
    ledger: Ledger, world: Any
) -> None:
    # A's lot falls due first but was spent whole; B's holds a single 良票.
    with clock.travel(ISSUED):
        await ledger.issue(world.volunteer_a, 10, expires_at=MID_2026)
        await ledger.spend(world.volunteer_a, 10, await ledger.merchant(world.region.id))
        await ledger.issue(world.volunteer_b, 1)
    wallet_b = await ledger.wallet_id(world.volunteer_b)

    async with ledger.sessions() as session:
        # A spent-out lot filling the batch would keep B's from ever expiring.
        assert await repo.wallets_with_due_lots(session, now=AFTER_2026, limit=1) == [wallet_b]
        assert await repo.wallets_with_due_lots(session, now=MID_2026, limit=10) == []


async def test_an_account_id_is_found_only_in_its_own_region(ledger: Ledger, world: Any) -> None:
    # The same owner id with an account in another region only.
    other = await ledger.run(
        service.wallet_account, region_id=world.other_region.id, volunteer_id=world.volunteer_a.id
    )
    wallet = {"kind": AccountKind.wallet, "owner_id": world.volunteer_a.id}

    async with ledger.sessions() as session:
        assert await repo.find_account_id(session, region_id=world.region.id, **wallet) is None
        assert (
            await repo.find_account_id(session, region_id=world.other_region.id, **wallet)
            == other.id
        )

    issued = await ledger.issue(world.volunteer_a, 5)
    own = await ledger.wallet_id(world.volunteer_a)
    assert own != other.id
    assert {p.account_id for p in issued.postings if p.amount > 0} == {own}
    assert (await ledger.balance(other)).posted == 0
