"""No secret, token, ID number or phone number in any log line.

The full-run test logs exactly as the service does (`configure_logging`, JSON to
stdout) at DEBUG, database drivers included, drives a volunteer's and a staff
member's sessions through the app, and greps every written line.
"""

from __future__ import annotations

import io
import json
import logging
import sys
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.cli import configure_logging
from app.core.config import Settings
from app.core.logging import JsonFormatter, RedactingFilter, redact, redact_record
from app.identity.models import WeChatAccessToken
from fakes.wechat import session_key_for
from tests.builders import PASSWORD, volunteer_auth

JWT = (
    "eyJhbGciOiJFUzI1NiIsImtpZCI6InRlc3Qta2V5In0"
    ".eyJzdWIiOiIxMjMiLCJ0eXAiOiJ2b2x1bnRlZXIifQ"
    ".MEUCIQDk1f0aJ2pYv8kq3XH1l9mYp1uJ5b_example-signature"
)
ID_NUMBER = "11010519491231002X"
PHONE = "13812345678"


# --- the redaction itself ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "secret"),
    [
        (f"token {JWT} refused", JWT),
        (f"Authorization: Bearer {uuid.uuid4().hex}.opaque", "opaque"),
        ("AUTHORIZATION: BEARER abc.opaque", "opaque"),
        (f"profile id={ID_NUMBER} saved", ID_NUMBER),
        (f"profile id={ID_NUMBER.lower()}", ID_NUMBER.lower()),
        ("old ID 110105491231002 kept", "110105491231002"),
        (f"手机{PHONE}已绑定", PHONE),
        (f"call +86 {PHONE}", PHONE),
        (f"('{PHONE}', '{ID_NUMBER}')", PHONE),
        ("redeem 881234567890123456 at counter", "881234567890123456"),
        ("GET /sns/jscode2session?appid=wx1&secret=s3cr3t&js_code=abc", "s3cr3t"),
        ("GET /sns/jscode2session?appid=wx1&secret=s3cr3t&js_code=abc", "js_code=abc"),
        ('{"username": "admin", "password": "hunter2"}', "hunter2"),
        ("{'refresh_token': 'r-3f9a'}", "r-3f9a"),
        ("access_token=ACCESS-123&x=1", "ACCESS-123"),
        (
            "key -----BEGIN PRIVATE KEY-----\nMIGHAgEAMBMGByqGSM49\n-----END PRIVATE KEY----- end",
            "MIGHAgEAMBMGByqGSM49",
        ),
    ],
)
def test_secrets_are_masked(text: str, secret: str) -> None:
    assert secret not in redact(text)


@pytest.mark.parametrize(
    "text",
    [
        "request 5f0c8a3e9b2d4c1e8f7a6b5c4d3e2f1a served in 12.5 ms",
        "volunteer 0b9d6f5e-1381-2345-6789-13812345678a created",
        "window 179590812 and timestamp 1795908125123",
        "redeemed 120 良票, balance 13800",
        'problem {"code": "rate_limited", "status": 429}',
    ],
)
def test_ordinary_text_is_left_alone(text: str) -> None:
    assert redact(text) == text


def test_extras_are_masked_by_name_and_by_value_without_touching_the_originals() -> None:
    body = {"phone": PHONE, "nested": {"note": f"id {ID_NUMBER}"}, "amount": 5}
    record = logging.LogRecord("liangpiao", logging.INFO, __file__, 1, "body %s", (body,), None)
    record.__dict__.update(
        {
            "body": body,
            "password": "hunter2",
            "mobile": 13812345678,
            "jwt_private_key": "pem",
            "wechat_access_token": "at",
            "request_id": "r-1",
        }
    )
    RedactingFilter().filter(record)

    assert PHONE not in record.getMessage()
    assert record.__dict__["body"] == {
        "phone": "[redacted]",
        "nested": {"note": "id [id-number]"},
        "amount": 5,
    }
    assert record.__dict__["password"] == "[redacted]"
    assert record.__dict__["mobile"] == "[redacted]"
    assert record.__dict__["jwt_private_key"] == "[redacted]"
    assert record.__dict__["wechat_access_token"] == "[redacted]"
    assert record.__dict__["request_id"] == "r-1"
    assert body["phone"] == PHONE  # the caller's object is unchanged


def test_the_json_formatter_masks_exceptions_and_database_parameters() -> None:
    formatter = JsonFormatter()
    try:
        raise ValueError(f"cannot store {ID_NUMBER} for token {JWT}")
    except ValueError:
        failed = logging.LogRecord(
            "liangpiao.errors", logging.ERROR, __file__, 1, "failed", None, sys.exc_info()
        )
    trace = logging.LogRecord(
        "sqlalchemy.engine.Engine",
        logging.INFO,
        __file__,
        1,
        "[%s] %r",
        ("generated in 0.0001s", ("wechat-access-token-xyz", PHONE)),
        None,
    )
    lines = [formatter.format(failed), formatter.format(trace)]
    written = "\n".join(lines)
    for secret in (ID_NUMBER, JWT, PHONE, "wechat-access-token-xyz"):
        assert secret not in written
    assert "ValueError" in json.loads(lines[0])["exc"]
    # A record formatted twice (two handlers) is redacted once and stays readable.
    redact_record(failed)
    assert json.loads(formatter.format(failed))["msg"] == "failed"


# --- a full run -------------------------------------------------------------------------


@contextmanager
def service_logs(monkeypatch: pytest.MonkeyPatch) -> Iterator[io.StringIO]:
    """Logging configured as `python -m app serve` does, at DEBUG, written to a buffer.

    SQLAlchemy's statement echo is switched on as well, as an operator chasing a
    problem might, since it is the trace that quotes every stored value.
    """
    written = io.StringIO()
    root, sql = logging.getLogger(), logging.getLogger("sqlalchemy.engine")
    saved_handlers, saved_level, saved_sql_level = root.handlers[:], root.level, sql.level
    uvicorn_access = logging.getLogger("uvicorn.access")
    saved_disabled = uvicorn_access.disabled
    monkeypatch.setattr(sys, "stdout", written)
    configure_logging("DEBUG")
    sql.setLevel(logging.DEBUG)
    try:
        yield written
    finally:
        root.handlers[:] = saved_handlers
        root.setLevel(saved_level)
        sql.setLevel(saved_sql_level)
        uvicorn_access.disabled = saved_disabled


async def test_a_full_run_logs_no_secret_token_id_number_or_phone(
    client: httpx.AsyncClient,
    app: Any,
    world: Any,
    session: AsyncSession,
    settings: Settings,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    code = f"logs{uuid.uuid4().hex[:8]}"
    bound_phone = "13912345678"
    with service_logs(monkeypatch) as written:
        login = await client.post(
            "/v1/auth/wechat", json={"code": code, "region_code": world.region.code}
        )
        assert login.status_code == 200, login.text
        tokens = login.json()
        me = {"Authorization": f"Bearer {tokens['access_token']}"}

        profile = await client.patch(
            "/v1/me",
            json={
                "name": "王小明",
                "id_type": "resident_id",
                "id_number": ID_NUMBER,
            },
            headers=me,
        )
        assert profile.status_code == 200, profile.text
        assert (await client.get("/v1/me", headers=me)).json()["id_number"] == ID_NUMBER
        # A phone is only bound through WeChat; the refusal does not log the number sent.
        unverified = await client.patch("/v1/me", json={"phone": PHONE}, headers=me)
        assert unverified.status_code == 422, unverified.text
        bound = await client.post("/v1/me/phone", json={"code": f"phone-{bound_phone}"}, headers=me)
        assert bound.status_code == 200, bound.text
        # A rejected profile change echoes nothing of what was sent into the logs.
        rejected = await client.patch(
            "/v1/me", json={"id_type": "resident_id", "id_number": "110105194912310021"}, headers=me
        )
        assert rejected.status_code == 422

        redemption = await client.post("/v1/me/redemption-codes", headers=me)
        assert redemption.status_code == 201, redemption.text
        offline = await client.post("/v1/me/offline-code-secret", headers=me)
        assert offline.status_code == 201, offline.text

        refreshed = await client.post(
            "/v1/auth/refresh", json={"refresh_token": tokens["refresh_token"]}
        )
        assert refreshed.status_code == 200, refreshed.text
        # Reusing the spent refresh token revokes the family and is logged as such.
        reused = await client.post(
            "/v1/auth/refresh", json={"refresh_token": tokens["refresh_token"]}
        )
        assert reused.status_code == 401

        staff = await client.post(
            "/v1/auth/login",
            json={"username": world.center_admin.username, "password": PASSWORD},
        )
        assert staff.status_code == 200, staff.text
        staff_token = staff.json()["access_token"]
        wrong = await client.post(
            "/v1/auth/login", json={"username": world.center_admin.username, "password": "nope"}
        )
        assert wrong.status_code == 401
        seen = await client.get(
            f"/v1/volunteers/{tokens['volunteer_id']}",
            headers={"Authorization": f"Bearer {staff_token}"},
        )
        assert seen.status_code == 200, seen.text
        assert seen.json()["phone"] != bound_phone

        other = volunteer_auth(app, world.volunteer_b)
        assert (await client.get("/v1/me", headers=other)).status_code == 200
        garbage = {"Authorization": f"Bearer {tokens['access_token']}x"}
        assert (await client.get("/v1/me", headers=garbage)).status_code == 401

    cached = await session.scalar(select(WeChatAccessToken))
    assert cached is not None
    assert cached.access_token
    lines = written.getvalue().splitlines()
    assert any('"logger": "liangpiao.access"' in line for line in lines)
    assert any(line.startswith("{") and "sqlalchemy.engine" in line for line in lines)

    private_key = settings.jwt_private_key.get_secret_value()  # type: ignore[union-attr]
    key_body = [row for row in private_key.splitlines() if "-----" not in row]
    secrets_ = {
        "access token": tokens["access_token"],
        "refresh token": tokens["refresh_token"],
        "rotated access token": refreshed.json()["access_token"],
        "rotated refresh token": refreshed.json()["refresh_token"],
        "staff access token": staff_token,
        "volunteer B's token": other["Authorization"].removeprefix("Bearer "),
        "ID number": ID_NUMBER,
        "phone": PHONE,
        "bound phone": bound_phone,
        "staff password": PASSWORD,
        "WeChat secret": settings.wechat_secret.get_secret_value(),
        "WeChat session_key": session_key_for(code),
        "WeChat access token": cached.access_token,
        "redemption code": redemption.json()["code"],
        "offline-code secret": offline.json()["secret"],
        **{f"private key line {n}": row for n, row in enumerate(key_body)},
    }
    leaks = {name: line for name, value in secrets_.items() for line in lines if value in line}
    assert leaks == {}
