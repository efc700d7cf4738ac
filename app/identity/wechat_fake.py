"""A fake of WeChat's server-side API, for tests and the local demo.

Codes are deterministic: the code `alice` always logs in the same openid.
"""

from __future__ import annotations

import hashlib
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route


def openid_for(user: str) -> str:
    """The openid the fake returns for the login code `user`."""
    return "o" + hashlib.sha256(f"openid:{user}".encode()).hexdigest()[:27]


def unionid_for(key: str) -> str:
    return "u" + hashlib.sha256(f"unionid:{key}".encode()).hexdigest()[:27]


def create_fake_wechat(settings: Any) -> Starlette:
    """The fake's ASGI app. Extended with the phone and token endpoints in identity."""

    async def jscode2session(request: Request) -> JSONResponse:
        code = request.query_params.get("js_code", "")
        if request.query_params.get("appid") != settings.wechat_appid:
            return JSONResponse({"errcode": 40013, "errmsg": "invalid appid"})
        if code.startswith("err-"):
            return JSONResponse({"errcode": int(code[4:]), "errmsg": "fake error"})
        user, _, union = code.partition("+")
        body: dict[str, Any] = {"openid": openid_for(user), "session_key": "fake-session-key"}
        if union:
            body["unionid"] = unionid_for(union)
        return JSONResponse(body)

    return Starlette(routes=[Route("/sns/jscode2session", jscode2session)])
