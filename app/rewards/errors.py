"""Problems raised by `app.rewards` and by the ledger's proof and digest routes it serves."""

from app.core.errors import AppError


class TransactionNotSealed(AppError):
    status, code, title = (
        409,
        "ledger_transaction_not_sealed",
        "The transaction is not sealed into a block yet; retry shortly",
    )


class NoSealedBlock(AppError):
    status, code, title = 404, "ledger_digest_not_found", "No block of this region is sealed yet"


class ProofForbidden(AppError):
    status, code, title = (
        403,
        "ledger_proof_forbidden",
        "Only the region's staff or the wallet's owner may read this proof",
    )


class BudgetExhausted(AppError):
    status, code, title = (
        409,
        "budget_exhausted",
        "The region's yearly issuance budget has no room for this",
    )
