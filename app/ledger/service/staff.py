"""The center admins' use cases behind the ledger's HTTP API.

Accounts and transactions read, statements exported, reversals and adjustments
posted; who may adjust, and when a second person must agree, is
`app.rewards.adjustments`' to decide.
"""

from __future__ import annotations

import csv
import io
import uuid
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from app.identity.principals import StaffContext
from app.ledger import repository as repo
from app.ledger import schemas
from app.ledger.errors import (
    AccountKindNotAllowed,
    AccountNotFound,
    InvalidPostings,
    StatementTooLarge,
    TransactionNotFound,
)
from app.ledger.models import (
    Account,
    AccountKind,
    LedgerTransaction,
    TxKind,
)
from app.ledger.service.postings import credit_wallet, post_transfer, spend
from app.ledger.service.reversals import reverse_transaction
from app.ledger.service.transactions import ADJUSTMENT_REFERENCE, Entry
from app.orgs.authz import require_center_admin


def _account_out(account: Account) -> schemas.Account:
    return schemas.Account(
        id=account.id,
        region_id=account.region_id,
        kind=account.kind,
        owner_id=account.owner_id,
        allow_negative=account.allow_negative,
        balance=schemas.Balance(
            posted=account.posted, pending=account.pending, available=account.available
        ),
        created_at=account.created_at,
    )


def transaction_out(tx: LedgerTransaction) -> schemas.Transaction:
    return schemas.Transaction(
        id=tx.id,
        seq=tx.seq,
        region_id=tx.region_id,
        kind=tx.kind,
        reference_type=tx.reference_type,
        reference_id=tx.reference_id,
        actor=tx.actor,
        metadata=tx.meta,
        created_at=tx.created_at,
        reverses_id=tx.reverses_id,
        refunds_id=tx.refunds_id,
        postings=[
            schemas.PostingOut(account_id=p.account_id, amount=p.amount) for p in tx.postings
        ],
    )


async def _staff_account(
    session: AsyncSession, staff: StaffContext, account_id: uuid.UUID
) -> Account:
    account = await repo.get_account(session, account_id, region_id=staff.region_id)
    if account is None:
        raise AccountNotFound()
    return account


async def account_for_staff(
    session: AsyncSession, *, staff: StaffContext, account_id: uuid.UUID
) -> schemas.Account:
    require_center_admin(staff)
    return _account_out(await _staff_account(session, staff, account_id))


async def transaction_for_staff(
    session: AsyncSession, *, staff: StaffContext, transaction_id: uuid.UUID
) -> schemas.Transaction:
    require_center_admin(staff)
    tx = await repo.transaction_by_id(session, transaction_id, region_id=staff.region_id)
    if tx is None:
        raise TransactionNotFound()
    return transaction_out(tx)


STATEMENT_MAX_ROWS = 100_000
STATEMENT_COLUMNS = (
    "seq",
    "transaction_id",
    "created_at",
    "kind",
    "reference_type",
    "reference_id",
    "actor",
    "amount",
    "balance",
)


async def statement_csv(
    session: AsyncSession,
    *,
    staff: StaffContext,
    account_id: uuid.UUID,
    since: datetime | None,
    until: datetime | None,
) -> str:
    """The account's postings in ledger order with a running balance, as CSV; the first
    row carries the opening balance at `since`."""
    require_center_admin(staff)
    account = await _staff_account(session, staff, account_id)
    opening = (
        0
        if since is None
        else await repo.balance_before(session, account_id=account.id, since=since)
    )
    rows = await repo.statement_rows(
        session, account_id=account.id, since=since, until=until, limit=STATEMENT_MAX_ROWS + 1
    )
    if len(rows) > STATEMENT_MAX_ROWS:
        raise StatementTooLarge(f"More than {STATEMENT_MAX_ROWS} postings; narrow since/until")
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(STATEMENT_COLUMNS)
    opened_at = since.isoformat() if since else ""
    writer.writerow(["", "", opened_at, "opening_balance", "", "", "", 0, opening])
    balance = opening
    for posting, tx in rows:
        balance += posting.amount
        writer.writerow(
            [
                tx.seq,
                tx.id,
                tx.created_at.isoformat(),
                tx.kind,
                _csv_safe(tx.reference_type),
                _csv_safe(tx.reference_id),
                _csv_safe(tx.actor),
                posting.amount,
                balance,
            ]
        )
    return out.getvalue()


def _csv_safe(value: str) -> str:
    """Neutralise cells a spreadsheet would run as a formula."""
    return "'" + value if value[:1] in ("=", "+", "-", "@", "\t", "\r") else value


async def adjustment_accounts(
    session: AsyncSession,
    *,
    region_id: uuid.UUID,
    debit_account_id: uuid.UUID,
    credit_account_id: uuid.UUID,
) -> tuple[Account, Account]:
    """The two accounts of an adjustment, checked: distinct, of the region, not two wallets."""
    if debit_account_id == credit_account_id:
        raise InvalidPostings("The debit and the credit account must differ")
    accounts = await repo.accounts_by_id(session, (debit_account_id, credit_account_id))
    debit = accounts.get(debit_account_id)
    credit_to = accounts.get(credit_account_id)
    if (
        debit is None
        or credit_to is None
        or debit.region_id != region_id
        or credit_to.region_id != region_id
    ):
        raise AccountNotFound("Both accounts must exist in your region")
    if debit.kind == AccountKind.wallet and credit_to.kind == AccountKind.wallet:
        raise AccountKindNotAllowed("An adjustment cannot move 良票 between two wallets")
    return debit, credit_to


async def post_adjustment(
    session: AsyncSession,
    *,
    debit: Account,
    credit_to: Account,
    amount: int,
    reference_id: str,
    actor: str,
    metadata: dict[str, Any],
    transaction_id: uuid.UUID | None = None,
) -> schemas.Transaction:
    """Post a correction between two accounts read by `adjustment_accounts`.

    A wallet on either side goes through its lots (a debit draws them, a credit makes
    a new one); the actor and the reason stay in the transaction. Who may adjust, and
    when a second person must agree, is `app.rewards.adjustments`' to decide."""
    entry = Entry(
        region_id=debit.region_id,
        kind=TxKind.adjust,
        reference_type=ADJUSTMENT_REFERENCE,
        reference_id=reference_id,
        actor=actor,
        metadata=metadata,
        transaction_id=transaction_id,
    )
    if debit.kind == AccountKind.wallet:
        spent = await spend(
            session, entry, volunteer_id=debit.owner_id, to_account_id=credit_to.id, amount=amount
        )
        tx = spent.transaction
    elif credit_to.kind == AccountKind.wallet:
        tx = await credit_wallet(
            session,
            entry,
            volunteer_id=credit_to.owner_id,
            source_id=debit.id,
            amount=amount,
            expires_at=None,
        )
    else:
        tx = await post_transfer(session, entry, [(debit.id, -amount), (credit_to.id, amount)])
    return transaction_out(tx)


async def reverse_for_staff(
    session: AsyncSession,
    *,
    staff: StaffContext,
    transaction_id: uuid.UUID,
    data: schemas.ReversalCreate,
) -> schemas.Transaction:
    require_center_admin(staff)
    tx = await reverse_transaction(
        session,
        transaction_id=transaction_id,
        region_id=staff.region_id,
        amount=data.amount,
        actor=staff.scope_key,
        metadata={"reason": data.reason, "reversed_by": str(staff.id)},
    )
    return transaction_out(tx)
