"""The SMS channel: with no provider configured, which is all the settings allow, nothing
is sent."""

from __future__ import annotations

import pytest

from app.notifications.sms import NoSmsProvider, SmsUnavailable, sms_sender
from tests.conftest import base_settings


async def test_with_no_provider_configured_every_sms_is_refused() -> None:
    sender = sms_sender(base_settings())
    assert isinstance(sender, NoSmsProvider)
    with pytest.raises(SmsUnavailable):
        await sender.send(phone="13812345678", template="emergency", params={"point": "集结点"})


def test_a_provider_the_service_does_not_have_cannot_be_configured() -> None:
    with pytest.raises(ValueError, match="notification_sms_provider"):
        base_settings(notification_sms_provider="aliyun")
