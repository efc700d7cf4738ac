"""Rate limits: what routes declare, the counters' store and the ASGI middleware that applies them.

Every request is counted per client IP and, when it carries credentials, per
principal, against the limits of its route: a tight set on the routes where a
caller could guess a password or a short-lived code, a generous default
elsewhere. A request over a limit is answered 429 `rate_limited` with
`Retry-After` and the IETF `RateLimit-Policy` / `RateLimit` headers
(draft-ietf-httpapi-ratelimit-headers) before it reaches the database; a
request within its limits gets the same two headers on its response.

The principal is keyed on a hash of its bearer token, so the middleware needs
no signature check: a forged or garbage token only buys a fresh principal
bucket, and the per-IP limit still holds. A terminal, which signs each request
instead, is keyed on the key id it claims together with its IP. The client IP
is the ASGI peer address; behind a load balancer, uvicorn's `--proxy-headers`
with `FORWARDED_ALLOW_IPS` set to the balancer makes that the real client.

Counters live in Redis when `LIANGPIAO_REDIS_URL` is set, shared by every
replica; otherwise in the process's memory, which is per process: N replicas
without Redis allow N times each limit. Tight limits use a moving window (never
more than `q` requests in any `w` seconds, the bound the brute-force argument
rests on); the default uses a sliding-window counter, constant memory per key.
OAuth clients have a class of their own (`CLIENTS`): counted per client, verified
by the key ring, rather than per token. Windows run on the store's wall clock, not
on the domain clock that tests move. If the store fails, requests are let through
and the failure is logged: an outage of Redis must not stop check-ins and
redemptions.
"""

from __future__ import annotations

import base64
import bisect
import hashlib
import json
import logging
import math
import re
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from fastapi.routing import APIRoute, APIRouter
from limits import RateLimitItem, RateLimitItemPerSecond, parse
from limits.aio.storage import MemoryStorage, RedisStorage, Storage
from limits.aio.strategies import (
    MovingWindowRateLimiter,
    RateLimiter,
    SlidingWindowCounterRateLimiter,
)
from limits.errors import StorageError
from starlette.routing import compile_path
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.core.config import ConfigurationError, Settings
from app.core.declarations import F, declared, declaring
from app.core.errors import AppError, RateLimited, add_problems
from app.core.middleware import send_problem
from app.core.security import KeyRing

if TYPE_CHECKING:
    import coredis

log = logging.getLogger("liangpiao.security")

Per = Literal["ip", "principal"]


@dataclass(frozen=True)
class Limit:
    """At most `rate` requests (limits' notation, "10/minute") per IP or per principal.

    `name` names the policy in the RateLimit headers and in `LIANGPIAO_RATE_LIMITS`;
    rules that share a limit share its counter.
    """

    name: str
    per: Per
    rate: str


@dataclass(frozen=True)
class Rule:
    method: str
    template: str
    limits: tuple[Limit, ...]


_DECLARATION = "rate_limits"


def limited(*limits: Limit) -> Callable[[F], F]:
    """Declares the tight limits of the route whose endpoint it decorates.

    Goes beneath the route decorator, so each feature keeps its limits beside its
    routes; `declared_rules` collects them from the app for the middleware, which
    therefore needs no list of routes of its own.
    """

    return declaring(_DECLARATION, limits)


def declared_rules(routers: Iterable[APIRouter]) -> tuple[Rule, ...]:
    """Every limit declared with `limited` on the routers' routes, one rule per method.

    The routers' own paths are the app's: the app includes them with no prefix of its own.
    """
    rules: list[Rule] = []
    for router in routers:
        for route in router.routes:
            if not isinstance(route, APIRoute):
                continue
            limits: tuple[Limit, ...] = declared(route.endpoint, _DECLARATION, ())
            if limits:
                methods = sorted(route.methods or ())
                rules.extend(Rule(method, route.path, limits) for method in methods)
    return tuple(rules)


DEFAULT: tuple[Limit, ...] = (
    Limit("default.principal", "principal", "600/minute"),
    Limit("default.ip", "ip", "3000/minute"),
)
# OAuth clients' own class: counted per client, however many tokens it holds (a token
# lives ten minutes and a client may ask for another at any time), and tighter than a
# person's, since one client speaks for a whole platform's batch jobs.
CLIENTS: tuple[Limit, ...] = (
    Limit("client.principal", "principal", "300/minute"),
    Limit("default.ip", "ip", "3000/minute"),
)

# Load balancers and orchestrators poll these; throttling them would take a replica out.
EXEMPT_PATHS = frozenset({"/healthz", "/readyz"})


def limit_names(rules: Iterable[Rule]) -> list[str]:
    names = {limit.name for rule in rules for limit in rule.limits}
    return sorted(names | {limit.name for limit in (*DEFAULT, *CLIENTS)})


@dataclass(frozen=True)
class Quota:
    """A limit with its rate resolved from the settings."""

    name: str
    per: Per
    item: RateLimitItem

    @property
    def policy_header(self) -> str:
        return f'"{self.name}";q={self.item.amount};w={self.item.get_expiry()}'


@dataclass(frozen=True)
class ResolvedRule:
    template: str
    # Principal limits first: when the caller is over its own limit, the refusal
    # must not also spend the IP's counter that others behind the same NAT share.
    quotas: tuple[Quota, ...]
    tight: bool


class Policy:
    """The policy table with the settings' overrides applied, and the lookup of a request's rule.

    Templates are the routes' own paths, compiled with Starlette's `compile_path`,
    so `{activity_id}` matches exactly the paths its route does, whatever the id.
    """

    def __init__(self, overrides: dict[str, str], rules: Iterable[Rule]) -> None:
        rules = tuple(rules)
        known = limit_names(rules)
        unknown = sorted(set(overrides) - set(known))
        if unknown:
            raise ConfigurationError(
                f"LIANGPIAO_RATE_LIMITS names unknown limits {unknown}; known: {known}"
            )

        def resolve_all(limits: tuple[Limit, ...]) -> tuple[Quota, ...]:
            ordered = sorted(limits, key=lambda limit: limit.per != "principal")
            return tuple(resolve(limit) for limit in ordered)

        def resolve(limit: Limit) -> Quota:
            rate = overrides.get(limit.name, limit.rate)
            try:
                item = parse(rate)
            except ValueError as exc:
                raise ConfigurationError(
                    f"LIANGPIAO_RATE_LIMITS[{limit.name!r}] = {rate!r} is not a rate "
                    "such as '10/minute'"
                ) from exc
            return Quota(limit.name, limit.per, item)

        self._rules: dict[str, list[tuple[re.Pattern[str], ResolvedRule]]] = {}
        for rule in rules:
            regex, _, _ = compile_path(rule.template)
            resolved = ResolvedRule(rule.template, resolve_all(rule.limits), tight=True)
            self._rules.setdefault(rule.method, []).append((regex, resolved))
        self.default = ResolvedRule("*", resolve_all(DEFAULT), tight=False)
        self.clients = ResolvedRule("*", resolve_all(CLIENTS), tight=False)

    def rule_for(self, method: str, path: str) -> ResolvedRule:
        for regex, rule in self._rules.get(method, ()):
            if regex.match(path):
                return rule
        return self.default


@dataclass(frozen=True)
class Verdict:
    quota: Quota
    allowed: bool
    remaining: int
    reset_in: int

    @property
    def header(self) -> str:
        return f'"{self.quota.name}";r={self.remaining};t={self.reset_in}'


class ProcessMemoryStorage(MemoryStorage):
    """limits' in-process store, with a sweep of expired entries that stays cheap.

    The stock store starts a new sweep of every key as soon as the last one ends, and
    hops to a worker thread for each key: with a caller per key, thousands of callers
    a minute (a Saturday morning's check-ins) kept a worker's CPU busy sweeping. This
    one sweeps at most once per `SWEEP_INTERVAL` seconds, in the event loop, with one
    bisect per key; between sweeps the strategies read only unexpired entries anyway.
    """

    SWEEP_INTERVAL = 1.0

    def __init__(self) -> None:
        super().__init__()
        self._next_sweep = 0.0

    # The hook the stock store calls before each count (name-mangled in limits).
    async def _MemoryStorage__schedule_expiry(self) -> None:
        now = time.monotonic()
        if now >= self._next_sweep:
            self._next_sweep = now + self.SWEEP_INTERVAL
            self.sweep()

    def sweep(self) -> None:
        """Drop expired entries and counters. Synchronous: no count runs meanwhile."""
        now = time.time()
        for key, events in list(self.events.items()):
            # Newest first, so expiries descend: the live ones are a prefix.
            live = bisect.bisect_left(events, -now, key=lambda entry: -entry.expiry)
            if live:
                del events[live:]
            else:
                del self.events[key]
                self.locks.pop(key, None)
        for key, expiry in list(self.expirations.items()):
            if expiry <= now:
                self.storage.pop(key, None)
                del self.expirations[key]
                self.locks.pop(key, None)


class Limiter:
    """Counts hits in the store: a moving window for tight rules, a sliding counter otherwise."""

    def __init__(self, storage: Storage, pool: coredis.ConnectionPool | None = None) -> None:
        self.storage = storage
        self._pool = pool
        self._exact: RateLimiter = MovingWindowRateLimiter(storage)
        self._cheap: RateLimiter = SlidingWindowCounterRateLimiter(storage)

    @classmethod
    def from_settings(cls, settings: Settings) -> Limiter:
        if not settings.redis_url:
            return cls(ProcessMemoryStorage())
        import coredis

        # Short timeouts: a hung Redis must cost a request milliseconds, not seconds.
        pool = coredis.ConnectionPool.from_url(
            settings.redis_url, connect_timeout=0.5, stream_timeout=0.5
        )
        storage = RedisStorage(
            "async+" + settings.redis_url,
            wrap_exceptions=True,
            key_prefix="liangpiao:ratelimit",
            connection_pool=pool,  # type: ignore[arg-type]
        )
        return cls(storage, pool)

    async def hit(self, quota: Quota, key: str, *, exact: bool) -> Verdict:
        strategy = self._exact if exact else self._cheap
        allowed = await strategy.hit(quota.item, quota.name, key)
        stats = await strategy.get_window_stats(quota.item, quota.name, key)
        reset_in = max(0, math.ceil(stats.reset_time - time.time()))
        remaining = max(0, stats.remaining) if allowed else 0
        return Verdict(quota, allowed, remaining, reset_in)

    async def first_refusal(self, quota: Quota, key: str) -> bool:
        """True once per window of `quota` for `key`: the refusal worth a log line."""
        once = RateLimitItemPerSecond(1, quota.item.get_expiry())
        return await self._exact.hit(once, "noticed", quota.name, key)

    def close(self) -> None:
        if self._pool is not None:
            self._pool.disconnect()


def hashed(kind: str, value: str) -> str:
    return hashlib.sha256(f"{kind}:{value}".encode()).hexdigest()[:32]


_KEYID = re.compile(r';\s*keyid="([^"]{1,200})"')


def _bearer_token(headers: dict[bytes, bytes]) -> str | None:
    scheme, _, token = headers.get(b"authorization", b"").decode("latin-1").partition(" ")
    token = token.strip()
    return token if scheme.lower() == "bearer" and token else None


def principal_key(headers: dict[bytes, bytes], ip: str) -> str | None:
    """The caller's bucket: a hash of its bearer token, never the token itself.

    A terminal signs each request (RFC 9421) instead; its bucket is the key id it
    claims together with its IP, so that nobody can exhaust a real terminal's
    bucket by sending unsigned requests in its name from elsewhere.
    """
    token = _bearer_token(headers)
    if token is not None:
        return hashed("bearer", token)
    keyid = _KEYID.search(headers.get(b"signature-input", b"").decode("latin-1"))
    if keyid:
        return hashed("keyid", f"{keyid.group(1)}|{ip}")
    return None


CLIENT_TOKEN_TYP = "client"  # noqa: S105 - the `typ` claim of an OAuth client's token


def client_of(headers: dict[bytes, bytes], keyring: KeyRing | None) -> str | None:
    """The OAuth client a request's bearer token belongs to, if it is a client's token
    this service signed: keying on an unverified `client_id` would let anyone spend a
    client's budget. Only tokens whose payload says `typ: client` pay for the check,
    which the key ring caches per token."""
    token = _bearer_token(headers)
    if keyring is None or token is None or token.count(".") != 2:
        return None
    payload = token.split(".")[1]
    try:
        claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    except (ValueError, TypeError):
        return None
    if not isinstance(claims, dict) or claims.get("typ") != CLIENT_TOKEN_TYP:
        return None
    try:
        verified = keyring.verify(token)
    except AppError:
        return None
    return verified.sub if verified.typ == CLIENT_TOKEN_TYP else None


def client_ip(scope: Scope) -> str:
    client = scope.get("client")
    return str(client[0]) if client else "unknown"


class RateLimitMiddleware:
    """Applies the policy to each HTTP request before the application sees it."""

    STORE_ERROR_LOG_INTERVAL = 10.0

    def __init__(
        self, app: ASGIApp, *, limiter: Limiter, policy: Policy, keyring: KeyRing | None = None
    ) -> None:
        self.app = app
        self.limiter = limiter
        self.policy = policy
        self.keyring = keyring
        self._store_error_logged_at = -math.inf

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] in EXEMPT_PATHS:
            await self.app(scope, receive, send)
            return
        method: str = scope["method"]
        rule = self.policy.rule_for(method, scope["path"])
        ip = client_ip(scope)
        headers = dict(scope["headers"])
        keys: dict[Per, str | None] = {
            "principal": principal_key(headers, ip),
            "ip": hashed("ip", ip),
        }
        if rule is self.policy.default:
            client = client_of(headers, self.keyring)
            if client is not None:
                rule = self.policy.clients
                keys["principal"] = hashed("client", client)
        verdicts: list[Verdict] = []
        try:
            for quota in rule.quotas:
                key = keys[quota.per]
                if key is None:
                    continue
                verdict = await self.limiter.hit(quota, key, exact=rule.tight)
                verdicts.append(verdict)
                if not verdict.allowed:
                    await self._notice(method, rule, verdict, key)
                    await _refuse(scope, send, verdicts)
                    return
        except StorageError as exc:
            self._log_store_error(exc)
            verdicts = []

        if not verdicts:
            await self.app(scope, receive, send)
            return
        extra = _headers(verdicts)

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", []), *extra]
            await send(message)

        await self.app(scope, receive, send_with_headers)

    async def _notice(self, method: str, rule: ResolvedRule, verdict: Verdict, key: str) -> None:
        """Logs the first refusal of a window: a security event on tight routes."""
        if not await self.limiter.first_refusal(verdict.quota, key):
            return
        log.log(
            logging.WARNING if rule.tight else logging.INFO,
            "rate_limit.exceeded",
            extra={
                "event": "rate_limit.exceeded",
                "route": f"{method} {rule.template}",
                "limit": verdict.quota.name,
                "key": key[:16],
                "retry_after": max(1, verdict.reset_in),
            },
        )

    def _log_store_error(self, exc: StorageError) -> None:
        now = time.monotonic()
        if now - self._store_error_logged_at >= self.STORE_ERROR_LOG_INTERVAL:
            self._store_error_logged_at = now
            log.error(
                "rate_limit.store_unavailable",
                extra={"event": "rate_limit.store_unavailable", "error": type(exc).__name__},
            )


async def _refuse(scope: Scope, send: Send, verdicts: list[Verdict]) -> None:
    refused = verdicts[-1]
    retry_after = max(1, refused.reset_in)
    error = RateLimited(f"Limit {refused.quota.name!r} reached; retry in {retry_after} s")
    headers = {"Retry-After": str(retry_after)}
    headers.update({name.decode(): value.decode() for name, value in _headers(verdicts)})
    await send_problem(scope, send, error, headers)


def _headers(verdicts: list[Verdict]) -> list[tuple[bytes, bytes]]:
    return [
        (b"ratelimit-policy", ", ".join(v.quota.policy_header for v in verdicts).encode()),
        (b"ratelimit", ", ".join(v.header for v in verdicts).encode()),
    ]


def document_rate_limits(schema: dict[str, Any]) -> None:
    """Adds the 429 answer, with its headers, to every operation the middleware may refuse."""
    headers = {
        "Retry-After": {
            "description": "Seconds until the request may be retried",
            "schema": {"type": "integer"},
        },
        "RateLimit-Policy": {
            "description": 'The limits applied, e.g. `"login.ip";q=10;w=60` '
            "(draft-ietf-httpapi-ratelimit-headers)",
            "schema": {"type": "string"},
        },
        "RateLimit": {
            "description": 'What is left of each limit, e.g. `"login.ip";r=0;t=42`',
            "schema": {"type": "string"},
        },
    }
    for path, path_item in schema.get("paths", {}).items():
        if path in EXEMPT_PATHS:
            continue
        for operation in path_item.values():
            if not isinstance(operation, dict) or "responses" not in operation:
                continue
            # A route may declare its own 429 (an upstream's quota): it can be either.
            add_problems(operation["responses"], RateLimited)
            response = operation["responses"][str(RateLimited.status)]
            response["headers"] = {**headers, **response.get("headers", {})}
