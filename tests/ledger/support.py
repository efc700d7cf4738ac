"""Drives the ledger's service as requests would: one unit of work per call."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any, TypeVar

from sqlalchemy import func, select, text

from app.ledger import service
from app.ledger.models import Account, AccountKind, LedgerTransaction, Lot, Posting, TxKind
from app.ledger.service import Balance, WalletSummary
from app.ledger.verify import Report, verify
from app.volunteers.models import Volunteer

T = TypeVar("T")


class Ledger:
    def __init__(self, app: Any) -> None:
        self.sessions = app.state.db.sessions
        self.dialect: str = app.state.db.dialect

    async def run(self, fn: Callable[..., Awaitable[T]], /, **kwargs: Any) -> T:
        async with self.sessions() as session, session.begin():
            return await fn(session, **kwargs)

    async def issue(
        self, volunteer: Volunteer, amount: int, *, expires_at: datetime | None = None, **kw: Any
    ) -> LedgerTransaction:
        kw.setdefault("reference_type", "hours_record")
        kw.setdefault("reference_id", str(uuid.uuid4()))
        kw.setdefault("actor", "test")
        return await self.run(
            service.issue_to_wallet,
            region_id=volunteer.region_id,
            volunteer_id=volunteer.id,
            amount=amount,
            expires_at=expires_at,
            **kw,
        )

    async def merchant(self, region_id: uuid.UUID) -> Account:
        return await self.run(
            service.merchant_account, region_id=region_id, merchant_id=uuid.uuid4()
        )

    async def system(self, region_id: uuid.UUID, kind: AccountKind) -> Account:
        return await self.run(service.system_account, region_id=region_id, kind=kind)

    async def spend(
        self, volunteer: Volunteer, amount: int, to: Account, **kw: Any
    ) -> LedgerTransaction:
        kw.setdefault("kind", TxKind.redeem)
        kw.setdefault("reference_type", "redemption")
        kw.setdefault("reference_id", str(uuid.uuid4()))
        kw.setdefault("actor", "terminal:test")
        spent: service.Spend = await self.run(
            service.spend_from_wallet,
            region_id=volunteer.region_id,
            volunteer_id=volunteer.id,
            to_account_id=to.id,
            amount=amount,
            **kw,
        )
        return spent.transaction

    async def refund(self, spend: LedgerTransaction, amount: int, **kw: Any) -> LedgerTransaction:
        kw.setdefault("kind", TxKind.refund)
        kw.setdefault("reference_type", "redemption_refund")
        kw.setdefault("reference_id", str(uuid.uuid4()))
        kw.setdefault("actor", "merchant:test")
        return await self.run(
            service.refund_spend, original_transaction_id=spend.id, amount=amount, **kw
        )

    async def reverse(self, tx: LedgerTransaction, **kw: Any) -> LedgerTransaction:
        kw.setdefault("actor", "staff:test")
        return await self.run(service.reverse_transaction, transaction_id=tx.id, **kw)

    async def wallet(self, volunteer: Volunteer) -> WalletSummary:
        return await self.run(
            service.wallet_summary, region_id=volunteer.region_id, volunteer_id=volunteer.id
        )

    async def wallet_id(self, volunteer: Volunteer) -> uuid.UUID:
        account = await self.run(
            service.wallet_account, region_id=volunteer.region_id, volunteer_id=volunteer.id
        )
        return account.id

    async def balance(self, account: Account | uuid.UUID) -> Balance:
        account_id = account.id if isinstance(account, Account) else account
        return await self.run(service.account_balance, account_id=account_id)

    async def available(self, volunteer: Volunteer) -> int:
        return (await self.wallet(volunteer)).balance.available

    async def verify(self) -> Report:
        async with self.sessions() as session:
            return await verify(session)

    async def scalar(self, query: Any) -> Any:
        async with self.sessions() as session:
            return await session.scalar(text(query) if isinstance(query, str) else query)

    async def scalar_all(self, query: Any) -> list[Any]:
        async with self.sessions() as session:
            return list((await session.execute(query)).all())

    async def count(self, model: Any) -> int:
        return int(await self.scalar(select(func.count()).select_from(model)))

    async def lots(self, volunteer: Volunteer) -> list[Lot]:
        async with self.sessions() as session:
            wallet = await service.wallet_account(
                session, region_id=volunteer.region_id, volunteer_id=volunteer.id
            )
            rows = await session.scalars(
                select(Lot).where(Lot.account_id == wallet.id).order_by(Lot.expires_at)
            )
            await session.commit()
            return list(rows)

    async def postings_total(self) -> int:
        return int(await self.scalar(select(func.coalesce(func.sum(Posting.amount), 0))))

    async def execute(self, sql: str, **params: Any) -> None:
        """Raw SQL in its own transaction (tests that tamper with the ledger)."""
        async with self.sessions() as session, session.begin():
            await session.execute(text(sql), params)
