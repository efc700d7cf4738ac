"""Outbox consumers of `app.notifications`: the events that tell someone something.

Each handler runs in the outbox worker's transaction and calls `notify` with the
event's id as the key, so an event delivered twice, or by two workers, tells each
person once.
"""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from app.integrations import outbox
from app.integrations.models import OutboxEvent
from app.notifications import repository
from app.notifications.kinds import NotificationKind
from app.notifications.service import notify


def _hours(minutes: int) -> str:
    return f"{minutes / 60:.1f}".rstrip("0").rstrip(".")


async def _tell(
    session: AsyncSession,
    event: OutboxEvent,
    volunteer_ids: list[uuid.UUID],
    kind: NotificationKind,
    title: str,
    body: str,
    data: dict[str, Any],
) -> None:
    await notify(
        session,
        region_id=event.region_id,
        volunteer_ids=volunteer_ids,
        kind=kind,
        key=f"event:{event.id}",
        title=title,
        body=body,
        data=data,
    )


async def on_hours_approved(session: AsyncSession, event: OutboxEvent) -> None:
    p = event.payload
    title = await repository.activity_title(session, uuid.UUID(p["activity_id"]))
    corrected = p.get("supersedes_id") is not None
    hours = _hours(p["minutes"])
    await _tell(
        session,
        event,
        [uuid.UUID(p["volunteer_id"])],
        NotificationKind.hours_corrected if corrected else NotificationKind.hours_approved,
        "工时已更正" if corrected else "工时已确认",
        f"「{title}」的服务时长{'更正为' if corrected else '已确认：'}{hours} 小时",
        {
            "hours_record_id": p["hours_record_id"],
            "activity_id": p["activity_id"],
            "activity_title": title,
            "hours": hours,
            "service_date": p["service_date"],
        },
    )


async def on_hours_rejected(session: AsyncSession, event: OutboxEvent) -> None:
    p = event.payload
    title = await repository.activity_title(session, uuid.UUID(p["activity_id"]))
    reason = p.get("reason") or ""
    await _tell(
        session,
        event,
        [uuid.UUID(p["volunteer_id"])],
        NotificationKind.hours_rejected,
        "工时未通过",
        f"「{title}」的服务时长未通过审核" + (f"：{reason}" if reason else ""),
        {
            "hours_record_id": p["hours_record_id"],
            "activity_id": p["activity_id"],
            "activity_title": title,
            "hours": _hours(p["minutes"]),
            "reason": reason,
        },
    )


async def on_correction_refused(session: AsyncSession, event: OutboxEvent) -> None:
    p = event.payload
    title = await repository.activity_title(session, uuid.UUID(p["activity_id"]))
    reason = p.get("reason") or ""
    await _tell(
        session,
        event,
        [uuid.UUID(p["volunteer_id"])],
        NotificationKind.correction_refused,
        "工时更正未通过",
        f"「{title}」的工时更正申请未通过" + (f"：{reason}" if reason else ""),
        {
            "hours_record_id": p["hours_record_id"],
            "activity_id": p["activity_id"],
            "activity_title": title,
            "reason": reason,
        },
    )


async def on_rewards_issued(session: AsyncSession, event: OutboxEvent) -> None:
    p = event.payload
    activity = p.get("activity_id")
    title = await repository.activity_title(session, uuid.UUID(activity)) if activity else ""
    reason = f"参加「{title}」" if title else "志愿服务"
    await _tell(
        session,
        event,
        [uuid.UUID(p["volunteer_id"])],
        NotificationKind.rewards_received,
        "文明良票到账",
        f"{reason}获得 {p['amount']} 良票",
        {
            "amount": p["amount"],
            "reason": reason,
            "balance_hint": "在“我的良票”查看余额",
            "received_at": p["issued_at"],
        },
    )


async def on_redemption(session: AsyncSession, event: OutboxEvent) -> None:
    p = event.payload
    merchant = await repository.merchant_name(session, uuid.UUID(p["merchant_id"]))
    common = {"redemption_id": p["redemption_id"], "merchant_name": merchant, "amount": p["amount"]}
    if event.topic == "redemption.succeeded":
        kind, title = NotificationKind.redemption_receipt, "良票兑换成功"
        body = f"在{merchant}兑换 {p['amount']} 良票，单号 {p['request_no']}"
        data = {**common, "request_no": p["request_no"], "redeemed_at": p["created_at"]}
    elif event.topic == "redemption.voided":
        kind, title = NotificationKind.redemption_voided, "兑换已撤销"
        body = f"{merchant}撤销了单号 {p['request_no']} 的兑换，{p['amount']} 良票已退回"
        data = {**common, "request_no": p["request_no"], "voided_at": p["voided_at"]}
    else:
        kind, title = NotificationKind.redemption_refunded, "兑换已退款"
        body = f"{merchant}退回 {p['amount']} 良票（退款单号 {p['refund_no']}）"
        data = {**common, "refund_no": p["refund_no"], "refunded_at": p["refunded_at"]}
    await _tell(session, event, [uuid.UUID(p["volunteer_id"])], kind, title, body, data)


async def on_activity_cancelled(session: AsyncSession, event: OutboxEvent) -> None:
    p = event.payload
    activity_id = uuid.UUID(p["activity_id"])
    people = await repository.signed_up(session, activity_id)
    await _tell(
        session,
        event,
        people,
        NotificationKind.activity_cancelled,
        "活动已取消",
        f"您报名的「{p['title']}」已取消：{p['reason']}",
        {
            "activity_id": p["activity_id"],
            "activity_title": p["title"],
            "starts_at": p["starts_at"],
            "reason": p["reason"],
        },
    )


def subscribe_all() -> None:
    outbox.subscribe("hours.approved", on_hours_approved)
    outbox.subscribe("hours.rejected", on_hours_rejected)
    outbox.subscribe("hours.correction_refused", on_correction_refused)
    outbox.subscribe("rewards.issued", on_rewards_issued)
    for topic in ("redemption.succeeded", "redemption.voided", "redemption.refunded"):
        outbox.subscribe(topic, on_redemption)
    outbox.subscribe("activity.cancelled", on_activity_cancelled)
