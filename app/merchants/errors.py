"""Problems raised by `app.merchants`.

A redemption refused for a business reason is recorded, so that the terminal
can later ask what became of its request number: those refusals subclass
`RedemptionRefusal`, whose `commit = True` keeps the record and the code's use
(once resolved to a volunteer, a code is spent, refused or not); the stock, the
usage counts and the 良票 are untouched. No refusal a terminal sees carries the
volunteer's balance or standing: a terminal that could read them could probe a
wallet and then drain it exactly.

Other refusals of a terminal's request that come before anything is written
subclass `TerminalRefusal`: committing them keeps the request's nonce spent, so
that a captured request cannot be replayed later, when it might succeed.
"""

from __future__ import annotations

from app.core.errors import AUTH_ERRORS, AppError


# Merchants and their staff
class MerchantNotFound(AppError):
    status, code, title = 404, "merchant_not_found", "The merchant does not exist"


class NotMerchantManager(AppError):
    status, code, title = (
        403,
        "not_merchant_manager",
        "Only admins of the region's center or of a paired station manage this merchant",
    )


class NotMerchantMember(AppError):
    status, code, title = 403, "not_merchant_member", "You are not staff of this merchant"


class MerchantOwnerRequired(AppError):
    status, code, title = 403, "merchant_owner_required", "This needs the merchant's owner"


class MerchantStatusTransitionInvalid(AppError):
    status, code, title = (
        409,
        "merchant_status_transition_invalid",
        "The merchant cannot move to that status from its current one",
    )


class StationInvalid(AppError):
    status, code, title = (
        422,
        "merchant_station_invalid",
        "Merchants pair only with stations of their region",
    )


class MerchantUsernameTaken(AppError):
    status, code, title = 409, "merchant_username_taken", "The username is already taken"


class MerchantStaffNotFound(AppError):
    status, code, title = (
        404,
        "merchant_staff_not_found",
        "The merchant has no such staff account",
    )


class OfferNotFound(AppError):
    status, code, title = 404, "offer_not_found", "The offer does not exist at this merchant"


class OfferLimitIncomplete(AppError):
    status, code, title = (
        422,
        "offer_limit_incomplete",
        "A per-volunteer limit needs both a count and a period",
    )


class OfferDatesInvalid(AppError):
    status, code, title = 422, "offer_dates_invalid", "The offer's validity ends before it starts"


class LocationRequired(AppError):
    status, code, title = (
        422,
        "location_incomplete",
        "Sorting by distance needs both latitude and longitude",
    )


# Terminals and signed requests
class TerminalNotFound(AppError):
    status, code, title = 404, "terminal_not_found", "The terminal does not exist at this merchant"


class TerminalStatusTransitionInvalid(AppError):
    status, code, title = (
        409,
        "terminal_status_transition_invalid",
        "The terminal cannot move to that status from its current one",
    )


class PublicKeyInvalid(AppError):
    status, code, title = (
        422,
        "terminal_public_key_invalid",
        "The public key is not a base64 raw 32-byte Ed25519 key",
    )


class SignatureMissing(AppError):
    status, code, title = (
        401,
        "signature_missing",
        "Terminal requests need Signature-Input, Signature and Content-Digest headers",
    )


class SignatureMalformed(AppError):
    status, code, title = (
        401,
        "signature_malformed",
        "The signature headers do not follow the terminal signing profile",
    )


class SignatureInvalid(AppError):
    """The terminal's key does not verify the signature over the request as received.
    Outside production (`dev`, `test`) the problem's `signature_base` holds the exact
    signature base the server verified, to compare with the one the terminal signed."""

    status, code, title = 401, "signature_invalid", "The request signature does not verify"


class ContentDigestMismatch(AppError):
    status, code, title = (
        401,
        "content_digest_mismatch",
        "Content-Digest is not the SHA-256 of the body",
    )


class SignatureStale(AppError):
    status, code, title = (
        401,
        "signature_stale",
        "The signature's timestamp is more than 300 s from the server's clock",
    )


class NonceReplayed(AppError):
    status, code, title = 401, "nonce_replayed", "This signature nonce was already used"


class TerminalUnknown(AppError):
    status, code, title = 401, "terminal_unknown", "No terminal has this key id"


class TerminalSuspended(AppError):
    status, code, title = 403, "terminal_suspended", "The terminal is suspended"


class TerminalRevoked(AppError):
    status, code, title = 403, "terminal_revoked", "The terminal was revoked"


# Redemption codes
class OfflineKeyMissing(AppError):
    status, code, title = (
        404,
        "offline_code_key_missing",
        "This wallet has no offline code secret; provision one first",
    )


class CodeOfferNotFound(AppError):
    status, code, title = (
        404,
        "code_offer_not_found",
        "No offer of your region has this id",
    )


class RedemptionRefusal(AppError):
    """A business refusal of a redemption, recorded under its request number."""

    commit = True


class MerchantNotActive(RedemptionRefusal):
    status, code, title = 403, "merchant_not_active", "The merchant is not active yet"


class MerchantSuspended(RedemptionRefusal):
    status, code, title = 403, "merchant_suspended", "The merchant is suspended"


class CodeMalformed(RedemptionRefusal):
    status, code, title = (
        422,
        "code_malformed",
        "A redemption code is 18 digits starting with 88 (online) or 89 (offline)",
    )


class CodeUnknown(RedemptionRefusal):
    status, code, title = 422, "code_unknown", "No wallet issued this redemption code"


class CodeExpired(RedemptionRefusal):
    status, code, title = 422, "code_expired", "The redemption code has expired"


class CodeUsed(RedemptionRefusal):
    status, code, title = 409, "code_used", "The redemption code was already used"


class CodeRetired(RedemptionRefusal):
    status, code, title = (
        422,
        "code_retired",
        "The volunteer has created a newer redemption code since",
    )


class CodeOtherRegion(RedemptionRefusal):
    status, code, title = (
        422,
        "code_other_region",
        "The code belongs to a volunteer of another region",
    )


class CodeLimitExceeded(RedemptionRefusal):
    status, code, title = (
        409,
        "code_limit_exceeded",
        "The amount is more than the volunteer allowed this code to pay; "
        "the volunteer makes a new code",
    )


class CodeOfferMismatch(RedemptionRefusal):
    status, code, title = (
        422,
        "code_offer_mismatch",
        "The volunteer made this code for another offer; the volunteer makes a new code",
    )


# Offers at redemption
class OfferInactive(RedemptionRefusal):
    status, code, title = 409, "offer_inactive", "The offer has been withdrawn"


class OfferNotValidToday(RedemptionRefusal):
    status, code, title = 409, "offer_not_valid_today", "Today is outside the offer's dates"


class OfferOutOfStock(RedemptionRefusal):
    status, code, title = 409, "offer_out_of_stock", "The offer is out of stock"


class OfferLimitReached(RedemptionRefusal):
    status, code, title = (
        409,
        "offer_limit_reached",
        "The volunteer has reached this offer's limit for the period",
    )


class StarLevelTooLow(RedemptionRefusal):
    status, code, title = (
        403,
        "star_level_too_low",
        "The offer needs a higher star level than the volunteer has",
    )


class OfferUnavailable(RedemptionRefusal):
    status, code, title = (
        404,
        "redemption_offer_not_found",
        "The offer does not exist at this terminal's merchant",
    )


# Redemptions, voids and refunds
class TerminalRefusal(AppError):
    """Refused before any write: the unit of work commits only the spent nonce."""

    commit = True


class RequestNoReused(TerminalRefusal):
    status, code, title = (
        422,
        "request_no_reused",
        "This request_no was used for a different redemption; use a new one",
    )


class RedemptionNotFound(TerminalRefusal):
    status, code, title = 404, "redemption_not_found", "No redemption has this number or id"


class RedemptionNotSucceeded(TerminalRefusal):
    status, code, title = (
        409,
        "redemption_not_succeeded",
        "Only a succeeded redemption can be voided or refunded",
    )


class VoidWindowClosed(TerminalRefusal):
    status, code, title = (
        409,
        "void_window_closed",
        "A redemption can be voided only on its business day (region time); refund it instead",
    )


class RedemptionAlreadyRefunded(TerminalRefusal):
    status, code, title = (
        409,
        "redemption_already_refunded",
        "A partly refunded redemption cannot be voided; refund the rest instead",
    )


class RefundWindowClosed(AppError):
    status, code, title = (
        403,
        "refund_window_closed",
        "The merchant's refund window has passed; region staff can still refund",
    )


class RefundNoReused(AppError):
    status, code, title = (
        422,
        "refund_no_reused",
        "This refund_no was used for a different amount",
    )


# Statements and settlement
class StatementNotReady(AppError):
    status, code, title = (
        409,
        "statement_not_ready",
        "That day has not begun yet in the region's time zone",
    )


class SettlementPeriodOpen(AppError):
    status, code, title = (
        409,
        "settlement_period_open",
        "A month can be settled once it has ended (region time)",
    )


# Reservations for pick-up
class ReservationNotFound(TerminalRefusal):
    status, code, title = 404, "reservation_not_found", "No open reservation has this id or code"


class ReservationNotHeld(TerminalRefusal):
    status, code, title = (
        409,
        "reservation_not_held",
        "The reservation was already picked up, cancelled or timed out",
    )


class ReservationExpired(TerminalRefusal):
    status, code, title = (
        409,
        "reservation_expired",
        "The reservation timed out: its 良票 are released and the item back in stock",
    )


# Acting on one merchant: its managers, or its own staff.
ON_MERCHANT = (*AUTH_ERRORS, MerchantNotFound, NotMerchantManager, NotMerchantMember)
ON_MERCHANT_AS_OWNER = (*ON_MERCHANT, MerchantOwnerRequired)
