"""Refusals of the ledger, each with its problem code.

A refusal changes nothing: the unit of work rolls back. Running short of 良票 is
a 409 (the request is well-formed; the wallet's state does not allow it now).
"""

from app.core.errors import AppError


class InsufficientBalance(AppError):
    status, code, title = 409, "insufficient_balance", "The account does not hold enough 良票"


class RefundExceedsRemainder(AppError):
    status, code, title = (
        409,
        "refund_exceeds_remainder",
        "The refund is more than what remains unrefunded of the spend",
    )


class AlreadyReversed(AppError):
    status, code, title = 409, "already_reversed", "The transaction has already been reversed"


class ReversalExceedsRemainder(AppError):
    status, code, title = (
        409,
        "reversal_exceeds_remainder",
        "The reversal is more than what remains of the transaction",
    )


class NotReversible(AppError):
    status, code, title = 422, "not_reversible", "This kind of transaction cannot be reversed"


class NotRefundable(AppError):
    status, code, title = 422, "not_refundable", "Only a spend from a wallet can be refunded"


class HoldAlreadyResolved(AppError):
    status, code, title = 409, "hold_already_resolved", "The hold has already been resolved"


class HoldPostExceedsAmount(AppError):
    status, code, title = (
        422,
        "hold_post_exceeds_amount",
        "A hold cannot post more than it holds",
    )


class InvalidAmount(AppError):
    status, code, title = 422, "invalid_amount", "Amounts of 良票 are positive whole numbers"


class InvalidPostings(AppError):
    status, code, title = (
        422,
        "invalid_postings",
        "Postings must name distinct accounts, be non-zero and sum to zero",
    )


class AccountKindNotAllowed(AppError):
    status, code, title = (
        422,
        "account_kind_not_allowed",
        "This kind of account cannot take part in this transaction",
    )


class TransactionIdConflict(AppError):
    status, code, title = (
        409,
        "transaction_id_conflict",
        "A different transaction already has this id",
    )


class AccountNotFound(AppError):
    status, code, title = 404, "ledger_account_not_found", "The ledger account does not exist"


class TransactionNotFound(AppError):
    status, code, title = (
        404,
        "ledger_transaction_not_found",
        "The ledger transaction does not exist",
    )


class HoldNotFound(AppError):
    status, code, title = 404, "hold_not_found", "The hold does not exist"


class StatementTooLarge(AppError):
    status, code, title = (
        422,
        "statement_too_large",
        "The statement has too many rows; ask for a shorter period",
    )


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
