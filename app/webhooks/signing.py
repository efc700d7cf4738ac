"""Endpoint secrets: made, sealed at rest, and used to sign per Standard Webhooks 1.0.

A secret is `whsec_` and 24 random bytes in base64, the form the `standardwebhooks`
libraries read. The database keeps it sealed with AES-256-GCM under the service's
`webhook_secrets_key`, bound to its endpoint (the associated data), so a copy of the
database forges no signature and a sealed secret moved to another endpoint does not
open. A message is signed with every live secret of its endpoint: during a rotation's
overlap `webhook-signature` carries both (`v1,<old> v1,<new>`), and a receiver that
knows either verifies it.
"""

from __future__ import annotations

import base64
import binascii
import os
import secrets
import uuid
from collections.abc import Sequence
from datetime import datetime

from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from standardwebhooks.webhooks import Webhook

from app.core.config import ConfigurationError, Settings

PREFIX = "whsec_"
_NONCE_BYTES = 12


def new_secret() -> str:
    return PREFIX + base64.b64encode(secrets.token_bytes(24)).decode()


class SecretBox:
    """Seals and opens endpoint secrets with the configured key."""

    def __init__(self, settings: Settings) -> None:
        raw = settings.webhook_secrets_key.get_secret_value()
        try:
            key = base64.urlsafe_b64decode(raw + "=" * (-len(raw) % 4))
        except (ValueError, binascii.Error) as exc:
            raise ConfigurationError("LIANGPIAO_WEBHOOK_SECRETS_KEY is not base64url") from exc
        if len(key) != 32:
            raise ConfigurationError("LIANGPIAO_WEBHOOK_SECRETS_KEY must be 32 bytes")
        self._aead = AESGCM(key)

    def seal(self, secret: str, *, endpoint_id: uuid.UUID) -> bytes:
        nonce = os.urandom(_NONCE_BYTES)
        return nonce + self._aead.encrypt(nonce, secret.encode(), endpoint_id.bytes)

    def open(self, sealed: bytes, *, endpoint_id: uuid.UUID) -> str:
        nonce, ciphertext = sealed[:_NONCE_BYTES], sealed[_NONCE_BYTES:]
        return self._aead.decrypt(nonce, ciphertext, endpoint_id.bytes).decode()


def message_id(message_uuid: uuid.UUID) -> str:
    """The `webhook-id` of a message."""
    return f"msg_{message_uuid.hex}"


def signed_headers(
    *, msg_id: str, body: str, at: datetime, secrets_: Sequence[str]
) -> dict[str, str]:
    """The Standard Webhooks headers of one attempt, signed with each live secret."""
    signatures = " ".join(
        Webhook(secret).sign(msg_id=msg_id, timestamp=at, data=body) for secret in secrets_
    )
    return {
        "webhook-id": msg_id,
        "webhook-timestamp": str(int(at.timestamp())),
        "webhook-signature": signatures,
        "content-type": "application/json",
        "user-agent": "Liangpiao-Webhooks/1.0",
    }
