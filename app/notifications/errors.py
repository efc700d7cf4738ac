"""Problems raised by `app.notifications`."""

from __future__ import annotations

from app.core.errors import AppError


class NotificationNotFound(AppError):
    status, code, title = 404, "notification_not_found", "The notification does not exist"


class NotificationKindUnknown(AppError):
    status, code, title = (
        422,
        "notification_kind_unknown",
        "A kind named is not one the service sends (GET /v1/notification-kinds)",
    )


class EmergencyNotMutable(AppError):
    status, code, title = (
        422,
        "notification_kind_not_mutable",
        "Emergency call-outs cannot be muted: they reach every enrolled volunteer",
    )
