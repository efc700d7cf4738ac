"""The SMS channel of notifications: what a provider must offer, and the one the
service has, which sends nothing.

No provider is configured (`LIANGPIAO_NOTIFICATION_SMS_PROVIDER=none`, the only value
the settings accept), so nothing is ever sent by SMS: a caller asking is refused, and
the inbox (and WeChat, where the person allows it) is all. docs/notifications.md says
what adding a provider takes.
"""

from __future__ import annotations

from typing import Protocol

from app.core.config import Settings


class SmsUnavailable(Exception):
    """No SMS provider is configured: the message was not sent."""


class SmsSender(Protocol):
    """A provider: one templated text message to one number. The template is the
    provider's (registered and approved with it), the parameters fill it."""

    async def send(self, *, phone: str, template: str, params: dict[str, str]) -> None: ...


class NoSmsProvider:
    """The configured provider when there is none: every send is refused."""

    async def send(self, *, phone: str, template: str, params: dict[str, str]) -> None:
        raise SmsUnavailable("no SMS provider is configured (LIANGPIAO_NOTIFICATION_SMS_PROVIDER)")


def sms_sender(settings: Settings) -> SmsSender:
    """The provider the settings name."""
    match settings.notification_sms_provider:
        case "none":
            return NoSmsProvider()
