"""WeChat's server-side API: login codes, the app's access token, users' phone numbers,
subscribe messages.

`WeChatClient` makes the calls (`sns/jscode2session`, `cgi-bin/stable_token`,
`wxa/business/getuserphonenumber`, `cgi-bin/message/subscribe/send`) over an async
httpx client and turns
WeChat's `errcode`s into problems. `AccessTokenCache` keeps the `stable_token`
access token in the database, so that every API process shares one token, and
refreshes it once at a time: an asyncio lock queues one process's callers, a row
lock on the cached row queues the processes. `WeChat` is what services use.

The app secret, login `session_key`s and access tokens never reach a response or
a log line: `session_key` is dropped as soon as WeChat's answer is read, and
httpx's request log line is stripped of the query string that carries the others.
"""

from __future__ import annotations

import asyncio
import logging
import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Annotated, Any

import httpx
from fastapi import Depends, Request
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.core import clock
from app.core.config import Settings
from app.core.db import new_id, session_insert
from app.core.errors import AppError
from app.identity.errors import (
    WeChatBusy,
    WeChatCodeInvalid,
    WeChatError,
    WeChatPhoneCodeInvalid,
    WeChatRateLimited,
    WeChatUnreachable,
    WeChatUserBlocked,
)
from app.identity.models import WeChatAccessToken

log = logging.getLogger("liangpiao.wechat")

# WeChat hands out a new stable token in the last minutes of the old one's life.
REFRESH_MARGIN = timedelta(minutes=5)
RATE_LIMIT_RETRY_AFTER = "60"  # 45011 is a per-minute quota
BUSY_RETRY_AFTER = "1"
UNREACHABLE_RETRY_AFTER = "2"

# errcodes of the calls made with an access token meaning "this token is no longer good".
_TOKEN_REJECTED = frozenset({40001, 40014, 42001})
_CODE_INVALID = frozenset({40029, 40163})  # invalid code; code already used
_PHONE = re.compile(r"[0-9]{5,15}")
_COUNTRY = re.compile(r"[0-9]{1,4}")


class _StripQueryFromHttpxLog(logging.Filter):
    """httpx logs each request's full URL at INFO; WeChat's carry the secret in the query."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple):
            record.args = tuple(
                str(arg).split("?", 1)[0] if isinstance(arg, httpx.URL) else arg
                for arg in record.args
            )
        return True


logging.getLogger("httpx").addFilter(_StripQueryFromHttpxLog())


@dataclass(frozen=True)
class WeChatIdentity:
    """Who a login code belongs to. WeChat's `session_key` is deliberately not kept."""

    openid: str
    unionid: str | None


@dataclass(frozen=True)
class CachedToken:
    value: str
    expires_at: datetime

    def usable(self, *, rejected: str | None = None) -> bool:
        return self.value != rejected and clock.now() + REFRESH_MARGIN < self.expires_at


class AccessTokenRejected(Exception):
    """WeChat no longer accepts this access token (expired, or replaced by a newer one)."""


def _refusal(errcode: int, *, code_invalid: type[AppError]) -> AppError:
    if errcode in _CODE_INVALID:
        return code_invalid(wechat_errcode=errcode)
    if errcode == 45011:
        return WeChatRateLimited(
            headers={"Retry-After": RATE_LIMIT_RETRY_AFTER}, wechat_errcode=errcode
        )
    if errcode == -1:
        return WeChatBusy(headers={"Retry-After": BUSY_RETRY_AFTER}, wechat_errcode=errcode)
    if errcode == 40226:
        return WeChatUserBlocked(wechat_errcode=errcode)
    return WeChatError(f"WeChat answered errcode {errcode}", wechat_errcode=errcode)


def _errcode(body: dict[str, Any]) -> int:
    errcode = body.get("errcode", 0)
    if not isinstance(errcode, int):
        raise WeChatError("WeChat answered an unreadable errcode")
    return errcode


def _phone_from(info: Any, *, appid: str) -> str:
    if not isinstance(info, dict):
        raise WeChatError("WeChat answered without phone_info")
    watermark = info.get("watermark")
    if isinstance(watermark, dict) and watermark.get("appid", appid) != appid:
        raise WeChatError("WeChat issued this phone number to another app")
    pure = info.get("purePhoneNumber")
    country = str(info.get("countryCode") or "86")
    if not isinstance(pure, str) or not _PHONE.fullmatch(pure) or not _COUNTRY.fullmatch(country):
        raise WeChatError("WeChat answered an unreadable phone number")
    return pure if country == "86" else f"+{country}{pure}"


class WeChatClient:
    """The WeChat calls, with WeChat's refusals turned into problems."""

    def __init__(self, http: httpx.AsyncClient, settings: Settings) -> None:
        self._http = http
        self._base = settings.wechat_api_base.rstrip("/")
        self.appid = settings.wechat_appid
        self._secret = settings.wechat_secret

    async def code_to_session(self, code: str) -> WeChatIdentity:
        body = await self._call(
            "GET",
            "/sns/jscode2session",
            params={
                "appid": self.appid,
                "secret": self._secret.get_secret_value(),
                "js_code": code,
                "grant_type": "authorization_code",
            },
        )
        errcode = _errcode(body)
        if errcode:
            raise self._refused("jscode2session", errcode, code_invalid=WeChatCodeInvalid)
        openid = body.get("openid")
        if not isinstance(openid, str) or not 0 < len(openid) <= 64:
            raise WeChatError("WeChat answered without an openid")
        unionid = body.get("unionid")
        if not isinstance(unionid, str) or not 0 < len(unionid) <= 64:
            unionid = None
        return WeChatIdentity(openid=openid, unionid=unionid)

    async def stable_token(self) -> tuple[str, int]:
        """A fresh access token and its lifetime in seconds (normal mode, never forced:
        forcing invalidates the token other processes are still using)."""
        body = await self._call(
            "POST",
            "/cgi-bin/stable_token",
            json={
                "grant_type": "client_credential",
                "appid": self.appid,
                "secret": self._secret.get_secret_value(),
                "force_refresh": False,
            },
        )
        errcode = _errcode(body)
        if errcode:
            raise self._refused("stable_token", errcode, code_invalid=WeChatError)
        token, expires_in = body.get("access_token"), body.get("expires_in")
        if not isinstance(token, str) or not 0 < len(token) <= 1024:
            raise WeChatError("WeChat answered without an access token")
        if not isinstance(expires_in, int) or expires_in <= 0:
            raise WeChatError("WeChat answered an unreadable token lifetime")
        return token, expires_in

    async def phone_number(self, access_token: str, code: str) -> str:
        body = await self._call(
            "POST",
            "/wxa/business/getuserphonenumber",
            params={"access_token": access_token},
            json={"code": code},
        )
        errcode = _errcode(body)
        if errcode in _TOKEN_REJECTED:
            raise AccessTokenRejected()
        if errcode:
            raise self._refused("getuserphonenumber", errcode, code_invalid=WeChatPhoneCodeInvalid)
        return _phone_from(body.get("phone_info"), appid=self.appid)

    async def send_subscribe_message(self, access_token: str, message: dict[str, Any]) -> int:
        """Sends one subscribe message; returns WeChat's errcode (0: accepted), which the
        caller judges: the same codes mean different things to different senders."""
        body = await self._call(
            "POST",
            "/cgi-bin/message/subscribe/send",
            params={"access_token": access_token},
            json=message,
        )
        errcode = _errcode(body)
        if errcode in _TOKEN_REJECTED:
            raise AccessTokenRejected()
        return errcode

    def _refused(self, api: str, errcode: int, *, code_invalid: type[AppError]) -> AppError:
        log.warning("wechat refused", extra={"wechat_api": api, "wechat_errcode": errcode})
        return _refusal(errcode, code_invalid=code_invalid)

    async def _call(
        self,
        method: str,
        path: str,
        *,
        params: dict[str, str] | None = None,
        json: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        try:
            response = await self._http.request(method, self._base + path, params=params, json=json)
        except httpx.TimeoutException as exc:
            log.warning("wechat timed out", extra={"wechat_api": path})
            raise WeChatUnreachable(
                "WeChat did not answer in time", headers={"Retry-After": UNREACHABLE_RETRY_AFTER}
            ) from exc
        except httpx.RequestError as exc:
            log.warning(
                "wechat unreachable", extra={"wechat_api": path, "error": type(exc).__name__}
            )
            raise WeChatUnreachable(headers={"Retry-After": UNREACHABLE_RETRY_AFTER}) from exc
        if response.status_code >= 500:
            log.warning("wechat failed", extra={"wechat_api": path, "status": response.status_code})
            raise WeChatBusy(headers={"Retry-After": BUSY_RETRY_AFTER})
        if response.status_code != 200:
            raise WeChatError(f"WeChat answered HTTP {response.status_code}")
        try:
            body = response.json()
        except ValueError as exc:
            raise WeChatError("WeChat answered something other than JSON") from exc
        if not isinstance(body, dict):
            raise WeChatError("WeChat answered something other than a JSON object")
        return body


class AccessTokenCache:
    """This process's handle on the shared access token (one per app, kept on its state).

    The token lives in `wechat_access_tokens`; a copy stays in memory until shortly
    before it expires. A caller that finds no usable copy takes the process's lock,
    then the row's lock (`SELECT … FOR UPDATE`; SQLite's `BEGIN IMMEDIATE` serializes
    the same way), and asks WeChat only if the row holds no usable token either.
    The row is read and written in its own short transaction, committed whatever
    becomes of the request that needed the token.
    """

    def __init__(self, sessions: async_sessionmaker[AsyncSession], appid: str) -> None:
        self._sessions = sessions
        self._appid = appid
        self._lock = asyncio.Lock()
        self._memo: CachedToken | None = None

    async def get(self, client: WeChatClient, *, rejected: str | None = None) -> str:
        """A usable token; `rejected` names one WeChat just refused, so never that one."""
        memo = self._memo
        if memo is not None and memo.usable(rejected=rejected):
            return memo.value
        async with self._lock:
            memo = self._memo
            if memo is not None and memo.usable(rejected=rejected):
                return memo.value
            self._memo = await self._load_or_refresh(client, rejected=rejected)
            return self._memo.value

    async def _load_or_refresh(self, client: WeChatClient, *, rejected: str | None) -> CachedToken:
        async with self._sessions() as session, session.begin():
            insert = session_insert(session)
            await session.execute(
                insert(WeChatAccessToken)
                .values(id=new_id(), appid=self._appid)
                .on_conflict_do_nothing(index_elements=["appid"])
            )
            row = await session.scalar(
                select(WeChatAccessToken)
                .where(WeChatAccessToken.appid == self._appid)
                .with_for_update()
            )
            if row is None:
                raise RuntimeError("the access token row vanished inside its own transaction")
            if row.access_token is not None and row.expires_at is not None:
                cached = CachedToken(row.access_token, row.expires_at)
                if cached.usable(rejected=rejected):
                    return cached
            value, expires_in = await client.stable_token()
            now = clock.now()
            row.access_token = value
            row.expires_at = now + timedelta(seconds=expires_in)
            row.refreshed_at = now
            log.info("wechat access token refreshed", extra={"expires_in": expires_in})
            return CachedToken(value, row.expires_at)


class WeChat:
    """What services call: a login code's identity, a phone code's number."""

    def __init__(self, client: WeChatClient, tokens: AccessTokenCache) -> None:
        self._client = client
        self._tokens = tokens

    async def identify(self, code: str) -> WeChatIdentity:
        return await self._client.code_to_session(code)

    async def phone_number(self, code: str) -> str:
        token = await self._tokens.get(self._client)
        try:
            return await self._client.phone_number(token, code)
        except AccessTokenRejected:
            # Replaced or expired early: refresh once (the code is still unspent) and retry.
            token = await self._tokens.get(self._client, rejected=token)
        try:
            return await self._client.phone_number(token, code)
        except AccessTokenRejected as exc:
            raise WeChatError("WeChat refused a freshly issued access token") from exc


async def wechat(request: Request) -> WeChat:
    state = request.app.state
    settings: Settings = state.settings
    tokens: AccessTokenCache | None = getattr(state, "wechat_tokens", None)
    if tokens is None:
        tokens = AccessTokenCache(state.db.sessions, settings.wechat_appid)
        state.wechat_tokens = tokens
    return WeChat(WeChatClient(state.http, settings), tokens)


WeChatDep = Annotated[WeChat, Depends(wechat)]
