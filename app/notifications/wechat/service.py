"""The region's subscribe-message templates (its center admins) and each person's
send credits (the mini-program's report of `wx.requestSubscribeMessage`).

WeChat's one-time subscription allows one message per acceptance: each `accept`
adds a credit for the template, a `reject` or `ban` takes them all, and the sender
spends one per message it sends.
"""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from app.core import clock
from app.identity.principals import StaffContext
from app.notifications.errors import NotificationKindUnknown
from app.notifications.kinds import KINDS, NotificationKind
from app.notifications.models import NotificationTemplate
from app.notifications.wechat import repository, schemas
from app.notifications.wechat.errors import (
    TemplateFieldInvalid,
    TemplateIdTaken,
    TemplateNotConfigured,
)
from app.notifications.wechat.rendering import PERSONAL, field_type
from app.orgs.authz import require_center_admin
from app.volunteers.models import Volunteer


def _kind(kind: str) -> NotificationKind:
    try:
        return NotificationKind(kind)
    except ValueError:
        raise NotificationKindUnknown(f"{kind!r} is not a kind of notification") from None


def _check_fields(kind: NotificationKind, fields: dict[str, str]) -> None:
    offered = KINDS[kind].fields
    for key, source in fields.items():
        typed = field_type(key)
        if typed is None:
            raise TemplateFieldInvalid(
                f"{key!r} is not a WeChat field (a type such as thing, time, number, "
                "followed by its number)",
                field=key,
            )
        if typed in PERSONAL:
            raise TemplateFieldInvalid(
                f"{key!r} would carry a phone number, which no notification sends", field=key
            )
        if source not in offered:
            raise TemplateFieldInvalid(
                f"{source!r} is not a data field of {kind} (it has {', '.join(offered)})",
                field=key,
            )


async def list_templates(session: AsyncSession, *, staff: StaffContext) -> list[schemas.Template]:
    require_center_admin(staff)
    rows = await repository.templates_of_region(session, region_id=staff.region_id)
    return [schemas.Template.model_validate(row) for row in rows]


async def put_template(
    session: AsyncSession, *, staff: StaffContext, kind: str, body: schemas.TemplatePut
) -> schemas.Template:
    require_center_admin(staff)
    known = _kind(kind)
    _check_fields(known, body.fields)
    user = await repository.kind_using(
        session, region_id=staff.region_id, template_id=body.template_id
    )
    if user is not None and user != str(known):
        raise TemplateIdTaken(f"{body.template_id} is the region's template for {user}")
    row = await repository.template_of_kind(session, region_id=staff.region_id, kind=str(known))
    if row is None:
        row = NotificationTemplate(region_id=staff.region_id, kind=str(known))
        session.add(row)
    row.template_id = body.template_id
    row.fields = dict(body.fields)
    row.page = body.page
    row.created_by = staff.id
    row.updated_at = clock.now()
    await session.flush()
    return schemas.Template.model_validate(row)


async def delete_template(session: AsyncSession, *, staff: StaffContext, kind: str) -> None:
    """The kind is no longer pushed to WeChat in the region; its inbox rows go on."""
    require_center_admin(staff)
    await repository.delete_template(session, region_id=staff.region_id, kind=str(_kind(kind)))


async def consents(session: AsyncSession, *, volunteer: Volunteer) -> schemas.Consents:
    rows = await repository.consents_of(
        session, volunteer_id=volunteer.id, region_id=volunteer.region_id
    )
    return schemas.Consents(
        items=[
            schemas.Consent(
                kind=NotificationKind(kind), template_id=template_id, credits=credits or 0
            )
            for kind, template_id, credits in rows
        ]
    )


async def report_consents(
    session: AsyncSession, *, volunteer: Volunteer, body: schemas.ConsentReport
) -> schemas.Consents:
    configured = await repository.configured_ids(
        session, region_id=volunteer.region_id, template_ids=body.results.keys()
    )
    unknown = sorted(set(body.results) - configured)
    if unknown:
        raise TemplateNotConfigured(
            f"not templates of the region: {', '.join(unknown)}", template_ids=unknown
        )
    now = clock.now()
    for template_id, result in sorted(body.results.items()):
        if result == "accept":
            await repository.add_credit(
                session,
                volunteer_id=volunteer.id,
                region_id=volunteer.region_id,
                template_id=template_id,
                now=now,
            )
        elif result in ("reject", "ban"):
            await repository.clear_credits(
                session,
                volunteer_id=volunteer.id,
                region_id=volunteer.region_id,
                template_id=template_id,
                now=now,
            )
    return await consents(session, volunteer=volunteer)
