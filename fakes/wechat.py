"""A fake of WeChat's server-side API, for tests and the local demo.

Its answers are deterministic:

- `GET /sns/jscode2session`: the login code `alice` always logs in openid_for("alice");
  `alice+key` adds unionid_for("key"); `err-<n>` answers errcode n.
- `POST /cgi-bin/stable_token`: like WeChat's normal mode, the same access token until
  five minutes before it expires (two hours after issue), then a new one.
- `POST /wxa/business/getuserphonenumber`: the code `phone-13812345678` gives that
  number; `err-<n>` answers errcode n; other codes 40029. A token that is not current
  is refused with 40001, an expired one with 42001.

Hooks for tests: `GET /__stats` counts the calls per endpoint, `POST /__reset` zeroes
the counts and forgets the token, `POST /__expire_access_token` makes the current token
stop working, as when another client forces a refresh. Time is the server's clock, so
`clock.travel()` ages the fake's tokens too.

`make run` mounts it at `/__fake_wechat` and the tests serve it on a port of their own;
it lives outside `app/` because nothing in production may answer as WeChat.
"""

from __future__ import annotations

import hashlib
import secrets
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from app.core import clock
from app.demo.openids import openid_for

TOKEN_LIFETIME = timedelta(hours=2)
RENEW_BEFORE = timedelta(minutes=5)


def unionid_for(key: str) -> str:
    return "u" + hashlib.sha256(f"unionid:{key}".encode()).hexdigest()[:27]


def session_key_for(user: str) -> str:
    """The `session_key` the fake hands out with `user`'s login, which must never leak."""
    return "sk" + hashlib.sha256(f"session_key:{user}".encode()).hexdigest()[:22]


def _error(errcode: int, errmsg: str = "fake error") -> JSONResponse:
    return JSONResponse({"errcode": errcode, "errmsg": errmsg})


def _errcode_in(code: str) -> int | None:
    if not code.startswith("err-"):
        return None
    try:
        return int(code[4:])
    except ValueError:
        return None


@dataclass
class _FakeState:
    calls: Counter[str] = field(default_factory=Counter)
    token: str | None = None
    token_expires_at: datetime | None = None

    def current_token(self) -> tuple[str, datetime]:
        now = clock.now()
        if self.token is None or self.token_expires_at is None:
            return self._renew(now)
        if now + RENEW_BEFORE >= self.token_expires_at:
            return self._renew(now)
        return self.token, self.token_expires_at

    def _renew(self, now: datetime) -> tuple[str, datetime]:
        self.token = "fake-at-" + secrets.token_urlsafe(24)
        self.token_expires_at = now + TOKEN_LIFETIME
        return self.token, self.token_expires_at


def create_fake_wechat(settings: Any) -> Starlette:
    """The fake's ASGI app, for `settings.wechat_appid` and `settings.wechat_secret`."""
    state = _FakeState()
    appid: str = settings.wechat_appid
    secret: str = settings.wechat_secret.get_secret_value()

    def credentials_error(given_appid: Any, given_secret: Any) -> JSONResponse | None:
        if given_appid != appid:
            return _error(40013, "invalid appid")
        if given_secret != secret:
            return _error(40125, "invalid appsecret")
        return None

    async def jscode2session(request: Request) -> JSONResponse:
        state.calls["jscode2session"] += 1
        query = request.query_params
        refused = credentials_error(query.get("appid"), query.get("secret"))
        if refused is not None:
            return refused
        if query.get("grant_type") != "authorization_code":
            return _error(40002, "invalid grant_type")
        code = query.get("js_code", "")
        errcode = _errcode_in(code)
        if errcode is not None:
            return _error(errcode)
        user, _, union = code.partition("+")
        if not user:
            return _error(40029, "invalid code")
        body: dict[str, Any] = {"openid": openid_for(user), "session_key": session_key_for(user)}
        if union:
            body["unionid"] = unionid_for(union)
        return JSONResponse(body)

    async def stable_token(request: Request) -> JSONResponse:
        state.calls["stable_token"] += 1
        try:
            body = await request.json()
        except ValueError:
            return _error(47001, "data format error")
        if not isinstance(body, dict):
            return _error(47001, "data format error")
        refused = credentials_error(body.get("appid"), body.get("secret"))
        if refused is not None:
            return refused
        if body.get("grant_type") != "client_credential":
            return _error(40002, "invalid grant_type")
        if body.get("force_refresh") is True:
            state.token = None
        token, expires_at = state.current_token()
        expires_in = int((expires_at - clock.now()).total_seconds())
        return JSONResponse({"access_token": token, "expires_in": expires_in})

    async def getuserphonenumber(request: Request) -> JSONResponse:
        state.calls["getuserphonenumber"] += 1
        token = request.query_params.get("access_token")
        if state.token is None or token != state.token:
            return _error(40001, "invalid credential, access_token is invalid or not latest")
        if state.token_expires_at is None or clock.now() >= state.token_expires_at:
            return _error(42001, "access_token expired")
        try:
            body = await request.json()
        except ValueError:
            return _error(47001, "data format error")
        code = body.get("code", "") if isinstance(body, dict) else ""
        errcode = _errcode_in(code)
        if errcode is not None:
            return _error(errcode)
        number = code.removeprefix("phone-")
        if not code.startswith("phone-") or not number.isdigit():
            return _error(40029, "invalid code")
        return JSONResponse(
            {
                "errcode": 0,
                "errmsg": "ok",
                "phone_info": {
                    "phoneNumber": number,
                    "purePhoneNumber": number,
                    "countryCode": "86",
                    "watermark": {"timestamp": int(clock.now().timestamp()), "appid": appid},
                },
            }
        )

    async def stats(request: Request) -> JSONResponse:
        return JSONResponse(
            {
                name: state.calls[name]
                for name in ("jscode2session", "stable_token", "getuserphonenumber")
            }
        )

    async def reset(request: Request) -> JSONResponse:
        state.calls.clear()
        state.token = None
        state.token_expires_at = None
        return JSONResponse({"reset": True})

    async def expire_access_token(request: Request) -> JSONResponse:
        state.token = None
        state.token_expires_at = None
        return JSONResponse({"expired": True})

    return Starlette(
        routes=[
            Route("/sns/jscode2session", jscode2session, methods=["GET"]),
            Route("/cgi-bin/stable_token", stable_token, methods=["POST"]),
            Route("/wxa/business/getuserphonenumber", getuserphonenumber, methods=["POST"]),
            Route("/__stats", stats, methods=["GET"]),
            Route("/__reset", reset, methods=["POST"]),
            Route("/__expire_access_token", expire_access_token, methods=["POST"]),
        ]
    )
