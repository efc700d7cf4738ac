"""Problems raised by `app.integrations`."""

from app.core.errors import AppError


class OutboxEventNotFound(AppError):
    status, code, title = 404, "outbox_event_not_found", "The event does not exist"
