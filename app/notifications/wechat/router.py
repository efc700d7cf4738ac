"""HTTP routes of the WeChat channel: the region's subscribe-message templates (center
admins), and the signed-in volunteer's send credits."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response, status
from fastapi.responses import JSONResponse

from app.core.db import SessionDep
from app.core.errors import AUTH_ERRORS, BODY_ERRORS, error_responses
from app.core.idempotency import OPTIONAL_IDEMPOTENCY_ERRORS, IdempotencyKeyHeader, idempotent
from app.core.routing import QueryCheckedRoute
from app.identity.principals import CurrentStaff, CurrentVolunteer
from app.notifications.errors import NotificationKindUnknown
from app.notifications.wechat import schemas, service
from app.notifications.wechat.errors import (
    TemplateFieldInvalid,
    TemplateIdTaken,
    TemplateNotConfigured,
)
from app.orgs.errors import CenterAdminRequired

router = APIRouter(prefix="/v1", route_class=QueryCheckedRoute)


@router.get(
    "/notification-templates",
    tags=["notifications"],
    summary="The region's WeChat subscribe-message templates, by kind (center admins)",
    responses=error_responses(*AUTH_ERRORS, CenterAdminRequired),
)
async def list_notification_templates(
    session: SessionDep, staff: CurrentStaff
) -> list[schemas.Template]:
    return await service.list_templates(session, staff=staff)


@router.put(
    "/notification-templates/{kind}",
    tags=["notifications"],
    summary="Set the region's WeChat template for a kind, and what feeds each field",
    description="Each field's key is its WeChat type and number (`thing1`, `time2`), its "
    "value one of the kind's data fields (`GET /v1/notification-kinds`). Values are "
    "checked against the type's limits before each send: a `thing` longer than 20 "
    "characters is cut with an ellipsis, anything else out of bounds is not sent.",
    responses=error_responses(
        *AUTH_ERRORS,
        *BODY_ERRORS,
        CenterAdminRequired,
        NotificationKindUnknown,
        TemplateFieldInvalid,
        TemplateIdTaken,
    ),
)
async def put_notification_template(
    kind: str, body: schemas.TemplatePut, session: SessionDep, staff: CurrentStaff
) -> schemas.Template:
    return await service.put_template(session, staff=staff, kind=kind, body=body)


@router.delete(
    "/notification-templates/{kind}",
    tags=["notifications"],
    summary="Stop pushing a kind to WeChat in the region (the inbox keeps it)",
    description="Removing a template the region does not have changes nothing.",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=error_responses(*AUTH_ERRORS, CenterAdminRequired, NotificationKindUnknown),
)
async def delete_notification_template(
    kind: str, session: SessionDep, staff: CurrentStaff
) -> Response:
    await service.delete_template(session, staff=staff, kind=kind)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get(
    "/me/notification-consents",
    tags=["notifications"],
    summary="The region's WeChat templates, with the messages of each the caller allows",
    description="The template ids to ask for in `wx.requestSubscribeMessage`.",
    responses=error_responses(*AUTH_ERRORS),
)
async def get_my_notification_consents(
    session: SessionDep, volunteer: CurrentVolunteer
) -> schemas.Consents:
    return await service.consents(session, volunteer=volunteer)


@router.post(
    "/me/notification-consents",
    tags=["notifications"],
    summary="Report what the caller answered to `wx.requestSubscribeMessage`",
    description="Each `accept` allows one more message of its template (WeChat's "
    "one-time subscription); `reject` and `ban` allow none. A retry with the same "
    "Idempotency-Key counts once.",
    responses=error_responses(
        *AUTH_ERRORS, *BODY_ERRORS, *OPTIONAL_IDEMPOTENCY_ERRORS, TemplateNotConfigured
    ),
    response_model=schemas.Consents,
)
async def report_my_notification_consents(
    body: schemas.ConsentReport,
    request: Request,
    session: SessionDep,
    volunteer: CurrentVolunteer,
    idempotency_key: IdempotencyKeyHeader = None,
) -> JSONResponse:
    return await idempotent(
        session,
        request,
        scope=f"volunteer:{volunteer.id}",
        key=idempotency_key,
        payload=body,
        status_code=status.HTTP_200_OK,
        run=lambda: service.report_consents(session, volunteer=volunteer, body=body),
        required=False,
    )
