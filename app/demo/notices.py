"""The demo region's WeChat subscribe-message templates (the fake WeChat's own ids) and
the consents its volunteers gave in the mini-program, so that the story's approvals and
良票 reach their phones as well as their inboxes."""

from __future__ import annotations

from datetime import datetime

from app.core.db import Database
from app.demo.timeline import scene, staff, volunteer
from app.notifications.wechat import service as wechat
from app.notifications.wechat.schemas import ConsentReport, TemplatePut

TEMPLATES = {
    "activity.reminder": TemplatePut(
        template_id="tmpl-activity-reminder",
        fields={"thing1": "activity_title", "time2": "starts_at", "thing3": "address"},
        page="pages/activity/detail",
    ),
    "hours.approved": TemplatePut(
        template_id="tmpl-hours-approved",
        fields={"thing1": "activity_title", "number2": "hours", "date3": "service_date"},
        page="pages/me/hours",
    ),
    "rewards.received": TemplatePut(
        template_id="tmpl-rewards-received",
        fields={"amount1": "amount", "thing2": "reason", "time3": "received_at"},
        page="pages/me/wallet",
    ),
    "emergency.callout": TemplatePut(
        template_id="tmpl-emergency-callout",
        fields={"thing1": "muster_point", "thing2": "alert_kind", "time3": "muster_by"},
        page="pages/emergency/alert",
    ),
}
# Who tapped 允许 in wx.requestSubscribeMessage, and for which templates.
CONSENTS = {
    "xiaoming": ["tmpl-hours-approved", "tmpl-rewards-received", "tmpl-activity-reminder"],
    "xiaohong": ["tmpl-hours-approved", "tmpl-rewards-received"],
    "laozhang": ["tmpl-hours-approved", "tmpl-emergency-callout"],
}


async def subscribe(db: Database, when: datetime) -> None:
    async with scene(db, when) as session:
        admin = await staff(session, "admin")
        for kind, template in TEMPLATES.items():
            await wechat.put_template(session, staff=admin, kind=kind, body=template)
    async with scene(db, when) as session:
        for login, template_ids in CONSENTS.items():
            await wechat.report_consents(
                session,
                volunteer=await volunteer(session, login),
                body=ConsentReport(results=dict.fromkeys(template_ids, "accept")),
            )
