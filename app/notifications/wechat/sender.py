"""Sending the WeChat subscribe messages owed: the `notification-wechat-sends` job.

A worker claims due sends (`FOR UPDATE SKIP LOCKED`) and leases them (`sending`
until `lease_until`) in one short transaction, which also renders each message,
holds back a person already sent the hourly limit (until the window allows) and
spends the credit the message uses; no transaction stays open across WeChat's
answer. Each answer is recorded in a transaction of its own, if the lease is still
this attempt's; a worker that dies mid-send leaves the lease to run out, and the
send is claimed again with its credit already spent.

WeChat's answers, by `errcode` (docs/notifications.md has them as a table):

- 0: `sent`, the credit spent;
- 43101 (the person refused, or WeChat holds no subscription): `fallback`, the
  credits dropped;
- 40001, 42001 (the token was replaced or expired): the token refreshed once and the
  message sent again at once;
- 45009 and the other 45xxx quotas, -1 (busy), HTTP errors and time-outs: `pending`
  after a backoff, the credit given back; `dead` after the last attempt;
- 47003, 40037, 40003 and anything else: what we sent is wrong (our bug): `dead`,
  logged, never retried, the credit given back.

A person with no credit left, or whose region no longer has the template, gets
`fallback` without a call: the inbox row is all. A value no field can hold is
`dead` before any call, its reason in `last_error`.
"""

from __future__ import annotations

import asyncio
import logging
import random
import uuid
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import httpx
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.core import clock
from app.core.config import Settings
from app.core.errors import AppError
from app.identity.wechat import AccessTokenCache, AccessTokenRejected, WeChatClient
from app.notifications.models import LAST_ERROR_LENGTH, SendStatus
from app.notifications.wechat import repository
from app.notifications.wechat.rendering import ValueRefused, render

log = logging.getLogger("liangpiao.notifications")

BATCH = 20
WINDOW = timedelta(hours=1)
SENT = 0
REFUSED = 43101  # the person refused, or holds no subscription
BUSY = -1
OUR_BUGS = frozenset({40003, 40037, 47003})  # invalid openid, template id, data


@dataclass(frozen=True)
class Claimed:
    id: uuid.UUID
    attempt: int
    volunteer_id: uuid.UUID
    template_id: str
    message: dict[str, Any]


@dataclass(frozen=True)
class Answer:
    errcode: int | None  # None: no answer (unreachable, HTTP error, time-out)
    error: str | None = None


def _clip(text: str) -> str:
    return text[:LAST_ERROR_LENGTH]


class WeChatSender:
    """The job of one worker process; it keeps the process's handle on the access token."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._tokens: AccessTokenCache | None = None

    def _lease(self) -> timedelta:
        # A token refresh and two sends, each within WeChat's time-out.
        return timedelta(seconds=self.settings.wechat_timeout_seconds * 3 + 30)

    def _backoff(self, attempts: int) -> timedelta:
        base = self.settings.notification_wechat_backoff_base_seconds
        wait = min(
            base * 2 ** (attempts - 1), self.settings.notification_wechat_backoff_max_seconds
        )
        return timedelta(seconds=wait * random.uniform(1.0, 1.2))  # noqa: S311 - jitter

    async def __call__(self, sessions: async_sessionmaker[AsyncSession]) -> int:
        """Claims a batch, sends it and records every answer; returns how many were
        settled (sent, fallen back, held, dead) so that the loop goes on while any is."""
        claimed, settled = await self._claim(sessions)
        if not claimed:
            return settled
        if self._tokens is None:
            self._tokens = AccessTokenCache(sessions, self.settings.wechat_appid)
        async with httpx.AsyncClient(timeout=self.settings.wechat_timeout_seconds) as http:
            client = WeChatClient(http, self.settings)
            answers = await asyncio.gather(*(self._send(client, c) for c in claimed))
        for one, answer in zip(claimed, answers, strict=True):
            await self._record(sessions, one, answer)
        return settled + len(claimed)

    async def _claim(self, sessions: async_sessionmaker[AsyncSession]) -> tuple[list[Claimed], int]:
        async with sessions() as session, session.begin():
            now = clock.now()
            due = await repository.due_sends(session, now=now, limit=BATCH)
            if not due:
                return [], 0
            recent = await repository.sent_since(
                session, volunteer_ids={d.send.volunteer_id for d in due}, since=now - WINDOW
            )
            limit = self.settings.notification_wechat_per_person_per_hour
            claimed: list[Claimed] = []
            for d in due:
                send = d.send
                reclaimed = send.status == SendStatus.sending
                if d.fields is None:
                    send.status, send.last_error = SendStatus.fallback, "the region has no template"
                    send.lease_until = None
                    if reclaimed:
                        await repository.return_credit(
                            session, volunteer_id=send.volunteer_id, template_id=send.template_id
                        )
                    continue
                try:
                    data = render(d.fields, d.data, timezone=d.timezone)
                except ValueRefused as refused:
                    send.status, send.last_error = SendStatus.dead, _clip(str(refused))
                    send.lease_until = None
                    log.warning(
                        "wechat message cannot be rendered",
                        extra={"send_id": str(send.id), "template_id": send.template_id},
                    )
                    if reclaimed:
                        await repository.return_credit(
                            session, volunteer_id=send.volunteer_id, template_id=send.template_id
                        )
                    continue
                sent = recent.setdefault(send.volunteer_id, [])
                if not reclaimed and not send.emergency and len(sent) >= limit:
                    # The window allows one more when the oldest of the last `limit` leaves it.
                    send.available_at = sent[-limit] + WINDOW
                    continue
                if not reclaimed and not await repository.take_credit(
                    session, volunteer_id=send.volunteer_id, template_id=send.template_id
                ):
                    send.status, send.last_error = SendStatus.fallback, "no credit left"
                    continue
                if not send.emergency:
                    sent.append(now)
                send.status = SendStatus.sending
                send.lease_until = now + self._lease()
                send.attempts += 1
                message: dict[str, Any] = {
                    "touser": d.openid,
                    "template_id": send.template_id,
                    "data": data,
                    "miniprogram_state": self.settings.notification_wechat_miniprogram_state,
                    "lang": "zh_CN",
                }
                if d.page is not None:
                    message["page"] = d.page
                claimed.append(
                    Claimed(send.id, send.attempts, send.volunteer_id, send.template_id, message)
                )
            return claimed, len(due) - len(claimed)

    async def _send(self, client: WeChatClient, claimed: Claimed) -> Answer:
        assert self._tokens is not None
        try:
            token = await self._tokens.get(client)
            try:
                return Answer(await client.send_subscribe_message(token, claimed.message))
            except AccessTokenRejected:
                # Replaced or expired early: refresh once and send again at once.
                token = await self._tokens.get(client, rejected=token)
            try:
                return Answer(await client.send_subscribe_message(token, claimed.message))
            except AccessTokenRejected:
                return Answer(None, "WeChat refused a freshly issued access token")
        except AppError as exc:
            return Answer(None, exc.detail)

    async def _record(
        self, sessions: async_sessionmaker[AsyncSession], claimed: Claimed, answer: Answer
    ) -> None:
        async with sessions() as session, session.begin():
            now = clock.now()
            errcode = answer.errcode
            values: dict[str, Any] = {"lease_until": None, "errcode": errcode}
            credit = "give back"
            if errcode == SENT:
                values |= {"status": SendStatus.sent, "sent_at": now, "last_error": None}
                credit = "spent"
            elif errcode == REFUSED:
                values |= {"status": SendStatus.fallback, "last_error": "refused by the person"}
                credit = "drop"
            elif errcode is None or errcode == BUSY or 45000 <= errcode < 46000:
                error = answer.error or f"WeChat answered errcode {errcode}"
                if claimed.attempt >= self.settings.notification_wechat_max_attempts:
                    values |= {"status": SendStatus.dead, "last_error": _clip(error)}
                else:
                    values |= {
                        "status": SendStatus.pending,
                        "available_at": now + self._backoff(claimed.attempt),
                        "last_error": _clip(error),
                    }
            else:
                what = "refused as invalid" if errcode in OUR_BUGS else "refused"
                values |= {
                    "status": SendStatus.dead,
                    "last_error": f"WeChat {what}: errcode {errcode}",
                }
                log.error(
                    "wechat refused a subscribe message",
                    extra={
                        "send_id": str(claimed.id),
                        "template_id": claimed.template_id,
                        "wechat_errcode": errcode,
                    },
                )
            if not await repository.settle(
                session, send_id=claimed.id, attempt=claimed.attempt, values=values
            ):
                return
            if credit == "give back":
                await repository.return_credit(
                    session, volunteer_id=claimed.volunteer_id, template_id=claimed.template_id
                )
            elif credit == "drop":
                await repository.drop_credits(
                    session, volunteer_id=claimed.volunteer_id, template_id=claimed.template_id
                )
