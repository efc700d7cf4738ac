"""HTTP routes of `app.clients`: the registry (`/v1/clients`, center admins), the
token and revocation endpoints (`/v1/oauth/*`) and the server's metadata."""

from __future__ import annotations

import uuid
from typing import Any

from fastapi import APIRouter, Request, status
from fastapi.responses import JSONResponse

from app.clients import oauth, schemas, service
from app.clients.errors import (
    ClientAdminRequired,
    ClientKeyInvalid,
    ClientLastSecret,
    ClientNotFound,
    ClientRevoked,
    ClientScopeUnknown,
    ClientSecretLimit,
    ClientSecretNotFound,
    ClientUsesKey,
    OAuthError,
)
from app.core.db import SessionDep
from app.core.errors import AUTH_ERRORS, BODY_ERRORS, InvalidCursor, error_responses
from app.core.pagination import Page, PageDep
from app.core.ratelimit import Limit, limited
from app.core.routing import QueryCheckedRoute, ignores_unknown_query
from app.core.security import KeyRing
from app.identity.principals import CurrentStaff

router = APIRouter(route_class=QueryCheckedRoute)

_ONE = (*AUTH_ERRORS, ClientAdminRequired, ClientNotFound)
# RFC 6749 §5.1: a token (or a refusal) must never be cached on the way.
_NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}
_OAUTH_ERROR = {"application/json": {"schema": {"$ref": "#/components/schemas/OAuthErrorBody"}}}
_FORM_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            oauth.FORM: {
                "schema": {
                    "type": "object",
                    "properties": {
                        "grant_type": {"type": "string", "enum": ["client_credentials"]},
                        "scope": {"type": "string", "description": "Space-separated scopes"},
                        "client_id": {"type": "string"},
                        "client_secret": {"type": "string"},
                        "client_assertion_type": {"type": "string", "enum": [oauth.JWT_BEARER]},
                        "client_assertion": {"type": "string"},
                    },
                    "required": ["grant_type"],
                }
            }
        },
    }
}
_REVOKE_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            oauth.FORM: {
                "schema": {
                    "type": "object",
                    "properties": {
                        "token": {"type": "string"},
                        "token_type_hint": {"type": "string"},
                        "client_id": {"type": "string"},
                        "client_secret": {"type": "string"},
                        "client_assertion_type": {"type": "string"},
                        "client_assertion": {"type": "string"},
                    },
                    "required": ["token"],
                }
            }
        },
    }
}
_OAUTH_RESPONSES: dict[int | str, dict[str, Any]] = {
    400: {
        "description": "RFC 6749 §5.2 `invalid_request`, `invalid_scope`, "
        "`unsupported_grant_type` (OAuth's JSON, not problem+json)",
        "content": _OAUTH_ERROR,
    },
    401: {
        "description": "RFC 6749 §5.2 `invalid_client`, with `WWW-Authenticate: Basic` "
        "(OAuth's JSON, not problem+json)",
        "content": _OAUTH_ERROR,
    },
}
OAUTH_DESCRIPTION = (
    "The one endpoint family whose refusals are not problem+json: they are RFC 6749 "
    '§5.2\'s JSON, `{"error": ..., "error_description": ...}`, which OAuth client '
    "libraries read. The body is `application/x-www-form-urlencoded`; the client "
    "authenticates with HTTP Basic (`client_secret_basic`), with `client_id` and "
    "`client_secret` in the form (`client_secret_post`), or with a signed assertion "
    "(`private_key_jwt`, RFC 7523) when it registered a key."
)


def _endpoint(request: Request) -> oauth.Endpoint:
    base = str(request.base_url).rstrip("/")
    return oauth.Endpoint(
        issuer=request.app.state.settings.jwt_issuer, token_url=f"{base}/v1/oauth/token"
    )


def _oauth_refusal(error: OAuthError) -> JSONResponse:
    headers = dict(_NO_STORE)
    if error.status == 401:
        headers["WWW-Authenticate"] = 'Basic realm="liangpiao", charset="UTF-8"'
    return JSONResponse(oauth.error_body(error), status_code=error.status, headers=headers)


# The registry


@router.post(
    "/v1/clients",
    tags=["clients"],
    summary="Register an OAuth2 client of your region (center admins); its secret is shown once",
    status_code=status.HTTP_201_CREATED,
    responses=error_responses(
        *AUTH_ERRORS, *BODY_ERRORS, ClientAdminRequired, ClientScopeUnknown, ClientKeyInvalid
    ),
)
async def create_client(
    data: schemas.ClientCreate, session: SessionDep, staff: CurrentStaff
) -> schemas.ClientCreated:
    return await service.register(session, staff=staff, data=data)


@router.get(
    "/v1/clients",
    tags=["clients"],
    summary="List your region's OAuth2 clients (center admins)",
    responses=error_responses(*AUTH_ERRORS, ClientAdminRequired, InvalidCursor),
)
async def list_clients(
    session: SessionDep, staff: CurrentStaff, page: PageDep
) -> Page[schemas.Client]:
    return await service.list_clients(session, staff=staff, page=page)


@router.get(
    "/v1/clients/{client_id}",
    tags=["clients"],
    summary="Read an OAuth2 client (center admins)",
    responses=error_responses(*_ONE),
)
async def get_client(
    client_id: uuid.UUID, session: SessionDep, staff: CurrentStaff
) -> schemas.Client:
    return await service.get_client(session, staff=staff, client_id=client_id)


@router.patch(
    "/v1/clients/{client_id}",
    tags=["clients"],
    summary="Change a client's name, contact, scopes, key or status (center admins)",
    description="`suspended` refuses the client's credentials and tokens until it is "
    "`active` again; `revoked` is final.",
    responses=error_responses(
        *_ONE, *BODY_ERRORS, ClientScopeUnknown, ClientKeyInvalid, ClientRevoked
    ),
)
async def update_client(
    client_id: uuid.UUID, data: schemas.ClientUpdate, session: SessionDep, staff: CurrentStaff
) -> schemas.Client:
    return await service.update_client(session, staff=staff, client_id=client_id, data=data)


@router.post(
    "/v1/clients/{client_id}/secrets",
    tags=["clients"],
    summary="Add a client's next secret, shown once; the old one stays valid until retired",
    status_code=status.HTTP_201_CREATED,
    responses=error_responses(*_ONE, ClientSecretLimit, ClientRevoked, ClientUsesKey),
)
async def add_client_secret(
    client_id: uuid.UUID, session: SessionDep, staff: CurrentStaff
) -> schemas.NewSecret:
    return await service.add_secret(session, staff=staff, client_id=client_id)


@router.post(
    "/v1/clients/{client_id}/secrets/{secret_id}/retire",
    tags=["clients"],
    summary="Retire a client's secret: it stops working at once (center admins)",
    responses=error_responses(*_ONE, ClientSecretNotFound, ClientLastSecret),
)
async def retire_client_secret(
    client_id: uuid.UUID, secret_id: uuid.UUID, session: SessionDep, staff: CurrentStaff
) -> schemas.Client:
    return await service.retire_secret(
        session, staff=staff, client_id=client_id, secret_id=secret_id
    )


# OAuth


@router.post(
    "/v1/oauth/token",
    tags=["oauth"],
    summary="A client's access token: grant_type=client_credentials (RFC 6749 §4.4)",
    description=OAUTH_DESCRIPTION,
    openapi_extra=_FORM_BODY,
    responses=_OAUTH_RESPONSES,
)
@limited(Limit("oauth-token.ip", "ip", "60/minute"))
@ignores_unknown_query
async def oauth_token(request: Request, session: SessionDep) -> schemas.TokenResponse:
    keyring: KeyRing = request.app.state.keyring
    try:
        params = oauth.parse_form(request.headers.get("content-type"), await request.body())
        issued = await oauth.token(
            session,
            keyring=keyring,
            params=params,
            authorization=request.headers.get("authorization"),
            endpoint=_endpoint(request),
        )
    except OAuthError as error:
        return _oauth_refusal(error)  # type: ignore[return-value]
    body = schemas.TokenResponse(
        access_token=issued.access_token, expires_in=issued.expires_in, scope=issued.scope
    )
    return JSONResponse(body.model_dump(), headers=_NO_STORE)  # type: ignore[return-value]


@router.post(
    "/v1/oauth/revoke",
    tags=["oauth"],
    summary="Revoke one of the client's access tokens (RFC 7009)",
    description=OAUTH_DESCRIPTION
    + " The answer is 200 whether or not the token was valid, as RFC 7009 §2.2 says.",
    openapi_extra=_REVOKE_BODY,
    responses={
        200: {"description": "The token is refused from now on, if it was valid"},
        **_OAUTH_RESPONSES,
    },
)
@limited(Limit("oauth-token.ip", "ip", "60/minute"))
@ignores_unknown_query
async def oauth_revoke(request: Request, session: SessionDep) -> dict[str, Any]:
    keyring: KeyRing = request.app.state.keyring
    try:
        params = oauth.parse_form(request.headers.get("content-type"), await request.body())
        await oauth.revoke(
            session,
            keyring=keyring,
            params=params,
            authorization=request.headers.get("authorization"),
            endpoint=_endpoint(request),
        )
    except OAuthError as error:
        return _oauth_refusal(error)  # type: ignore[return-value]
    return {}


@router.get(
    "/.well-known/oauth-authorization-server",
    tags=["oauth"],
    summary="The authorization server's metadata (RFC 8414)",
)
async def oauth_metadata(request: Request) -> dict[str, Any]:
    return oauth.metadata(_endpoint(request), str(request.base_url).rstrip("/"))
