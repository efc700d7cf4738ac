"""Problems raised by the WeChat channel of `app.notifications`."""

from __future__ import annotations

from app.core.errors import AppError


class TemplateFieldInvalid(AppError):
    status, code, title = (
        422,
        "notification_template_field_invalid",
        "A template field is not a WeChat field type fed by one of the kind's data fields",
    )


class TemplateIdTaken(AppError):
    status, code, title = (
        409,
        "notification_template_id_taken",
        "The region already uses this WeChat template for another kind",
    )


class TemplateNotConfigured(AppError):
    status, code, title = (
        422,
        "notification_template_not_configured",
        "A template id reported is not one of the region's (GET /v1/me/notification-consents)",
    )
