"""Idempotency keys, with the semantics of the IETF `Idempotency-Key` draft.

The key is claimed, checked and stored in the same database transaction as the
effect it guards, so an effect and its stored response commit together or not
at all. Per caller (`scope`) and key:

- first use: the handler runs, its response is stored with a fingerprint of the request;
- a retry with the same request: the stored response is replayed, same status and body;
- the same key with a different request: 422 `idempotency_key_reused`;
- while the first is still running: 409 `idempotency_key_in_flight` (PostgreSQL
  advisory lock tried without waiting; SQLite serializes writers, so a retry
  waits and then replays).

Only successful responses are stored: a refused request changes nothing, so the
client may retry the same key once it has fixed what was wrong.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Annotated, Any

from fastapi import Header, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from sqlalchemy import delete, insert, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from app.core import clock
from app.core.db import fetch_rows, new_id, rowcount
from app.core.errors import AppError
from app.core.models import IdempotencyRecord

KEY_TTL = timedelta(hours=48)

_KEY = {
    "alias": "Idempotency-Key",
    "min_length": 1,
    "max_length": 255,
    "pattern": r"^[\x21-\x7e]+$",
}
_KEY_DESCRIPTION = (
    "A unique key per intended effect; a retry with the same key replays the stored "
    "response (IETF Idempotency-Key draft)."
)
# A route that takes the key without requiring it: left out, the request runs as sent.
IdempotencyKeyHeader = Annotated[str | None, Header(**_KEY, description=_KEY_DESCRIPTION)]
# A route that refuses a request without one (`idempotency_key_missing`): the API
# document marks it required, and its absence is that refusal, not a validation error.
RequiredIdempotencyKeyHeader = Annotated[
    str, Header(**_KEY, description=_KEY_DESCRIPTION + " Required: refused without it.")
]


class IdempotencyKeyMissing(AppError):
    status, code, title = 400, "idempotency_key_missing", "This request needs an Idempotency-Key"
    missing_header = "Idempotency-Key"


class IdempotencyKeyReused(AppError):
    status, code, title = (
        422,
        "idempotency_key_reused",
        "The Idempotency-Key was used for a different request",
    )


class IdempotencyKeyInFlight(AppError):
    status, code, title = (
        409,
        "idempotency_key_in_flight",
        "A request with this Idempotency-Key is still being processed",
    )


IDEMPOTENCY_ERRORS = (IdempotencyKeyMissing, IdempotencyKeyReused, IdempotencyKeyInFlight)
# A route that takes the key without requiring it.
OPTIONAL_IDEMPOTENCY_ERRORS = (IdempotencyKeyReused, IdempotencyKeyInFlight)


def fingerprint(method: str, path: str, payload: Any) -> str:
    canonical = json.dumps(payload, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(f"{method} {path}\n{canonical}".encode()).hexdigest()


def _lock_id(scope: str, key: str) -> int:
    digest = hashlib.sha256(f"{scope}\x00{key}".encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


_CLAIM_PG = text(
    "SELECT pg_try_advisory_xact_lock(:id) AS got, k.id FROM (SELECT 1) AS one "
    "LEFT JOIN idempotency_keys AS k ON k.scope = :scope AND k.key = :key"
)
# The same, and once the key is claimed (never when it is not: CASE evaluates lazily),
# wait for the handler's own lock, saving the handler that round trip.
_CLAIM_AND_LOCK_PG = text(
    "SELECT CASE WHEN pg_try_advisory_xact_lock(:id) "
    "THEN pg_advisory_xact_lock(:then_lock)::text = '' ELSE false END AS got, k.id "
    "FROM (SELECT 1) AS one "
    "LEFT JOIN idempotency_keys AS k ON k.scope = :scope AND k.key = :key"
)


async def claim(
    session: AsyncSession,
    *,
    scope: str,
    key: str,
    request_fingerprint: str,
    then_lock: int | None = None,
) -> IdempotencyRecord | None:
    """Claim `key` for this transaction; return the stored record if it already completed.

    `then_lock` names a transaction-level advisory lock that the handler needs on
    PostgreSQL: it is taken, waiting if need be, in the claim's own round trip.
    """
    record: IdempotencyRecord | None
    if session.get_bind().dialect.name == "postgresql":
        # The lock and the look-up share one round trip. If the key's first request
        # commits between this statement's snapshot and its lock, the look-up misses it;
        # then this request's own `store()` hits the unique key, its whole unit of work
        # rolls back and runs again (core.db.is_retryable), and the re-run replays.
        params: dict[str, Any] = {"id": _lock_id(scope, key), "scope": scope, "key": key}
        statement = _CLAIM_PG
        if then_lock is not None:
            statement, params["then_lock"] = _CLAIM_AND_LOCK_PG, then_lock
        got, record_id = (await session.execute(statement, params)).one()
        if not got:
            raise IdempotencyKeyInFlight()
        record = await session.get(IdempotencyRecord, record_id) if record_id else None
    else:
        record = await session.scalar(
            select(IdempotencyRecord).where(
                IdempotencyRecord.scope == scope, IdempotencyRecord.key == key
            )
        )
    if record is None:
        return None
    if record.expires_at <= clock.now():
        await session.delete(record)
        await session.flush()
        return None
    if record.fingerprint != request_fingerprint:
        raise IdempotencyKeyReused(
            "This Idempotency-Key was first used with another request; use a new key"
        )
    return record


_INSERT_RECORD = insert(IdempotencyRecord.metadata.tables[IdempotencyRecord.__tablename__])


async def store(
    session: AsyncSession,
    *,
    scope: str,
    key: str,
    request_fingerprint: str,
    status_code: int,
    body: Any,
) -> None:
    now = clock.now()
    # A core insert: nothing reads the record back in this unit of work.
    await fetch_rows(
        session,
        _INSERT_RECORD,
        {
            "id": new_id(),
            "scope": scope,
            "key": key,
            "fingerprint": request_fingerprint,
            "status_code": status_code,
            "response_body": body,
            "created_at": now,
            "expires_at": now + KEY_TTL,
        },
    )


def replay(record: IdempotencyRecord) -> JSONResponse:
    return JSONResponse(
        record.response_body,
        status_code=record.status_code,
        headers={"Idempotent-Replayed": "true"},
    )


async def idempotent(
    session: AsyncSession,
    request: Request,
    *,
    scope: str,
    key: str | None,
    payload: BaseModel | dict[str, Any] | None,
    status_code: int | Callable[[BaseModel], int],
    run: Callable[[], Awaitable[BaseModel]],
    then_lock: int | None = None,
    required: bool = True,
    kept: Callable[[dict[str, Any]], dict[str, Any]] | None = None,
) -> JSONResponse:
    """Run `run()` once per (`scope`, `key`) and answer its stored response ever after.

    `status_code` may depend on the result (say 201 posted, 202 accepted for later):
    it is stored with the response and replayed as it was. `run()` may count on
    holding the advisory lock `then_lock` (PostgreSQL), taken with the claim.
    A route that creates something takes the key without requiring it
    (`required=False`): sent, it has these semantics; left out, the request runs as
    sent, and a retry creates another. `kept` strips what is shown once (a private
    key) from the body stored for replays.
    """
    if key is None:
        if not required:
            result = await run()
            unkeyed = status_code(result) if callable(status_code) else status_code
            return JSONResponse(result.model_dump(mode="json"), status_code=unkeyed)
        raise IdempotencyKeyMissing("Send an Idempotency-Key header with this request")
    data = payload.model_dump(mode="json") if isinstance(payload, BaseModel) else payload
    request_fingerprint = fingerprint(request.method, request.scope["path"], data)
    existing = await claim(
        session,
        scope=scope,
        key=key,
        request_fingerprint=request_fingerprint,
        then_lock=then_lock,
    )
    if existing is not None:
        return replay(existing)
    result = await run()
    body = result.model_dump(mode="json")
    status = status_code(result) if callable(status_code) else status_code
    await store(
        session,
        scope=scope,
        key=key,
        request_fingerprint=request_fingerprint,
        status_code=status,
        body=kept(body) if kept is not None else body,
    )
    return JSONResponse(body, status_code=status)


async def purge_expired(session: AsyncSession) -> int:
    result = await session.execute(
        delete(IdempotencyRecord).where(IdempotencyRecord.expires_at < clock.now())
    )
    return rowcount(result)
