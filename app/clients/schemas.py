"""Request and response bodies of `app.clients`: the registry as center admins see it,
and the OAuth endpoints' answers."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any

from pydantic import BaseModel, Field, StringConstraints

from app.clients.models import ClientStatus
from app.core.schemas import RequestSchema

_NO_NUL = r"^[^\x00]*$"
Name = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100, pattern=_NO_NUL)
]
Contact = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200, pattern=_NO_NUL)
]
ScopeName = Annotated[str, StringConstraints(min_length=1, max_length=40)]
Scopes = Annotated[list[ScopeName], Field(max_length=20)]
Jwk = Annotated[
    dict[str, Any],
    Field(description="The client's public key (EC P-256 or RSA), for `private_key_jwt`"),
]


class ClientCreate(RequestSchema):
    name: Name
    contact: Contact = Field(description="Who to call about this client: a name, an email")
    scopes: Scopes = Field(description="The scopes the client may ask for")
    jwk: Jwk | None = Field(
        default=None, description="A public JWK instead of a secret (`private_key_jwt`)"
    )


class ClientUpdate(RequestSchema):
    name: Name | None = None
    contact: Contact | None = None
    scopes: Scopes | None = None
    status: ClientStatus | None = Field(
        default=None, description="`suspended` refuses it until `active` again; `revoked` is final"
    )
    jwk: Jwk | None = None


class SecretOut(BaseModel):
    id: uuid.UUID
    hint: str = Field(description="The secret's last characters, to tell two apart")
    created_at: datetime
    retired_at: datetime | None


class Client(BaseModel):
    client_id: uuid.UUID
    region_id: uuid.UUID
    name: str
    contact: str
    scopes: list[str]
    status: ClientStatus
    auth_method: str = Field(
        description="`client_secret_basic` (or `_post`), or `private_key_jwt` with a key"
    )
    jwk: dict[str, Any] | None
    secrets: list[SecretOut] = Field(description="Live secrets first, then retired ones")
    created_at: datetime
    updated_at: datetime


class NewSecret(BaseModel):
    """A secret, shown this once: only its hash is kept."""

    id: uuid.UUID
    client_secret: str
    hint: str
    created_at: datetime


class ClientCreated(Client):
    client_secret: str | None = Field(
        description="Shown this once (none for a client with a key): only its hash is kept"
    )


class TokenResponse(BaseModel):
    """RFC 6749 §5.1."""

    access_token: str
    token_type: str = "Bearer"  # noqa: S105 - RFC 6750's token type
    expires_in: int
    scope: str


class OAuthErrorBody(BaseModel):
    """RFC 6749 §5.2: the body of every refusal of the token and revocation endpoints."""

    error: str
    error_description: str | None = None
