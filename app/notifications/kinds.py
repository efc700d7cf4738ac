"""What a person can be told, and what each kind of notification carries.

A kind's `data` holds the facts the mini-program's page and a WeChat subscribe
message's fields are made of (ids, titles, times, amounts), never an ID number or a
phone. Emergency kinds reach people whatever their preferences and at any hour.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class NotificationKind(StrEnum):
    activity_reminder = "activity.reminder"
    activity_cancelled = "activity.cancelled"
    hours_approved = "hours.approved"
    hours_rejected = "hours.rejected"
    hours_corrected = "hours.corrected"
    correction_refused = "hours.correction_refused"
    rewards_received = "rewards.received"
    rewards_expiring = "rewards.expiring"
    redemption_receipt = "redemption.receipt"
    redemption_voided = "redemption.voided"
    redemption_refunded = "redemption.refunded"
    emergency_callout = "emergency.callout"
    emergency_stood_down = "emergency.stood_down"


@dataclass(frozen=True)
class KindInfo:
    description: str
    # The keys of the kind's `data`, which a region's WeChat template maps to its fields.
    fields: tuple[str, ...]
    emergency: bool = False


KINDS: dict[NotificationKind, KindInfo] = {
    NotificationKind.activity_reminder: KindInfo(
        "An activity the person signed up for starts within the hour",
        ("activity_id", "activity_title", "starts_at", "address"),
    ),
    NotificationKind.activity_cancelled: KindInfo(
        "An activity the person signed up for was cancelled",
        ("activity_id", "activity_title", "starts_at", "reason"),
    ),
    NotificationKind.hours_approved: KindInfo(
        "The person's hours were approved",
        ("hours_record_id", "activity_id", "activity_title", "hours", "service_date"),
    ),
    NotificationKind.hours_rejected: KindInfo(
        "The person's hours were rejected, with the reason",
        ("hours_record_id", "activity_id", "activity_title", "hours", "reason"),
    ),
    NotificationKind.hours_corrected: KindInfo(
        "A correction of the person's hours was accepted: the new record is approved",
        ("hours_record_id", "activity_id", "activity_title", "hours", "service_date"),
    ),
    NotificationKind.correction_refused: KindInfo(
        "A correction the person asked for was refused, with the reason",
        ("hours_record_id", "activity_id", "activity_title", "reason"),
    ),
    NotificationKind.rewards_received: KindInfo(
        "良票 arrived in the person's wallet",
        ("amount", "reason", "balance_hint", "received_at"),
    ),
    NotificationKind.rewards_expiring: KindInfo(
        "Some of the person's 良票 expire within 30 days",
        ("amount", "expires_at"),
    ),
    NotificationKind.redemption_receipt: KindInfo(
        "The person redeemed 良票 at a merchant",
        ("redemption_id", "merchant_name", "amount", "request_no", "redeemed_at"),
    ),
    NotificationKind.redemption_voided: KindInfo(
        "A redemption was voided and its 良票 went back",
        ("redemption_id", "merchant_name", "amount", "request_no", "voided_at"),
    ),
    NotificationKind.redemption_refunded: KindInfo(
        "Part or all of a redemption was refunded",
        ("redemption_id", "merchant_name", "amount", "refund_no", "refunded_at"),
    ),
    NotificationKind.emergency_callout: KindInfo(
        "The person's grid calls its emergency team out",
        ("alert_id", "alert_kind", "drill", "muster_point", "muster_by"),
        emergency=True,
    ),
    NotificationKind.emergency_stood_down: KindInfo(
        "An emergency call-out the person answered was stood down",
        ("alert_id", "alert_kind", "drill", "stood_down_at"),
        emergency=True,
    ),
}

EMERGENCY_KINDS = frozenset(kind for kind, info in KINDS.items() if info.emergency)
