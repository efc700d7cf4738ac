"""The service's log output: one JSON object per record, redacted of secrets and personal data.

`JsonFormatter` writes each record as a JSON line. Redaction is defence in depth:
code should never log a token, a password, an ID number or a phone number; this
module catches what slips through anyway (a library logging a URL with a secret
in its query, a database error quoting its parameters, an `extra` holding a
request body) before a record is written. It masks:

- JSON Web Tokens and `Bearer` credentials;
- PEM private keys;
- values of sensitive names in query strings, JSON and `key=value` text
  (`secret=`, `password`, `access_token`, `session_key`, ...);
- 18- and 15-digit runs (resident ID numbers, and the 18-digit redemption codes);
- mainland mobile numbers (with or without +86).

Database drivers' traces (SQLAlchemy's echo, aiosqlite's and asyncpg's DEBUG lines)
quote every bound value, and stored secrets such as a cached WeChat access token
match no pattern: their records keep the statement and drop the values.

`JsonFormatter` applies it to every record it writes; `RedactingFilter` does the
same for any other handler.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Mapping
from typing import Any

# Attributes every LogRecord has; anything else on a record came from `extra=`.
STANDARD_ATTRIBUTES = frozenset(logging.LogRecord("", 0, "", 0, "", None, None).__dict__) | {
    "message",
    "asctime",
}

SENSITIVE_NAMES = frozenset(
    {
        "secret",
        "appsecret",
        "password",
        "passwd",
        "token",
        "session_key",
        "js_code",
        "authorization",
        "private_key",
        "signing_key",
        "id_number",
        "phone",
        "phone_number",
        "mobile",
    }
)
_ALNUM = "0-9A-Za-z"
_REDACTED = "[redacted]"


def is_sensitive_name(name: str) -> bool:
    """`password`, `access_token`, `jwt_private_key`: a name whose value is never logged."""
    parts = name.lower().split("_")
    return any("_".join(parts[i:]) in SENSITIVE_NAMES for i in range(len(parts)))


def _name_value(match: re.Match[str]) -> str:
    if not is_sensitive_name(match.group("name")):
        return match.group(0)
    return f"{match.group('lead')}{_REDACTED}"


# Each pattern runs only when its guard (in the lowercased text; "" for the digit patterns,
# which run when the text has a run of 11 digits) is there: most log text has no hint.
_PATTERNS: list[tuple[re.Pattern[str], str, Any]] = [
    (
        re.compile(
            r"-----BEGIN [A-Z0-9 ]*PRIVATE KEY-----.*?(?:-----END [A-Z0-9 ]*PRIVATE KEY-----|\Z)",
            re.DOTALL,
        ),
        "private key",
        "[private-key]",
    ),
    (re.compile(r"\beyJ[\w-]*\.[\w-]+\.[\w-]*"), "eyj", "[jwt]"),
    (re.compile(r"(?i)\b(bearer)\s+[\w.~+/=-]+"), "bearer", r"\1 [token]"),
    # name=value in query strings, form bodies and log text.
    (re.compile(r"(?P<lead>\b(?P<name>\w+)=)[^&\s\"',;]+"), "=", _name_value),
    # "name": value in JSON and Python reprs.
    (
        re.compile(r"(?P<lead>([\"'])(?P<name>\w+)\2\s*:\s*)(?:\"[^\"]*\"|'[^']*'|[^\s,}\]]+)"),
        ":",
        _name_value,
    ),
    (re.compile(rf"(?<![{_ALNUM}])\d{{17}}[\dXx](?![{_ALNUM}])"), "", "[id-number]"),
    (re.compile(rf"(?<![{_ALNUM}])\d{{15}}(?![{_ALNUM}])"), "", "[id-number]"),
    (
        re.compile(rf"(?<![{_ALNUM}+])(?:\+?86[ -]?)?1[3-9]\d{{9}}(?![{_ALNUM}])"),
        "",
        "[phone]",
    ),
]
_LONG_NUMBER = re.compile(r"\d{11}")


PARAMETER_ECHOING_LOGGERS = ("sqlalchemy.engine", "aiosqlite", "asyncpg")


def _hide_parameters(record: logging.LogRecord) -> None:
    if record.args and record.name.startswith(PARAMETER_ECHOING_LOGGERS):
        hidden = tuple("[hidden]" for _ in record.args) if isinstance(record.args, tuple) else ()
        try:
            record.msg = str(record.msg) % hidden
        except (TypeError, ValueError):
            record.msg = f"{record.msg} [parameters hidden]"
        record.args = None


def redact(text: str) -> str:
    lowered = text.lower()
    has_long_number = _LONG_NUMBER.search(text) is not None
    for pattern, guard, replacement in _PATTERNS:
        if guard in lowered if guard else has_long_number:
            text = pattern.sub(replacement, text)
    return text


def redact_value(name: str, value: Any) -> Any:
    """A copy of `value` safe to log under `name`; the original object is left untouched."""
    if value is None or isinstance(value, bool | float):
        return value
    if is_sensitive_name(name):
        return _REDACTED
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, int):
        # Only numbers of 11 digits or more can be a phone or an ID number.
        if -(10**10) < value < 10**10:
            return value
        text = str(value)
        redacted = redact(text)
        return value if redacted == text else redacted
    if isinstance(value, Mapping):
        return {str(k): redact_value(str(k), v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [redact_value(name, v) for v in value]
    return redact(str(value))


def redact_record(record: logging.LogRecord) -> None:
    """Masks secrets in a record's message, `extra` fields, exception and stack text, in place."""
    if getattr(record, "_redacted", False):
        return
    _hide_parameters(record)
    record.msg, record.args = redact(record.getMessage()), None
    for key, value in list(record.__dict__.items()):
        if key not in STANDARD_ATTRIBUTES and not key.startswith("_"):
            record.__dict__[key] = redact_value(key, value)
    if record.exc_info and not record.exc_text:
        record.exc_text = logging.Formatter().formatException(record.exc_info)
    if record.exc_text:
        record.exc_text = redact(record.exc_text)
    if record.stack_info:
        record.stack_info = redact(record.stack_info)
    record.__dict__["_redacted"] = True


class RedactingFilter(logging.Filter):
    """A handler filter that masks secrets in every record it passes."""

    def filter(self, record: logging.LogRecord) -> bool:
        redact_record(record)
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message and any `extra` fields.

    Every record is redacted first: no token, secret, ID number or phone number
    reaches the output.
    """

    def format(self, record: logging.LogRecord) -> str:
        redact_record(record)
        entry: dict[str, Any] = {
            "ts": self.formatTime(record, "%Y-%m-%dT%H:%M:%S%z"),
            "level": record.levelname,
            "logger": record.name,
            "msg": record.getMessage(),
        }
        for key, value in record.__dict__.items():
            if key not in STANDARD_ATTRIBUTES and not key.startswith("_"):
                entry[key] = value
        if record.exc_text:
            entry["exc"] = record.exc_text
        if record.stack_info:
            entry["stack"] = record.stack_info
        return json.dumps(entry, ensure_ascii=False, default=str)
