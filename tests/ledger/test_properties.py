"""Random sequences of ledger operations agree with a small in-memory model.

Each example runs on a fresh SQLite copy of a migrated database. The model keeps,
per volunteer, the 良票 left and reserved in lots that expire early (E1) or late
(E2); spends and holds draw early lots first, refunds give back to late lots first,
and after E1 the expiry job sends what is left of early lots to the expired account.
"""

from __future__ import annotations

import asyncio
import shutil
import tempfile
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from app.core import clock
from app.core.errors import AppError
from app.ledger import jobs, service
from app.ledger.errors import (
    AlreadyReversed,
    HoldAlreadyResolved,
    HoldPostExceedsAmount,
    InsufficientBalance,
    RefundExceedsRemainder,
    ReversalExceedsRemainder,
)
from app.ledger.models import AccountKind
from app.main import create_app
from tests.builders import make_region, make_volunteer
from tests.conftest import _migrate_sync, base_settings
from tests.ledger.support import Ledger

BEFORE_E1 = datetime(2025, 3, 1, tzinfo=UTC)
E1 = datetime(2025, 6, 30, 16, tzinfo=UTC)
AFTER_E1 = datetime(2025, 7, 1, tzinfo=UTC)
E2 = datetime(2026, 12, 31, 16, tzinfo=UTC)
EARLY, LATE = 0, 1


@dataclass
class Wallet:
    left: list[int] = field(default_factory=lambda: [0, 0])
    reserved: list[int] = field(default_factory=lambda: [0, 0])

    def free(self, live: list[int]) -> int:
        return sum(self.left[c] - self.reserved[c] for c in live)


@dataclass
class Spend:
    tx: Any
    who: int
    drawn: list[int]
    reversed: bool = False


@dataclass
class HoldModel:
    hold: Any
    who: int
    reserved: list[int]
    open: bool = True


@dataclass
class Model:
    wallets: list[Wallet] = field(default_factory=lambda: [Wallet(), Wallet()])
    spends: list[Spend] = field(default_factory=list)
    holds: list[HoldModel] = field(default_factory=list)
    shop: int = 0
    expired: int = 0
    issued: int = 0
    after_e1: bool = False

    @property
    def live(self) -> list[int]:
        return [LATE] if self.after_e1 else [EARLY, LATE]

    def take(self, wallet: Wallet, amount: int, *, reserve: bool) -> list[int]:
        parts = [0, 0]
        for c in self.live:
            part = min(amount, wallet.left[c] - wallet.reserved[c])
            parts[c] = part
            amount -= part
            if reserve:
                wallet.reserved[c] += part
            else:
                wallet.left[c] -= part
        return parts

    def give_back(self, spend: Spend, amount: int) -> None:
        wallet = self.wallets[spend.who]
        for c in (LATE, EARLY):
            part = min(amount, spend.drawn[c])
            spend.drawn[c] -= part
            amount -= part
            if c == EARLY and self.after_e1:
                self.expired += part
            else:
                wallet.left[c] += part


OPS = st.lists(
    st.one_of(
        st.tuples(st.just("issue"), st.integers(0, 1), st.integers(1, 20), st.booleans()),
        st.tuples(st.just("spend"), st.integers(0, 1), st.integers(1, 25)),
        st.tuples(st.just("hold"), st.integers(0, 1), st.integers(1, 15)),
        st.tuples(st.just("post"), st.integers(0, 50), st.integers(0, 16)),
        st.tuples(st.just("void"), st.integers(0, 50)),
        st.tuples(st.just("refund"), st.integers(0, 50), st.integers(1, 12)),
        st.tuples(st.just("reverse"), st.integers(0, 50)),
        st.tuples(st.just("expire")),
    ),
    min_size=1,
    max_size=18,
)


async def _expect(call: Any, refusal: type[AppError] | None) -> Any:
    """Run the call: it must succeed when `refusal` is None, else raise exactly that."""
    if refusal is None:
        return await call
    with pytest.raises(refusal):
        await call
    return None


async def _apply(ledger: Ledger, model: Model, people: list[Any], shop: Any, op: tuple) -> None:
    name = op[0]
    if name == "issue":
        _, who, amount, late = op
        late = late or model.after_e1
        await ledger.issue(people[who], amount, expires_at=E2 if late else E1)
        model.wallets[who].left[LATE if late else EARLY] += amount
        model.issued += amount
    elif name == "spend":
        _, who, amount = op
        wallet = model.wallets[who]
        enough = wallet.free(model.live) >= amount
        tx = await _expect(
            ledger.spend(people[who], amount, shop), None if enough else InsufficientBalance
        )
        if tx is not None:
            model.spends.append(Spend(tx, who, model.take(wallet, amount, reserve=False)))
            model.shop += amount
    elif name == "hold":
        _, who, amount = op
        wallet = model.wallets[who]
        enough = wallet.free(model.live) >= amount
        hold = await _expect(
            ledger.run(
                service.hold_from_wallet,
                region_id=shop.region_id,
                volunteer_id=people[who].id,
                to_account_id=shop.id,
                amount=amount,
                reference_type="redemption",
                reference_id="r",
                actor="t",
            ),
            None if enough else InsufficientBalance,
        )
        if hold is not None:
            model.holds.append(HoldModel(hold, who, model.take(wallet, amount, reserve=True)))
    elif name in ("post", "void") and model.holds:
        h = model.holds[op[1] % len(model.holds)]
        amount = op[2] if name == "post" else 0
        posting = amount or h.hold.amount
        refusal: type[AppError] | None = None
        if not h.open:
            refusal = HoldAlreadyResolved
        elif name == "post" and posting > h.hold.amount:
            refusal = HoldPostExceedsAmount
        if name == "post":
            call = ledger.run(
                service.post_hold, hold_id=h.hold.id, amount=amount or None, actor="t"
            )
        else:
            call = ledger.run(service.void_hold, hold_id=h.hold.id, actor="t")
        await _expect(call, refusal)
        if refusal is not None:
            return
        wallet = model.wallets[h.who]
        left = posting if name == "post" else 0
        drawn = [0, 0]
        for c in (EARLY, LATE):
            wallet.reserved[c] -= h.reserved[c]
            part = min(left, h.reserved[c])
            wallet.left[c] -= part
            drawn[c] = part
            left -= part
        h.open = False
        if name == "post":
            model.spends.append(Spend(None, h.who, drawn))
            model.shop += posting
    elif name in ("refund", "reverse") and model.spends:
        spend = model.spends[op[1] % len(model.spends)]
        if spend.tx is None:
            return  # a posted hold: its transaction is not kept in the model
        remainder = sum(spend.drawn)
        if name == "refund":
            amount = op[2]
            call = ledger.refund(spend.tx, amount)
            refusal = RefundExceedsRemainder if amount > remainder else None
        else:
            amount = remainder
            call = ledger.reverse(spend.tx)
            refusal = (
                AlreadyReversed
                if spend.reversed
                else ReversalExceedsRemainder
                if remainder == 0
                else None
            )
        await _expect(call, refusal)
        if refusal is None:
            model.give_back(spend, amount)
            model.shop -= amount
            spend.reversed = spend.reversed or name == "reverse"
    elif name == "expire" and not model.after_e1:
        model.after_e1 = True
        with clock.travel(AFTER_E1):
            await jobs.time_out_holds(ledger.sessions)
            await jobs.expire_lots(ledger.sessions)
        for h in model.holds:
            if h.open:
                wallet = model.wallets[h.who]
                for c in (EARLY, LATE):
                    wallet.reserved[c] -= h.reserved[c]
                h.open = False
        for wallet in model.wallets:
            model.expired += wallet.left[EARLY]
            wallet.left[EARLY] = 0


async def _scenario(template: Path, ops: list[tuple]) -> None:
    workdir = Path(tempfile.mkdtemp(prefix="ledger-prop-"))
    try:
        db = workdir / "ledger.db"
        shutil.copyfile(template, db)
        app = create_app(base_settings(database_url=f"sqlite+aiosqlite:///{db}", var_dir=workdir))
        async with app.router.lifespan_context(app):
            ledger = Ledger(app)
            async with app.state.db.sessions() as session:
                region = await make_region(session)
                people = [await make_volunteer(session, region) for _ in range(2)]
            shop = await ledger.merchant(region.id)
            model = Model()
            for op in ops:
                with clock.travel(AFTER_E1 if model.after_e1 else BEFORE_E1):
                    await _apply(ledger, model, people, shop, op)
                for who, person in enumerate(people):
                    summary = await ledger.wallet(person)
                    wallet = model.wallets[who]
                    assert summary.balance.posted == sum(wallet.left), (op, who)
                    assert summary.balance.pending == sum(wallet.reserved), (op, who)
            assert (await ledger.balance(shop)).posted == model.shop
            expired = await ledger.system(region.id, AccountKind.expired)
            assert (await ledger.balance(expired)).posted == model.expired
            issuance = await ledger.system(region.id, AccountKind.issuance)
            assert (await ledger.balance(issuance)).posted == -model.issued
            report = await ledger.verify()
            assert report.ok, report.problems
            assert report.postings_total == 0
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


_TEMPLATE: dict[str, Path] = {}


def _template() -> Path:
    """One migrated SQLite file for every example (made once per test run)."""
    if "path" not in _TEMPLATE:
        path = Path(tempfile.mkdtemp(prefix="ledger-prop-template-")) / "template.db"
        _migrate_sync(f"sqlite+aiosqlite:///{path}")
        _TEMPLATE["path"] = path
    return _TEMPLATE["path"]


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(ops=OPS)
def test_random_operations_agree_with_the_model(ops: list[tuple]) -> None:
    asyncio.run(_scenario(_template(), ops))


def test_the_model_follows_a_known_story() -> None:
    """A fixed sequence, so the property's model is itself checked against the rules."""
    asyncio.run(
        _scenario(
            _template(),
            [
                ("issue", 0, 10, False),
                ("issue", 0, 10, True),
                ("spend", 0, 15),
                ("hold", 0, 4),
                ("spend", 0, 2),
                ("post", 0, 3),
                ("refund", 0, 8),
                ("expire",),
                ("reverse", 0),
                ("reverse", 0),
                ("spend", 1, 1),
            ],
        )
    )
