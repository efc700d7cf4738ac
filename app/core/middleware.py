"""ASGI middleware: request context, security headers, CORS, retries.

`RequestContext` gives each request an id, an access log line, the security
headers and the body size and media type checks. `RetryUnitOfWork` re-runs a
request from its buffered body when the database reports a serialization
failure, a deadlock or a busy SQLite file before any byte of the response has
been sent; when the database cannot be reached it answers 503 problem+json
instead of a 500.
"""

from __future__ import annotations

import asyncio
import json
import logging
import random
import time
import uuid

from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from starlette.datastructures import Headers
from starlette.middleware.cors import CORSMiddleware
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.core.db import is_disconnect, is_retryable, sqlstate
from app.core.errors import (
    PROBLEM_JSON,
    AppError,
    PayloadTooLarge,
    ServiceUnavailable,
    UnsupportedMediaType,
    problem_body,
)

access_log = logging.getLogger("liangpiao.access")
FORM_PATHS = frozenset({"/v1/oauth/token", "/v1/oauth/revoke"})
log = logging.getLogger("liangpiao.db")


class DatabaseUnavailable(ServiceUnavailable):
    code, title = "database_unavailable", "The database is unreachable; retry shortly"


class Contention(ServiceUnavailable):
    code, title = "contention", "The request kept colliding with others; retry shortly"


class CorsRefused(AppError):
    status, code, title = 403, "cors_refused", "The cross-origin request is not allowed"


async def send_problem(
    scope: Scope, send: Send, error: AppError, headers: dict[str, str] | None = None
) -> None:
    """Answer with `error` as problem+json, from middleware that runs outside the app's
    exception handlers."""
    status = error.status
    body = json.dumps(
        problem_body(
            status=status,
            code=error.code,
            title=error.title,
            detail=error.detail,
            instance=scope.get("path", ""),
        ),
        ensure_ascii=False,
    ).encode()
    raw_headers = [
        (b"content-type", PROBLEM_JSON.encode()),
        (b"content-length", str(len(body)).encode()),
    ]
    for name, value in (headers or {}).items():
        raw_headers.append((name.lower().encode(), value.encode()))
    await send({"type": "http.response.start", "status": status, "headers": raw_headers})
    await send({"type": "http.response.body", "body": body})


# SQLSTATE classes of a database that is away: 08 connection exceptions, and
# 57P01-57P03 (admin shutdown, crash shutdown, cannot connect now: starting or stopping).
_AWAY_SQLSTATES = ("57P01", "57P02", "57P03")


def _is_unreachable(exc: BaseException) -> bool:
    if isinstance(exc, (ConnectionError, OSError, asyncio.TimeoutError)):
        return True
    if isinstance(exc, DBAPIError):
        state = sqlstate(exc)
        if state.startswith("08") or state in _AWAY_SQLSTATES:
            return True
    if isinstance(exc, (InterfaceError, OperationalError)) and not is_retryable(exc):
        text = str(exc).lower()
        return any(
            marker in text
            for marker in ("connect", "connection", "closed", "terminat", "shutdown", "starting up")
        )
    return is_disconnect(exc)


# The API serves JSON only: nothing may load, run or frame anything from its responses.
API_CSP = "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
# Swagger UI and ReDoc, from the package's own assets (core.docs): scripts from 'self'
# only, no inline one; their styles are partly injected at run time, ReDoc's search runs
# in a worker made from a blob.
DOCS_CSP = (
    "default-src 'none'; "
    "script-src 'self'; "
    "style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; "
    "font-src 'self' data:; "
    "connect-src 'self'; worker-src 'self' blob:; "
    "frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
)
HSTS = "max-age=63072000; includeSubDomains"


def security_headers(*, docs: bool, hsts: bool) -> list[tuple[bytes, bytes]]:
    headers = [
        (b"x-content-type-options", b"nosniff"),
        (b"referrer-policy", b"no-referrer"),
        (b"x-frame-options", b"DENY"),
        (b"cache-control", b"no-store"),
        (b"content-security-policy", (DOCS_CSP if docs else API_CSP).encode()),
    ]
    if hsts:
        headers.append((b"strict-transport-security", HSTS.encode()))
    return headers


class RequestContext:
    """Request id (`X-Request-ID`), access log line, security headers, body size and media type.

    Security headers are added where the response did not set its own (a route
    may choose its caching); `Strict-Transport-Security` only when `hsts` is on
    (production, served over TLS behind the balancer).
    """

    def __init__(
        self,
        app: ASGIApp,
        *,
        max_body_bytes: int,
        hsts: bool = False,
        docs_paths: frozenset[str] = frozenset(),
    ) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes
        self.api_headers = security_headers(docs=False, hsts=hsts)
        self.docs_headers = security_headers(docs=True, hsts=hsts)
        self.docs_paths = docs_paths

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope["headers"])
        incoming = headers.get(b"x-request-id", b"").decode("latin-1")
        request_id = incoming if 0 < len(incoming) <= 64 and incoming.isprintable() else ""
        request_id = request_id or uuid.uuid4().hex
        scope.setdefault("state", {})["request_id"] = request_id
        started = time.perf_counter()
        status_holder = {"status": 500}
        defaults = self.docs_headers if scope["path"] in self.docs_paths else self.api_headers

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                status_holder["status"] = message["status"]
                own = list(message.get("headers", []))
                present = {name.lower() for name, _ in own}
                message["headers"] = [
                    *own,
                    (b"x-request-id", request_id.encode()),
                    *(header for header in defaults if header[0] not in present),
                ]
            await send(message)

        try:
            refusal = self._refusal(scope, headers)
            if refusal is not None:
                await send_problem(scope, send_with_id, refusal)
                return
            await self.app(scope, receive, send_with_id)
        finally:
            if access_log.isEnabledFor(logging.INFO):
                extra = {
                    "request_id": request_id,
                    "method": scope["method"],
                    "path": scope["path"],
                    "status": status_holder["status"],
                    "duration_ms": round((time.perf_counter() - started) * 1000, 2),
                }
                # An OAuth client's calls, each named by its client: who, what, when.
                client_id = scope["state"].get("client_id")
                if client_id:
                    extra["client_id"] = client_id
                access_log.info("request", extra=extra)

    def _refusal(
        self, scope: Scope, headers: dict[bytes, bytes]
    ) -> PayloadTooLarge | UnsupportedMediaType | None:
        length = headers.get(b"content-length")
        if length is not None and length.isdigit() and int(length) > self.max_body_bytes:
            return PayloadTooLarge(f"The body may be at most {self.max_body_bytes} bytes")
        if scope["method"] not in {"POST", "PUT", "PATCH"} or length in (None, b"0"):
            return None
        media = headers.get(b"content-type", b"").split(b";")[0].strip().lower()
        json_body = media == b"application/json" or media.endswith(b"+json")
        # OAuth2's token and revocation endpoints take a form body (RFC 6749, RFC 7009).
        if not json_body and scope["path"].startswith("/v1/") and scope["path"] not in FORM_PATHS:
            # A body without a Content-Type is not taken for JSON (RFC 9110 §8.3: the
            # recipient may not guess): the client is told what to send, not 422.
            sent = media.decode("latin-1") if media else "a body without Content-Type"
            return UnsupportedMediaType(f"Send the body as application/json, not {sent}")
        return None


class ProblemCORS(CORSMiddleware):
    """Starlette's CORS for the configured origins; a refused preflight is problem+json.

    The mini-program's requests are not subject to browser CORS, so origins are
    allowed only where configured (`LIANGPIAO_CORS_ORIGINS`), none by default.
    """

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] == "OPTIONS":
            headers = Headers(scope=scope)
            if "origin" in headers and "access-control-request-method" in headers:
                preflight = self.preflight_response(request_headers=headers)
                if preflight.status_code != 200:
                    refusal = CorsRefused(bytes(preflight.body).decode())
                    kept = {
                        name: value
                        for name, value in preflight.headers.items()
                        if name.startswith("access-control-") or name == "vary"
                    }
                    await send_problem(scope, send, refusal, headers=kept)
                    return
        await super().__call__(scope, receive, send)


class RetryUnitOfWork:
    """Runs a request again when its unit of work lost a race in the database."""

    def __init__(self, app: ASGIApp, *, attempts: int, max_body_bytes: int) -> None:
        self.app = app
        self.attempts = attempts
        self.max_body_bytes = max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_body_bytes:
                too_large = PayloadTooLarge(f"The body may be at most {self.max_body_bytes} bytes")
                await send_problem(scope, send, too_large)
                return
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        body = b"".join(chunks)

        for attempt in range(1, self.attempts + 1):
            started = False
            delivered = False

            async def replay() -> Message:
                nonlocal delivered
                if delivered:
                    await asyncio.sleep(3600)
                    return {"type": "http.disconnect"}
                delivered = True
                return {"type": "http.request", "body": body, "more_body": False}

            async def tracked_send(message: Message) -> None:
                nonlocal started
                if message["type"] == "http.response.start":
                    started = True
                await send(message)

            try:
                await self.app(dict(scope), replay, tracked_send)
                return
            except Exception as exc:
                if started:
                    raise
                # A pooled connection that died (a database restart) is dropped by the
                # pool; running again takes a fresh one, so no ping precedes every checkout.
                if (is_retryable(exc) or is_disconnect(exc)) and attempt < self.attempts:
                    log.info("retrying unit of work", extra={"attempt": attempt})
                    await asyncio.sleep(random.uniform(0, 0.005 * 2**attempt))  # noqa: S311
                    continue
                if is_retryable(exc):
                    error: ServiceUnavailable = Contention()
                elif _is_unreachable(exc):
                    log.warning("database unreachable: %s", type(exc).__name__)
                    error = DatabaseUnavailable()
                else:
                    raise
                await send_problem(scope, send, error, headers={"Retry-After": "1"})
                return
