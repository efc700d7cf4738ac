"""A fake of WeChat's server-side API, for tests and the local demo.

Its answers are deterministic:

- `GET /sns/jscode2session`: the login code `alice` always logs in openid_for("alice");
  `alice+key` adds unionid_for("key"); `err-<n>` answers errcode n.
- `POST /cgi-bin/stable_token`: like WeChat's normal mode, the same access token until
  five minutes before it expires (two hours after issue), then a new one.
- `POST /wxa/business/getuserphonenumber`: the code `phone-13812345678` gives that
  number; `err-<n>` answers errcode n; other codes 40029. A token that is not current
  is refused with 40001, an expired one with 42001.
- `POST /cgi-bin/message/subscribe/send`: the token is checked as above; then the
  next scripted errcode, if any, is the answer; then the body: an openid the fake does
  not hand out is 40003, a template the account does not have 40037, a field missing,
  extra or out of its type's bounds 47003. What it accepts, it records.

The account's templates are `TEMPLATES` (for a center admin to set under `make run`) and
those tests add.

Hooks for tests: `GET /__stats` counts the calls per endpoint, `POST /__reset` zeroes
the counts, forgets the token, the scripts, the added templates and the messages,
`POST /__expire_access_token` makes the current token stop working, as when another
client forces a refresh. `POST /__subscribe-templates` adds a template
(`{"template_id": …, "keys": ["thing1", …]}`), `POST /__subscribe-answers` queues
errcodes for the next sends (`{"errcodes": [45009, -1]}`; a scripted 40001 or 42001 also
retires the token, as WeChat would have), `GET /__subscribe-messages` lists the messages
accepted. Time is the server's clock, so `clock.travel()` ages the fake's tokens too.

`make run` mounts it at `/__fake_wechat` and the tests serve it on a port of their own;
it lives outside `app/` because nothing in production may answer as WeChat.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from collections import Counter, deque
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

# The mini-program account's subscribe-message templates from the start, by id: what a
# center admin can set under `make run` (PUT /v1/notification-templates/{kind}).
TEMPLATES: dict[str, tuple[str, ...]] = {
    "tmpl-activity-reminder": ("thing1", "time2", "thing3"),
    "tmpl-hours-approved": ("thing1", "number2", "date3"),
    "tmpl-rewards-received": ("amount1", "thing2", "time3"),
    "tmpl-emergency-callout": ("thing1", "thing2", "time3"),
}
_CHINESE = "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
_DAY = "[0-9]{4}年[0-9]{1,2}月[0-9]{1,2}日"
# WeChat's bounds on each field type's value, as its documentation states them.
_VALUES = {
    "thing": re.compile(r"(?s).{1,20}"),
    "number": re.compile(r"[0-9]{1,32}(\.[0-9]+)?"),
    "letter": re.compile(r"[A-Za-z]{1,32}"),
    "symbol": re.compile(r"[!-/:-@\[-`{-~]{1,5}"),
    "character_string": re.compile(r"[!-~]{1,32}"),
    "time": re.compile(f"({_DAY} )?[0-9]{{2}}:[0-9]{{2}}"),
    "date": re.compile(f"{_DAY}( [0-9]{{2}}:[0-9]{{2}})?"),
    "amount": re.compile(r"[¥$]?[0-9]{1,10}(\.[0-9]{1,2})?元?"),
    "phone_number": re.compile(r"[0-9+\- ]{1,17}"),
    "car_number": re.compile(f"[{_CHINESE}A-Z0-9]{{1,8}}"),
    "name": re.compile(f"[{_CHINESE}·]{{1,10}}|[A-Za-z .'-]{{1,20}}"),
    "phrase": re.compile(f"[{_CHINESE}]{{1,5}}"),
}
_OPENID = re.compile(r"o[0-9a-f]{27}")
_FIELD = re.compile(r"([a-z_]+?)[0-9]+")


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
    templates: dict[str, tuple[str, ...]] = field(default_factory=lambda: dict(TEMPLATES))
    scripted: deque[int] = field(default_factory=deque)
    messages: list[dict[str, Any]] = field(default_factory=list)

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

    def token_error(token: str | None) -> JSONResponse | None:
        if state.token is None or token != state.token:
            return _error(40001, "invalid credential, access_token is invalid or not latest")
        if state.token_expires_at is None or clock.now() >= state.token_expires_at:
            return _error(42001, "access_token expired")
        return None

    async def getuserphonenumber(request: Request) -> JSONResponse:
        state.calls["getuserphonenumber"] += 1
        refused = token_error(request.query_params.get("access_token"))
        if refused is not None:
            return refused
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

    def data_error(template_id: Any, data: Any) -> JSONResponse | None:
        keys = state.templates.get(template_id) if isinstance(template_id, str) else None
        if keys is None:
            return _error(40037, "invalid template_id")
        if not isinstance(data, dict) or set(data) != set(keys):
            return _error(47003, "argument invalid! data fields do not match the template")
        for key, entry in data.items():
            typed = _FIELD.fullmatch(key)
            pattern = _VALUES.get(typed.group(1)) if typed else None
            value = entry.get("value") if isinstance(entry, dict) else None
            if pattern is None or not isinstance(value, str) or not pattern.fullmatch(value):
                return _error(47003, f"argument invalid! data.{key}.value invalid")
        return None

    async def subscribe_send(request: Request) -> JSONResponse:
        state.calls["subscribe_send"] += 1
        refused = token_error(request.query_params.get("access_token"))
        if refused is not None:
            return refused
        if state.scripted:
            errcode = state.scripted.popleft()
            if errcode in (40001, 42001):
                state.token = None
            return _error(errcode, "scripted")
        try:
            body = await request.json()
        except ValueError:
            return _error(47001, "data format error")
        if not isinstance(body, dict):
            return _error(47001, "data format error")
        touser = body.get("touser")
        if not isinstance(touser, str) or not _OPENID.fullmatch(touser):
            return _error(40003, "invalid openid")
        refused = data_error(body.get("template_id"), body.get("data"))
        if refused is not None:
            return refused
        if body.get("miniprogram_state", "formal") not in ("developer", "trial", "formal"):
            return _error(41030, "invalid miniprogram_state")
        state.messages.append(body)
        return JSONResponse({"errcode": 0, "errmsg": "ok", "msgid": len(state.messages)})

    async def stats(request: Request) -> JSONResponse:
        return JSONResponse(
            {
                name: state.calls[name]
                for name in (
                    "jscode2session",
                    "stable_token",
                    "getuserphonenumber",
                    "subscribe_send",
                )
            }
        )

    async def reset(request: Request) -> JSONResponse:
        state.calls.clear()
        state.token = None
        state.token_expires_at = None
        state.templates = dict(TEMPLATES)
        state.scripted.clear()
        state.messages.clear()
        return JSONResponse({"reset": True})

    async def add_template(request: Request) -> JSONResponse:
        body = await request.json()
        state.templates[str(body["template_id"])] = tuple(str(k) for k in body["keys"])
        return JSONResponse({"added": body["template_id"]})

    async def script_answers(request: Request) -> JSONResponse:
        body = await request.json()
        state.scripted.extend(int(code) for code in body["errcodes"])
        return JSONResponse({"queued": len(state.scripted)})

    async def subscribe_messages(request: Request) -> JSONResponse:
        return JSONResponse(state.messages)

    async def expire_access_token(request: Request) -> JSONResponse:
        state.token = None
        state.token_expires_at = None
        return JSONResponse({"expired": True})

    return Starlette(
        routes=[
            Route("/sns/jscode2session", jscode2session, methods=["GET"]),
            Route("/cgi-bin/stable_token", stable_token, methods=["POST"]),
            Route("/wxa/business/getuserphonenumber", getuserphonenumber, methods=["POST"]),
            Route("/cgi-bin/message/subscribe/send", subscribe_send, methods=["POST"]),
            Route("/__stats", stats, methods=["GET"]),
            Route("/__reset", reset, methods=["POST"]),
            Route("/__expire_access_token", expire_access_token, methods=["POST"]),
            Route("/__subscribe-templates", add_template, methods=["POST"]),
            Route("/__subscribe-answers", script_answers, methods=["POST"]),
            Route("/__subscribe-messages", subscribe_messages, methods=["GET"]),
        ]
    )
