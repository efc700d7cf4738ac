"""Problems raised by `app.integrations`."""

from app.core.errors import AppError


class OutboxAdminRequired(AppError):
    status, code, title = (
        403,
        "outbox_admin_required",
        "Only the region's center admins may see or retry its dead-lettered events",
    )


class OutboxEventNotFound(AppError):
    status, code, title = 404, "outbox_event_not_found", "The event does not exist"
