"""The ledger's SQL, one module per kind of row: accounts (balance changes and
locks), lots (draws, changes, expiry), transactions (inserts and the spend's
one-statement write), holds, and the reads behind the API.

Every use case locks its rows in one fixed order — the wallet first, then the other
accounts by id — so concurrent use cases queue instead of deadlocking. The service
calls these through the package, `repository.<function>`.
"""

from app.ledger.repository.accounts import (
    accounts_by_id,
    change_wallet,
    credit,
    debit,
    debit_wallet_of,
    find_account,
    find_account_id,
    get_account,
    hold_on_wallet_of,
    insert_account,
    lock_accounts,
    lock_wallet_if_free,
    region_timezone,
)
from app.ledger.repository.holds import (
    due_holds,
    hold_by_id,
    insert_hold,
    insert_resolution,
    reservations_of,
    resolution_of,
)
from app.ledger.repository.lots import (
    change_lots,
    due_lots,
    insert_lot,
    insert_lot_entries,
    lot_created_by,
    lot_draws,
    lots_of,
    restorable_lots,
    wallets_with_due_lots,
)
from app.ledger.repository.reads import balance_before, postings_of, statement_rows, wallet_history
from app.ledger.repository.transactions import (
    SpendWrite,
    insert_transaction,
    reversal_of,
    transaction_by_id,
    write_spend,
)

__all__ = [
    "SpendWrite",
    "accounts_by_id",
    "balance_before",
    "change_lots",
    "change_wallet",
    "credit",
    "debit",
    "debit_wallet_of",
    "due_holds",
    "due_lots",
    "find_account",
    "find_account_id",
    "get_account",
    "hold_by_id",
    "hold_on_wallet_of",
    "insert_account",
    "insert_hold",
    "insert_lot",
    "insert_lot_entries",
    "insert_resolution",
    "insert_transaction",
    "lock_accounts",
    "lock_wallet_if_free",
    "lot_created_by",
    "lot_draws",
    "lots_of",
    "postings_of",
    "region_timezone",
    "reservations_of",
    "resolution_of",
    "restorable_lots",
    "reversal_of",
    "statement_rows",
    "transaction_by_id",
    "wallet_history",
    "wallets_with_due_lots",
    "write_spend",
]
