"""Rotating codes: the activity's check-in code and the volunteer's personal code.

A code is `<kind><subject id><window><mac>` in base64url, 32 characters, which fits a
WeChat mini-program QR `scene`:

- kind: `a` (an activity's check-in code) or `v` (a volunteer's personal code);
- subject id: the activity's or volunteer's UUID, 22 characters, so that the scanner
  knows what the code is for without asking the server;
- window: the low 12 bits of the 10-second window number, 2 characters, so that the
  verifier can tell an expired code from a forged one;
- mac: HMAC-SHA256(secret, kind | subject id | full window number), first 42 bits.

The current and the previous window are accepted, nothing older; the window comes
from the server's clock.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import io
import uuid
from dataclasses import dataclass
from datetime import datetime
from enum import Enum
from typing import Literal

import segno

WINDOW_SECONDS = 10
CODE_LENGTH = 32
_WINDOW_BITS = 12
_WINDOW_CHARS = 2
_MAC_CHARS = 7
_ID_CHARS = 22
_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"

CodeKind = Literal["a", "v"]


class Verdict(Enum):
    valid = "valid"
    expired = "expired"
    invalid = "invalid"


@dataclass(frozen=True)
class ParsedCode:
    kind: str
    subject_id: uuid.UUID
    window_low: int
    mac: str


@dataclass(frozen=True)
class IssuedCode:
    code: str
    window: int
    expires_at: datetime
    expires_in: int


def window_of(at: datetime) -> int:
    return int(at.timestamp()) // WINDOW_SECONDS


def _encode_id(subject_id: uuid.UUID) -> str:
    return base64.urlsafe_b64encode(subject_id.bytes).rstrip(b"=").decode()


def _mac(secret: bytes, kind: str, subject_id: uuid.UUID, window: int) -> str:
    message = f"{kind}|{subject_id.hex}|{window}".encode()
    digest = hmac.new(secret, message, hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).decode()[:_MAC_CHARS]


def _window_chars(window: int) -> str:
    low = window & ((1 << _WINDOW_BITS) - 1)
    return _ALPHABET[low >> 6] + _ALPHABET[low & 63]


def issue(secret: bytes, *, kind: CodeKind, subject_id: uuid.UUID, at: datetime) -> IssuedCode:
    window = window_of(at)
    code = (
        kind
        + _encode_id(subject_id)
        + _window_chars(window)
        + _mac(secret, kind, subject_id, window)
    )
    next_change = (window + 1) * WINDOW_SECONDS
    expires_in = max(1, next_change - int(at.timestamp()))
    expires_at = datetime.fromtimestamp(next_change, tz=at.tzinfo)
    return IssuedCode(code=code, window=window, expires_at=expires_at, expires_in=expires_in)


def parse(code: str) -> ParsedCode | None:
    """The parts of a well-formed code, or None."""
    if len(code) != CODE_LENGTH or any(c not in _ALPHABET for c in code[1:]):
        return None
    kind = code[0]
    id_part = code[1 : 1 + _ID_CHARS]
    window_part = code[1 + _ID_CHARS : 1 + _ID_CHARS + _WINDOW_CHARS]
    mac = code[1 + _ID_CHARS + _WINDOW_CHARS :]
    try:
        subject_id = uuid.UUID(bytes=base64.urlsafe_b64decode(id_part + "=="))
    except (ValueError, binascii.Error):
        return None
    window_low = (_ALPHABET.index(window_part[0]) << 6) | _ALPHABET.index(window_part[1])
    return ParsedCode(kind=kind, subject_id=subject_id, window_low=window_low, mac=mac)


def verify(secret: bytes, parsed: ParsedCode, *, at: datetime) -> tuple[Verdict, int]:
    """Whether `parsed` is a genuine code of the current or previous window, and its window.

    The window is the latest one at or before now whose low bits match; a genuine code
    of an older window is `expired`, anything else `invalid`.
    """
    now_window = window_of(at)
    modulus = 1 << _WINDOW_BITS
    window = now_window - ((now_window - parsed.window_low) % modulus)
    expected = _mac(secret, parsed.kind, parsed.subject_id, window)
    if not hmac.compare_digest(expected, parsed.mac):
        return Verdict.invalid, window
    if window < now_window - 1:
        return Verdict.expired, window
    return Verdict.valid, window


def personal_secret(region_secret: bytes, volunteer_id: uuid.UUID) -> bytes:
    """Each volunteer's key, derived from the region's, so no per-volunteer row is needed."""
    return hmac.new(region_secret, b"personal|" + volunteer_id.bytes, hashlib.sha256).digest()


def qr_svg(code: str) -> str:
    buffer = io.BytesIO()
    segno.make(code, error="m", micro=False).save(buffer, kind="svg", scale=8, xmldecl=False)
    return buffer.getvalue().decode()


def qr_png(code: str) -> bytes:
    buffer = io.BytesIO()
    segno.make(code, error="m", micro=False).save(buffer, kind="png", scale=8)
    return buffer.getvalue()


def qr_png_data_uri(code: str) -> str:
    return "data:image/png;base64," + base64.b64encode(qr_png(code)).decode()
