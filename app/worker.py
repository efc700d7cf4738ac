"""Background jobs: outbox delivery and the periodic work of each feature.

Each job claims its rows with `FOR UPDATE SKIP LOCKED`, so several workers may
run at once. The embedded default runs them inside the API process
(`LIANGPIAO_RUN_JOBS_IN_PROCESS=true`); production runs `python -m app worker`.
"""

from __future__ import annotations

import asyncio
import functools
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.activities.jobs import close_forgotten_checkouts
from app.clients.jobs import purge_spent_assertions
from app.core.config import Settings
from app.core.db import Database
from app.emergency.jobs import escalate_due
from app.identity.jobs import purge_expired as purge_identity_leftovers
from app.integrations import outbox
from app.ledger.heads import HeadLog
from app.ledger.jobs import expire_lots, time_out_holds
from app.ledger.sealing import seal_pending
from app.ledger.signer import load_signer
from app.merchants.jobs import expire_reservations
from app.merchants.jobs import purge_expired as purge_merchant_nonces_and_codes
from app.notifications import handlers as notifications
from app.notifications.jobs import remind_activities, warn_expiring_rewards
from app.notifications.wechat.sender import WeChatSender
from app.rewards.handlers import on_hours_approved
from app.webhooks import fanout
from app.webhooks.delivery import Deliverer

log = logging.getLogger("liangpiao.worker")

JobFn = Callable[[async_sessionmaker[AsyncSession]], Awaitable[int]]


@dataclass(frozen=True)
class Job:
    name: str
    every_seconds: float
    run: JobFn


async def _purge_idempotency_keys(sessions: async_sessionmaker[AsyncSession]) -> int:
    from app.core.idempotency import purge_expired

    async with sessions() as session, session.begin():
        return await purge_expired(session)


def register_event_handlers() -> None:
    """Wire outbox topics to the features that consume them."""
    outbox.subscribe("hours.approved", on_hours_approved)
    notifications.subscribe_all()
    fanout.subscribe_all()


def jobs(settings: Settings) -> list[Job]:
    # The ledger's signing key is read once, when the worker starts.
    seal = functools.partial(
        seal_pending, signer=load_signer(settings), heads=HeadLog.from_settings(settings)
    )
    deliver = functools.partial(
        outbox.dispatch_batch, retry=outbox.RetryPolicy.from_settings(settings)
    )
    return [
        Job("outbox", 1.0, deliver),
        Job("purge-idempotency-keys", 3600.0, _purge_idempotency_keys),
        Job("ledger-hold-timeouts", 10.0, time_out_holds),
        Job("ledger-lot-expiry", 300.0, expire_lots),
        Job("seal-ledger", 5.0, seal),
        Job("close-forgotten-checkouts", 60.0, close_forgotten_checkouts),
        Job("escalate-alerts", 10.0, escalate_due),
        Job("purge-terminal-nonces-and-codes", 300.0, purge_merchant_nonces_and_codes),
        Job("expire-reservations", 30.0, expire_reservations),
        Job("purge-denied-tokens-and-login-throttles", 300.0, purge_identity_leftovers),
        Job("purge-spent-client-assertions", 300.0, purge_spent_assertions),
        Job("activity-reminders", 60.0, remind_activities),
        Job("rewards-expiry-warnings", 3600.0, warn_expiring_rewards),
        # After the jobs that notify, so that one run sends what they made.
        Job("notification-wechat-sends", 1.0, WeChatSender(settings)),
    ]


async def run_once(db: Database, *, deliverer: Deliverer | None = None) -> dict[str, int]:
    """Run every job once until it has nothing left to do (tests and the CLI use this),
    then send the webhook messages that are due, each batch waiting for its answers."""
    register_event_handlers()
    counts: dict[str, int] = {}
    for job in jobs(db.settings):
        total = 0
        while True:
            n = await job.run(db.sessions)
            total += n
            if n == 0 or job.name == "purge-idempotency-keys":
                break
        counts[job.name] = total
    sender = deliverer or Deliverer(db.settings)
    try:
        total = 0
        while n := await sender.deliver_due(db.sessions):
            total += n
        counts["webhooks"] = total
    finally:
        if deliverer is None:
            await sender.aclose()
    return counts


async def run_jobs_forever(db: Database, *, stop: asyncio.Event | None = None) -> None:
    """The jobs in turn, each when it is due; webhook messages are sent beside them, each
    on its own task, so a slow receiver holds up neither the jobs nor other endpoints."""
    register_event_handlers()
    loop = asyncio.get_running_loop()
    scheduled = jobs(db.settings)
    due = dict.fromkeys((job.name for job in scheduled), 0.0)
    deliverer = Deliverer(db.settings)
    try:
        while stop is None or not stop.is_set():
            for job in scheduled:
                if loop.time() < due[job.name]:
                    continue
                try:
                    await job.run(db.sessions)
                except asyncio.CancelledError:
                    raise
                except Exception:
                    log.exception("job failed", extra={"job": job.name})
                due[job.name] = loop.time() + job.every_seconds
            try:
                await deliverer.start_due(db.sessions)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("job failed", extra={"job": "webhooks"})
            await asyncio.sleep(0.5)
    finally:
        await deliverer.aclose(wait=False)
