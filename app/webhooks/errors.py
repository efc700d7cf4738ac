"""Problems raised by `app.webhooks`."""

from __future__ import annotations

from app.core.errors import AppError


class WebhookEndpointNotFound(AppError):
    status, code, title = 404, "webhook_endpoint_not_found", "The webhook endpoint does not exist"


class WebhookMessageNotFound(AppError):
    status, code, title = 404, "webhook_message_not_found", "The webhook message does not exist"


class WebhookUrlRefused(AppError):
    status, code, title = (
        422,
        "webhook_url_refused",
        "The URL cannot receive webhooks: a public https URL is needed",
    )


class WebhookEventTypeUnknown(AppError):
    status, code, title = (
        422,
        "webhook_event_type_unknown",
        "An event type named is not in the catalogue (GET /v1/webhook-events)",
    )


class WebhookEventTypeNotAllowed(AppError):
    status, code, title = (
        422,
        "webhook_event_type_not_allowed",
        "The client's scopes do not cover an event type named",
    )


class WebhookEndpointLimit(AppError):
    status, code, title = (
        409,
        "webhook_endpoint_limit",
        "The client has as many webhook endpoints as it may: disable or reuse one",
    )


class WebhookEndpointDisabled(AppError):
    status, code, title = (
        409,
        "webhook_endpoint_disabled",
        "The endpoint is disabled: enable it before sending to it",
    )
