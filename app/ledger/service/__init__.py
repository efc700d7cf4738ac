"""The ledger's use cases: accounts, issuance, spends, refunds, reversals, holds, expiry.

Other features move 良票 only through the functions this package exports. Each one
writes inside the caller's unit of work (never commits) and keeps the invariants of
DESIGN.md §2: postings sum to zero; a wallet never goes below zero, counting open
holds as spent; every cached balance moves with its postings; a transaction is
reversed at most once; spends draw on a wallet's lots oldest expiry first and never
on an expired lot.

Locks are taken in one order everywhere — the wallet's account row first, then
the other accounts by id — so concurrent use cases wait for each other instead
of deadlocking, and everything that touches a wallet's lots is serialized by that
first lock. A shared account (a merchant's, the region's issuance account) is
changed as late as possible, so that its row lock is held briefly.

The modules, one use case each:

- `transactions`: how any transaction is checked and written (postings that
  balance, a caller-chosen id replayed, the ledger's constraints as refusals);
- `accounts`: accounts created on first use, balances, lot expiry dates;
- `postings`: issuance into a wallet, spends from it, transfers between the
  other accounts;
- `reversals`: refunds and reversals, which give back to the lots a spend drew on;
- `holds`: holds on a wallet, posted, voided or timed out;
- `expiry`: lots past their expiry, moved to the region's expired account;
- `wallet`: what the volunteer sees of their wallet;
- `staff`: the center admins' use cases behind the HTTP API (accounts,
  transactions, statements, adjustments, reversals).
"""

from app.ledger.models import AccountKind, TxKind
from app.ledger.service.accounts import (
    Balance,
    account_balance,
    lot_expiry,
    merchant_account,
    system_account,
    wallet_account,
)
from app.ledger.service.expiry import (
    EXPIRY_ACTOR,
    expire_lots_of_wallet,
    wallets_due_for_expiry,
)
from app.ledger.service.holds import (
    hold_from_wallet,
    holds_due,
    post_hold,
    time_out_hold,
    void_hold,
)
from app.ledger.service.postings import Spend, issue_to_wallet, spend_from_wallet, transfer
from app.ledger.service.reversals import refund_spend, reverse_transaction
from app.ledger.service.staff import (
    account_for_staff,
    adjustment_accounts,
    post_adjustment,
    reverse_for_staff,
    statement_csv,
    transaction_for_staff,
    transaction_out,
)
from app.ledger.service.transactions import MAX_AMOUNT
from app.ledger.service.wallet import (
    LotView,
    NextExpiry,
    WalletSummary,
    my_wallet,
    my_wallet_entries,
    wallet_summary,
)

# The contract other features code against (the ledger's kinds come with it), and
# what the ledger's own routes and jobs call.
__all__ = [
    "EXPIRY_ACTOR",
    "MAX_AMOUNT",
    "AccountKind",
    "Balance",
    "LotView",
    "NextExpiry",
    "Spend",
    "TxKind",
    "WalletSummary",
    "account_balance",
    "account_for_staff",
    "adjustment_accounts",
    "expire_lots_of_wallet",
    "hold_from_wallet",
    "holds_due",
    "issue_to_wallet",
    "lot_expiry",
    "merchant_account",
    "my_wallet",
    "my_wallet_entries",
    "post_adjustment",
    "post_hold",
    "refund_spend",
    "reverse_for_staff",
    "reverse_transaction",
    "spend_from_wallet",
    "statement_csv",
    "system_account",
    "time_out_hold",
    "transaction_for_staff",
    "transaction_out",
    "transfer",
    "void_hold",
    "wallet_account",
    "wallet_summary",
    "wallets_due_for_expiry",
]
