"""Problems raised by `app.clients`, and OAuth's own errors of the token endpoint.

The registry's refusals are problem+json like every other route's. The token and
revocation endpoints answer RFC 6749 §5.2's JSON (`{"error": ..., "error_description":
...}`) instead, because that is what every OAuth client library reads.
"""

from __future__ import annotations

from typing import ClassVar

from app.core.errors import AppError


class ClientAdminRequired(AppError):
    status, code, title = (
        403,
        "client_admin_required",
        "Only the region's center admins manage its OAuth clients",
    )


class ClientNotFound(AppError):
    status, code, title = 404, "client_not_found", "The client does not exist"


class ClientSecretNotFound(AppError):
    status, code, title = 404, "client_secret_not_found", "The secret does not exist"


class ClientScopeUnknown(AppError):
    status, code, title = 422, "client_scope_unknown", "A scope named is not one the API defines"


class ClientSecretLimit(AppError):
    status, code, title = (
        409,
        "client_secret_limit",
        "The client already has two live secrets: retire the old one first",
    )


class ClientLastSecret(AppError):
    status, code, title = (
        409,
        "client_last_secret",
        "The client's only secret cannot be retired: add its successor first",
    )


class ClientRevoked(AppError):
    status, code, title = 409, "client_revoked", "A revoked client cannot be changed"


class ClientUsesKey(AppError):
    status, code, title = (
        409,
        "client_uses_key",
        "The client authenticates with its key (private_key_jwt): it has no secrets",
    )


class ClientKeyInvalid(AppError):
    status, code, title = (
        422,
        "client_key_invalid",
        "The key is not a public EC P-256 (ES256) or RSA (RS256) JWK",
    )


class OAuthError(Exception):
    """An RFC 6749 §5.2 error response of the token or revocation endpoint."""

    error: ClassVar[str]
    status: ClassVar[int] = 400

    def __init__(self, description: str) -> None:
        super().__init__(description)
        self.description = description


class InvalidRequest(OAuthError):
    error = "invalid_request"


class InvalidClient(OAuthError):
    error = "invalid_client"
    status = 401


class InvalidGrant(OAuthError):
    error = "invalid_grant"


class UnauthorizedClient(OAuthError):
    error = "unauthorized_client"


class UnsupportedGrantType(OAuthError):
    error = "unsupported_grant_type"


class InvalidScope(OAuthError):
    error = "invalid_scope"


class UnsupportedTokenType(OAuthError):
    error = "unsupported_token_type"
