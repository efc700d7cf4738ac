"""Problems raised by `app.identity`: WeChat's refusals, logins and refresh tokens."""

from __future__ import annotations

from app.core.errors import AppError, Unauthorized


class WeChatCodeInvalid(Unauthorized):
    code, title = "wechat_code_invalid", "The WeChat login code is invalid, expired or used"


class WeChatPhoneCodeInvalid(AppError):
    # 422, not 401: the caller's own token is fine, only the phone code is stale.
    status, code, title = (
        422,
        "wechat_phone_code_invalid",
        "The WeChat phone-number code is invalid, expired or used",
    )


class WeChatRateLimited(AppError):
    """WeChat's quota (errcode 45011) is the service's, not the caller's: 503 with
    `Retry-After`, as the service is briefly unable, never the 429 that tells a caller it
    sent too much."""

    status, code, title = 503, "wechat_rate_limited", "WeChat is limiting requests; retry later"


class WeChatBusy(AppError):
    status, code, title = 503, "wechat_busy", "WeChat is busy; retry shortly"


class WeChatUserBlocked(AppError):
    status, code, title = 403, "wechat_user_blocked", "WeChat has blocked this user"


class WeChatError(AppError):
    status, code, title = 502, "wechat_error", "WeChat refused the request"


class WeChatUnreachable(AppError):
    status, code, title = 503, "wechat_unreachable", "WeChat could not be reached; retry shortly"


class RegionCodeRequired(AppError):
    status, code, title = (
        422,
        "region_code_required",
        "Several regions run this service; say which one with `region_code`",
    )


class RegionCodeUnknown(AppError):
    status, code, title = 422, "region_code_unknown", "No region has this code"


# A failed login is counted in its own transaction, committed before the password is
# checked (app/identity/throttle.py): these refusals have nothing left to commit.
class InvalidCredentials(Unauthorized):
    code, title = "invalid_credentials", "The username or password is wrong"


class AccountLocked(AppError):
    status, code, title = (
        429,
        "account_locked",
        "Too many failed logins from this address; wait before trying again",
    )


class RefreshTokenInvalid(Unauthorized):
    code, title = "refresh_token_invalid", "The refresh token is not valid"


class RefreshTokenExpired(Unauthorized):
    code, title = "refresh_token_expired", "The refresh token has expired; log in again"


class RefreshFamilyExpired(Unauthorized):
    code, title = (
        "refresh_family_expired",
        "The login is older than a refresh token may keep it alive; log in again",
    )


class RefreshTokenRevoked(Unauthorized):
    code, title = "refresh_token_revoked", "The refresh token was revoked; log in again"


class RefreshTokenReused(Unauthorized):
    code, title = (
        "refresh_token_reused",
        "The refresh token was already used; every session of this login is revoked",
    )
    # Revoking the family is the point of the refusal: it must commit.
    commit = True


class UsernameTaken(AppError):
    status, code, title = 409, "username_taken", "The username is already in use"
