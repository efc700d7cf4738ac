"""HTTP routes of `app.webhooks`: the event catalogue (public) and a client's endpoints,
their messages and delivery log (OAuth clients with `webhooks:manage`)."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Query, Request, status
from fastapi.responses import JSONResponse

from app.core.config import Settings
from app.core.db import SessionDep
from app.core.errors import AUTH_ERRORS, BODY_ERRORS, InvalidCursor, error_responses
from app.core.idempotency import OPTIONAL_IDEMPOTENCY_ERRORS, IdempotencyKeyHeader, idempotent
from app.core.pagination import Page, PageDep
from app.core.routing import QueryCheckedRoute
from app.identity.principals import CurrentClient
from app.identity.scopes import client_scope
from app.webhooks import schemas, service
from app.webhooks.errors import (
    WebhookEndpointDisabled,
    WebhookEndpointLimit,
    WebhookEndpointNotFound,
    WebhookEventTypeNotAllowed,
    WebhookEventTypeUnknown,
    WebhookMessageNotFound,
    WebhookUrlRefused,
)
from app.webhooks.models import MessageStatus

router = APIRouter(prefix="/v1", route_class=QueryCheckedRoute)

MANAGE = "webhooks:manage"
_ONE = (*AUTH_ERRORS, WebhookEndpointNotFound)
_CHOICES = (WebhookUrlRefused, WebhookEventTypeUnknown, WebhookEventTypeNotAllowed)
_SHOWN_ONCE = (
    "With an `Idempotency-Key`, a retry answers what the first request made, without the "
    "secret: it is shown once and never stored in the clear."
)


def _settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


@router.get(
    "/webhook-events",
    tags=["webhooks"],
    summary="The catalogue of webhook event types, with each payload's JSON Schema",
)
async def list_webhook_events() -> list[schemas.EventTypeOut]:
    return service.event_types()


@router.post(
    "/webhook-endpoints",
    tags=["webhooks"],
    summary="Add a webhook endpoint of your client; its signing secret is shown once",
    description=_SHOWN_ONCE,
    status_code=status.HTTP_201_CREATED,
    response_model=schemas.EndpointCreated,
    responses=error_responses(
        *AUTH_ERRORS, *BODY_ERRORS, *OPTIONAL_IDEMPOTENCY_ERRORS, *_CHOICES, WebhookEndpointLimit
    ),
)
@client_scope(MANAGE)
async def create_webhook_endpoint(
    data: schemas.EndpointCreate,
    request: Request,
    session: SessionDep,
    client: CurrentClient,
    idempotency_key: IdempotencyKeyHeader = None,
) -> JSONResponse:
    return await idempotent(
        session,
        request,
        scope=client.scope_key,
        key=idempotency_key,
        payload=data,
        status_code=status.HTTP_201_CREATED,
        run=lambda: service.create_endpoint(
            session, client=client, data=data, settings=_settings(request)
        ),
        required=False,
        kept=lambda stored: {**stored, "secret": None},
    )


@router.get(
    "/webhook-endpoints",
    tags=["webhooks"],
    summary="List your client's webhook endpoints",
    responses=error_responses(*AUTH_ERRORS, InvalidCursor),
)
@client_scope(MANAGE)
async def list_webhook_endpoints(
    session: SessionDep, client: CurrentClient, page: PageDep
) -> Page[schemas.Endpoint]:
    return await service.list_endpoints(session, client=client, page=page)


@router.get(
    "/webhook-endpoints/{endpoint_id}",
    tags=["webhooks"],
    summary="Read a webhook endpoint",
    responses=error_responses(*_ONE),
)
@client_scope(MANAGE)
async def get_webhook_endpoint(
    endpoint_id: uuid.UUID, session: SessionDep, client: CurrentClient
) -> schemas.Endpoint:
    return await service.get_endpoint(session, client=client, endpoint_id=endpoint_id)


@router.patch(
    "/webhook-endpoints/{endpoint_id}",
    tags=["webhooks"],
    summary="Change an endpoint's URL, description or event types, or disable/enable it",
    description="Enabling an endpoint that was disabled for failing starts its count of "
    "failing days again; its pending messages are sent, its failed ones wait for "
    "`recover`.",
    responses=error_responses(*_ONE, *BODY_ERRORS, *_CHOICES),
)
@client_scope(MANAGE)
async def update_webhook_endpoint(
    endpoint_id: uuid.UUID,
    data: schemas.EndpointUpdate,
    request: Request,
    session: SessionDep,
    client: CurrentClient,
) -> schemas.Endpoint:
    return await service.update_endpoint(
        session, client=client, endpoint_id=endpoint_id, data=data, settings=_settings(request)
    )


@router.post(
    "/webhook-endpoints/{endpoint_id}/secret/rotate",
    tags=["webhooks"],
    summary="Rotate the endpoint's signing secret: both sign until the old one expires",
    description="The new secret is shown once. Until `previous_expires_at` (a day by "
    "default) every message carries a signature by each secret, so the receiver can "
    f"switch at its own pace. {_SHOWN_ONCE}",
    response_model=schemas.SecretRotated,
    responses=error_responses(*_ONE, *OPTIONAL_IDEMPOTENCY_ERRORS),
)
@client_scope(MANAGE)
async def rotate_webhook_secret(
    endpoint_id: uuid.UUID,
    request: Request,
    session: SessionDep,
    client: CurrentClient,
    idempotency_key: IdempotencyKeyHeader = None,
) -> JSONResponse:
    return await idempotent(
        session,
        request,
        scope=client.scope_key,
        key=idempotency_key,
        payload={"endpoint_id": str(endpoint_id)},
        status_code=status.HTTP_200_OK,
        run=lambda: service.rotate_secret(
            session, client=client, endpoint_id=endpoint_id, settings=_settings(request)
        ),
        required=False,
        kept=lambda stored: {**stored, "secret": None},
    )


@router.get(
    "/webhook-endpoints/{endpoint_id}/messages",
    tags=["webhooks"],
    summary="The endpoint's messages, newest first, with their delivery status",
    responses=error_responses(*_ONE, InvalidCursor),
)
@client_scope(MANAGE)
async def list_webhook_messages(
    endpoint_id: uuid.UUID,
    session: SessionDep,
    client: CurrentClient,
    page: PageDep,
    status_: Annotated[MessageStatus | None, Query(alias="status")] = None,
) -> Page[schemas.Message]:
    return await service.list_messages(
        session, client=client, endpoint_id=endpoint_id, status=status_, page=page
    )


@router.get(
    "/webhook-endpoints/{endpoint_id}/messages/{message_id}/attempts",
    tags=["webhooks"],
    summary="The delivery log of one message: every attempt, oldest first",
    responses=error_responses(*_ONE, WebhookMessageNotFound, InvalidCursor),
)
@client_scope(MANAGE)
async def list_webhook_attempts(
    endpoint_id: uuid.UUID,
    message_id: uuid.UUID,
    session: SessionDep,
    client: CurrentClient,
    page: PageDep,
) -> Page[schemas.Attempt]:
    return await service.list_attempts(
        session, client=client, endpoint_id=endpoint_id, message_id_=message_id, page=page
    )


@router.post(
    "/webhook-endpoints/{endpoint_id}/messages/{message_id}/retry",
    tags=["webhooks"],
    summary="Send one message again now, with its webhook-id",
    responses=error_responses(*_ONE, WebhookMessageNotFound),
)
@client_scope(MANAGE)
async def retry_webhook_message(
    endpoint_id: uuid.UUID, message_id: uuid.UUID, session: SessionDep, client: CurrentClient
) -> schemas.Message:
    return await service.retry_message(
        session, client=client, endpoint_id=endpoint_id, message_id_=message_id
    )


@router.post(
    "/webhook-endpoints/{endpoint_id}/recover",
    tags=["webhooks"],
    summary="Send again every message that failed since a time",
    responses=error_responses(*_ONE, *BODY_ERRORS),
)
@client_scope(MANAGE)
async def recover_webhook_endpoint(
    endpoint_id: uuid.UUID, data: schemas.Recover, session: SessionDep, client: CurrentClient
) -> schemas.Recovered:
    return await service.recover(session, client=client, endpoint_id=endpoint_id, data=data)


@router.post(
    "/webhook-endpoints/{endpoint_id}/test",
    tags=["webhooks"],
    summary="Send a `ping` message to the endpoint",
    status_code=status.HTTP_202_ACCEPTED,
    responses=error_responses(*_ONE, WebhookEndpointDisabled),
)
@client_scope(MANAGE)
async def test_webhook_endpoint(
    endpoint_id: uuid.UUID, session: SessionDep, client: CurrentClient
) -> schemas.Message:
    return await service.send_test(session, client=client, endpoint_id=endpoint_id)
