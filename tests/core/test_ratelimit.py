"""Rate limits: per principal and per IP, tight on code-guessing routes, 429 with the IETF headers.

Each test serves its own app with tight limits (`LIANGPIAO_RATE_LIMITS` overrides)
and, where counters may be shared (Redis), its own client address, so that runs
in parallel never count each other's requests.
"""

from __future__ import annotations

import asyncio
import logging
import math
import os
import re
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
import pytest
from limits import parse
from limits.aio.strategies import MovingWindowRateLimiter, SlidingWindowCounterRateLimiter
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.activities import codes as checkin_codes
from app.core.config import ConfigurationError, Settings
from app.core.ratelimit import (
    DEFAULT,
    Limit,
    ProcessMemoryStorage,
    Rule,
    declared_rules,
)
from app.identity.models import RefreshToken
from app.main import create_app, feature_routers
from app.merchants import codes as redemption_codes
from tests.builders import PASSWORD, bearer

PROBLEM = "application/problem+json"
REDIS_URL = os.environ.get("LIANGPIAO_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")


def unique_ip() -> str:
    """A documentation-range IPv6 address of this test's own: a label, never contacted."""
    groups = uuid.uuid4().hex[:16]
    return "2001:db8:" + ":".join(groups[i : i + 4] for i in range(0, 16, 4))


def limited(settings: Settings, **overrides: Any) -> Settings:
    """The test settings with rate limits on (whatever the suite's default) and `overrides`."""
    return settings.model_copy(update={"rate_limits_enabled": True, **overrides})


@asynccontextmanager
async def serving(
    settings: Settings, *, ip: str = "203.0.113.7"
) -> AsyncIterator[tuple[Any, httpx.AsyncClient]]:
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False, client=(ip, 40000))
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
            yield app, client


def volunteer_token(app: Any) -> dict[str, str]:
    """A validly signed token of a volunteer who does not exist: the route refuses it later."""
    return bearer(app, sub=uuid.uuid4(), typ="volunteer", region_id=uuid.uuid4())


def check_in_path(activity_id: uuid.UUID | None = None) -> str:
    return f"/v1/activities/{activity_id or uuid.uuid4()}/check-in"


@pytest.fixture
def rules() -> tuple[Rule, ...]:
    return declared_rules(feature_routers())


def rule_limits(rules: tuple[Rule, ...], method: str, template: str) -> dict[str, Limit]:
    rule = next(r for r in rules if (r.method, r.template) == (method, template))
    return {limit.per: limit for limit in rule.limits}


def assert_throttled(response: httpx.Response, limit: str, quota: int) -> None:
    assert response.status_code == 429
    assert response.headers["content-type"] == PROBLEM
    body = response.json()
    assert body["code"] == "rate_limited"
    assert body["status"] == 429
    assert body["instance"] == response.request.url.path
    retry_after = int(response.headers["retry-after"])
    assert 1 <= retry_after <= 60
    assert f'"{limit}";q={quota};w=60' in response.headers["ratelimit-policy"]
    remaining = re.search(rf'"{re.escape(limit)}";r=(\d+);t=(\d+)', response.headers["ratelimit"])
    assert remaining is not None
    assert remaining.group(1) == "0"
    assert int(remaining.group(2)) <= retry_after


# --- the policy table -------------------------------------------------------------------


# Where a caller could guess a password or a short-lived code, or spend a volunteer's
# 良票 with one: each of these routes must declare its own tight limits.
TIGHT_ROUTES = {
    ("POST", "/v1/auth/wechat"),
    ("POST", "/v1/auth/login"),
    ("POST", "/v1/auth/refresh"),
    # A client's secret is guessed at the OAuth endpoints.
    ("POST", "/v1/oauth/token"),
    ("POST", "/v1/oauth/revoke"),
    ("POST", "/v1/me/redemption-codes"),
    ("POST", "/v1/me/reservations"),
    ("POST", "/v1/terminal/redemptions"),
    ("POST", "/v1/terminal/reservations/pickups"),
    ("POST", "/v1/activities/{activity_id}/check-in"),
    ("POST", "/v1/activities/{activity_id}/check-out"),
    ("GET", "/v1/activities/{activity_id}/checkin-code"),
    ("POST", "/v1/activities/{activity_id}/attendances/scan"),
}


def test_the_routes_open_to_guessing_declare_tight_limits(rules: tuple[Rule, ...]) -> None:
    assert {(rule.method, rule.template) for rule in rules} == TIGHT_ROUTES
    # Each is limited per IP, so fresh tokens or key ids buy a guesser nothing.
    assert all(any(limit.per == "ip" for limit in rule.limits) for rule in rules)


def test_check_in_and_check_out_share_one_counter(rules: tuple[Rule, ...]) -> None:
    check_in = rule_limits(rules, "POST", "/v1/activities/{activity_id}/check-in")
    check_out = rule_limits(rules, "POST", "/v1/activities/{activity_id}/check-out")
    assert check_in == check_out


def test_every_limit_parses_and_tight_ones_are_tighter_than_the_default(
    rules: tuple[Rule, ...],
) -> None:
    default = {limit.per: parse(limit.rate) for limit in DEFAULT}
    for rule in rules:
        for limit in rule.limits:
            item = parse(limit.rate)
            per_second = item.amount / item.get_expiry()
            default_item = default[limit.per]
            assert per_second < default_item.amount / default_item.get_expiry(), limit.name


def test_an_unknown_or_malformed_override_stops_start_up(settings: Settings) -> None:
    with pytest.raises(ConfigurationError, match="unknown limits"):
        create_app(limited(settings, rate_limits={"login.ipp": "5/minute"}))
    with pytest.raises(ConfigurationError, match="is not a rate"):
        create_app(limited(settings, rate_limits={"login.ip": "often"}))


def test_guessing_a_redemption_code_is_hopeless_at_the_configured_limit(
    rules: tuple[Rule, ...],
) -> None:
    limit = parse(rule_limits(rules, "POST", "/v1/terminal/redemptions")["principal"].rate)
    lifetime = redemption_codes.ONLINE_TTL.total_seconds()
    digits = redemption_codes.CODE_LENGTH - len(redemption_codes.ONLINE_PREFIX)
    space = 10**digits
    # A moving window admits at most `amount` hits in any `expiry` seconds.
    attempts_in_lifetime = limit.amount * math.ceil(lifetime / limit.get_expiry())
    expected_guesses_to_hit_one_code = (space + 1) / 2
    assert expected_guesses_to_hit_one_code / attempts_in_lifetime > 1e13

    # Against every code alive in a region at once (a generous 10,000), for a year.
    live_codes = 10_000
    attempts_per_year = limit.amount * 365 * 86400 / limit.get_expiry()
    assert attempts_per_year * live_codes / space < 1e-4


def test_guessing_a_checkin_code_is_hopeless_at_the_configured_limit(
    rules: tuple[Rule, ...],
) -> None:
    limit = parse(
        rule_limits(rules, "POST", "/v1/activities/{activity_id}/check-in")["principal"].rate
    )
    mac_bits = 6 * checkin_codes._MAC_CHARS  # base64url characters carry 6 bits each
    space = 2**mac_bits
    # The current and the previous 10-second window are accepted: a code lives 20 s.
    lifetime = 2 * checkin_codes.WINDOW_SECONDS
    attempts_in_lifetime = limit.amount * math.ceil(lifetime / limit.get_expiry())
    assert (space + 1) / 2 / attempts_in_lifetime > 1e11

    # Over a whole day of an activity, guessing without pause, two codes valid at any time.
    attempts_per_day = limit.amount * 86400 / limit.get_expiry()
    assert attempts_per_day * 2 / space < 1e-7


# --- per principal and per IP ---------------------------------------------------------


async def test_check_in_is_throttled_per_principal_across_activities(settings: Settings) -> None:
    async with serving(limited(settings, rate_limits={"attendance.principal": "2/minute"})) as (
        app,
        client,
    ):
        volunteer, other = volunteer_token(app), volunteer_token(app)
        first = await client.post(check_in_path(), json={}, headers=volunteer)
        second = await client.post(check_in_path(), json={}, headers=volunteer)
        assert first.status_code != 429
        assert second.status_code != 429
        assert '"attendance.principal";r=1;' in first.headers["ratelimit"]
        assert '"attendance.principal";r=0;' in second.headers["ratelimit"]
        assert '"attendance.principal";q=2;w=60' in first.headers["ratelimit-policy"]

        # The limit is the route's, not the path's: another activity shares the counter.
        third = await client.post(check_in_path(), json={}, headers=volunteer)
        assert_throttled(third, "attendance.principal", 2)
        # Check-out shares it too, so alternating gains a guesser nothing.
        out = await client.post(
            f"/v1/activities/{uuid.uuid4()}/check-out", json={}, headers=volunteer
        )
        assert_throttled(out, "attendance.principal", 2)

        # Another volunteer on the same network is not affected.
        assert (await client.post(check_in_path(), json={}, headers=other)).status_code != 429


async def test_garbage_tokens_are_still_limited_per_ip(settings: Settings) -> None:
    overrides = {"attendance.principal": "100/minute", "attendance.ip": "3/minute"}
    async with serving(limited(settings, rate_limits=overrides)) as (_, client):
        for n in range(3):
            garbage = {"Authorization": f"Bearer garbage-{n}"}
            response = await client.post(check_in_path(), json={}, headers=garbage)
            assert response.status_code == 401
        refused = await client.post(
            check_in_path(), json={}, headers={"Authorization": "Bearer garbage-4"}
        )
        assert_throttled(refused, "attendance.ip", 3)


async def test_a_terminal_is_counted_by_the_key_id_it_claims_from_its_address(
    settings: Settings,
) -> None:
    def signed_as(key_id: str) -> dict[str, str]:
        return {
            "Signature-Input": f'sig1=("@method" "@path");created=1;nonce="n{uuid.uuid4().hex}"'
            f';keyid="{key_id}";alg="ed25519"',
            "Signature": "sig1=:AAAA:",
        }

    tight = limited(settings, redis_url=REDIS_URL, rate_limits={"redemption.principal": "2/minute"})
    terminal, other_terminal = str(uuid.uuid4()), str(uuid.uuid4())
    shop = unique_ip()
    async with serving(tight, ip=shop) as (_, client):
        for _ in range(2):
            response = await client.post(
                "/v1/terminal/redemptions", json={}, headers=signed_as(terminal)
            )
            assert response.status_code != 429
        refused = await client.post(
            "/v1/terminal/redemptions", json={}, headers=signed_as(terminal)
        )
        assert_throttled(refused, "redemption.principal", 2)
        another = await client.post(
            "/v1/terminal/redemptions", json={}, headers=signed_as(other_terminal)
        )
        assert another.status_code != 429
    # Requests claiming the terminal's key id from elsewhere do not use up its counter.
    async with serving(tight, ip=unique_ip()) as (_, client):
        elsewhere = await client.post(
            "/v1/terminal/redemptions", json={}, headers=signed_as(terminal)
        )
        assert elsewhere.status_code != 429


async def test_every_operation_but_the_probes_documents_its_429(settings: Settings) -> None:
    paths = create_app(settings).openapi()["paths"]
    for path, operations in paths.items():
        for method, operation in operations.items():
            refusal = operation["responses"].get("429")
            if path in ("/healthz", "/readyz"):
                assert refusal is None
                continue
            assert refusal is not None, f"{method.upper()} {path}"
            assert {"Retry-After", "RateLimit", "RateLimit-Policy"} <= set(refusal["headers"])


async def test_each_client_address_has_its_own_counter(settings: Settings) -> None:
    tight = limited(settings, rate_limits={"wechat-login.ip": "1/minute"}, redis_url=REDIS_URL)
    first_ip, second_ip = unique_ip(), unique_ip()
    async with serving(tight, ip=first_ip) as (_, client):
        assert (await client.post("/v1/auth/wechat", json={})).status_code == 422
        assert_throttled(await client.post("/v1/auth/wechat", json={}), "wechat-login.ip", 1)
    async with serving(tight, ip=second_ip) as (_, client):
        assert (await client.post("/v1/auth/wechat", json={})).status_code == 422


async def test_a_refused_login_never_reaches_the_password_check(
    settings: Settings, app: Any, world: Any, session: AsyncSession
) -> None:
    body = {"username": world.center_admin.username, "password": PASSWORD}
    async with serving(limited(settings, rate_limits={"login.ip": "1/minute"})) as (_, client):
        assert (await client.post("/v1/auth/login", json=body)).status_code == 200
        tokens_before = await session.scalar(select(func.count()).select_from(RefreshToken))
        refused = await client.post("/v1/auth/login", json=body)
    assert_throttled(refused, "login.ip", 1)
    assert "access_token" not in refused.text
    tokens_after = await session.scalar(select(func.count()).select_from(RefreshToken))
    assert tokens_after == tokens_before == 1


async def test_a_refused_wechat_login_never_calls_wechat(
    settings: Settings, app: Any, world: Any, fake_wechat: Any
) -> None:
    async def jscode2session_calls() -> int:
        async with httpx.AsyncClient(base_url=fake_wechat.url) as wechat:
            stats = (await wechat.get("/__stats")).json()
        return int(next((v for k, v in stats.items() if "jscode2session" in k), 0))

    code = f"abuse{uuid.uuid4().hex[:8]}"
    login = {"code": code, "region_code": world.region.code}
    async with serving(limited(settings, rate_limits={"wechat-login.ip": "1/minute"})) as (
        _,
        client,
    ):
        assert (await client.post("/v1/auth/wechat", json=login)).status_code in (200, 201)
        calls = await jscode2session_calls()
        assert_throttled(await client.post("/v1/auth/wechat", json=login), "wechat-login.ip", 1)
        assert await jscode2session_calls() == calls


async def test_other_routes_fall_under_the_default_per_principal_and_per_ip(
    settings: Settings,
) -> None:
    overrides = {"default.principal": "2/minute", "default.ip": "4/minute"}
    async with serving(limited(settings, rate_limits=overrides)) as (app, client):
        token = volunteer_token(app)
        for _ in range(2):
            assert (await client.get("/v1/me", headers=token)).status_code != 429
        assert_throttled(await client.get("/v1/me", headers=token), "default.principal", 2)
        # Anonymous requests count only against the address, which has 2 of 4 left.
        for _ in range(2):
            response = await client.get("/problems")
            assert response.status_code == 200
            assert '"default.ip";q=4;w=60' in response.headers["ratelimit-policy"]
        assert_throttled(await client.get("/problems"), "default.ip", 4)


async def test_an_oauth_client_has_its_own_class_counted_across_its_tokens(
    settings: Settings,
) -> None:
    overrides = {"client.principal": "2/minute", "default.principal": "5/minute"}
    async with serving(limited(settings, rate_limits=overrides)) as (app, client):
        client_id = uuid.uuid4()

        def client_token() -> dict[str, str]:
            return bearer(
                app, sub=client_id, typ="client", region_id=uuid.uuid4(), jti=uuid.uuid4().hex
            )

        # Two tokens of one client share its counter; a forged one with its id does not.
        forged = {"Authorization": client_token()["Authorization"][:-4] + "AAAA"}
        for _ in range(3):
            assert (await client.get("/v1/activities", headers=forged)).status_code != 429
        assert (await client.get("/v1/activities", headers=client_token())).status_code != 429
        assert (await client.get("/v1/activities", headers=client_token())).status_code != 429
        assert_throttled(
            await client.get("/v1/activities", headers=client_token()), "client.principal", 2
        )


async def test_health_probes_are_never_throttled(settings: Settings) -> None:
    async with serving(limited(settings, rate_limits={"default.ip": "1/minute"})) as (_, client):
        for _ in range(3):
            response = await client.get("/healthz")
            assert response.status_code == 200
            assert "ratelimit" not in response.headers


async def test_a_refusal_carries_the_request_id_and_security_headers(settings: Settings) -> None:
    async with serving(limited(settings, rate_limits={"default.ip": "1/minute"})) as (_, client):
        await client.get("/problems")
        refused = await client.get("/problems", headers={"X-Request-ID": "abuse-1"})
    assert refused.status_code == 429
    assert refused.headers["x-request-id"] == "abuse-1"
    assert refused.headers["x-content-type-options"] == "nosniff"
    assert refused.headers["cache-control"] == "no-store"


async def test_disabled_rate_limits_count_nothing(settings: Settings) -> None:
    off = limited(settings, rate_limits_enabled=False, rate_limits={"default.ip": "1/minute"})
    async with serving(off) as (app, client):
        assert app.state.limiter is None
        for _ in range(3):
            response = await client.get("/problems")
            assert response.status_code == 200
            assert "ratelimit" not in response.headers


# --- noticing abuse ---------------------------------------------------------------------


async def test_hitting_a_tight_limit_logs_one_security_event_without_the_token(
    settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="liangpiao.security")
    ip = "198.51.100.23"
    async with serving(
        limited(settings, rate_limits={"attendance.principal": "1/minute"}), ip=ip
    ) as (app, client):
        token = volunteer_token(app)
        for _ in range(4):
            await client.post(check_in_path(), json={"code": "A" * 32}, headers=token)

    events = [r for r in caplog.records if r.getMessage() == "rate_limit.exceeded"]
    assert len(events) == 1  # once per window, not once per refused request
    event = events[0]
    assert event.levelno == logging.WARNING
    assert event.__dict__["route"] == "POST /v1/activities/{activity_id}/check-in"
    assert event.__dict__["limit"] == "attendance.principal"
    assert re.fullmatch(r"[0-9a-f]{16}", event.__dict__["key"])
    raw = token["Authorization"].removeprefix("Bearer ")
    logged = " ".join(r.getMessage() + repr(r.__dict__) for r in caplog.records)
    for secret in (raw, ip, "A" * 32):
        assert secret not in logged


async def test_hitting_the_default_limit_is_logged_at_info(
    settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="liangpiao.security")
    async with serving(limited(settings, rate_limits={"default.ip": "1/minute"})) as (_, client):
        for _ in range(3):
            await client.get("/problems")
    events = [r for r in caplog.records if r.getMessage() == "rate_limit.exceeded"]
    assert [e.levelno for e in events] == [logging.INFO]
    assert events[0].__dict__["route"] == "GET *"


# --- the store ----------------------------------------------------------------------------


async def test_replicas_sharing_redis_share_the_counters(settings: Settings) -> None:
    shared = limited(
        settings, redis_url=REDIS_URL, rate_limits={"attendance.principal": "3/minute"}
    )
    ip = unique_ip()
    async with serving(shared, ip=ip) as (one, first), serving(shared, ip=ip) as (_, second):
        token = volunteer_token(one)
        assert (await first.post(check_in_path(), json={}, headers=token)).status_code != 429
        assert (await second.post(check_in_path(), json={}, headers=token)).status_code != 429
        assert (await first.post(check_in_path(), json={}, headers=token)).status_code != 429
        refused = await second.post(check_in_path(), json={}, headers=token)
        assert_throttled(refused, "attendance.principal", 3)


async def test_without_redis_the_counters_are_the_process_own(settings: Settings) -> None:
    local = limited(settings, redis_url=None, rate_limits={"default.ip": "1/hour"})
    async with serving(local) as (_, first), serving(local) as (_, second):
        assert (await first.get("/problems")).status_code == 200
        assert (await second.get("/problems")).status_code == 200
        assert (await first.get("/problems")).status_code == 429


async def test_an_unreachable_store_lets_requests_through_and_says_so(
    settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.ERROR, logger="liangpiao.security")
    broken = limited(settings, redis_url="redis://127.0.0.1:1/0")
    async with serving(broken) as (_, client):
        for _ in range(2):
            response = await client.get("/problems")
            assert response.status_code == 200
            assert "ratelimit" not in response.headers
    errors = [r for r in caplog.records if r.getMessage() == "rate_limit.store_unavailable"]
    assert len(errors) == 1


async def test_the_process_store_counts_and_sweeps_at_most_once_per_interval() -> None:
    storage = ProcessMemoryStorage()
    sweeps: list[float] = []
    sweep = storage.sweep

    def counted() -> None:
        sweeps.append(time.monotonic())
        sweep()

    storage.sweep = counted  # type: ignore[method-assign]
    exact, cheap = MovingWindowRateLimiter(storage), SlidingWindowCounterRateLimiter(storage)
    item = parse("3/second")
    assert [await exact.hit(item, "t", "one") for _ in range(4)] == [True, True, True, False]
    for n in range(300):
        await exact.hit(item, "t", f"caller-{n}")
        await cheap.hit(item, "t", f"caller-{n}")
    # 604 counts within the interval: one sweep, at the first; the stock store's sweep,
    # a thread hop per key, never started.
    assert len(sweeps) == 1
    assert storage.timer is None
    assert len(storage.events) == 301
    # Counters live twice their window; once that has passed, the next count sweeps.
    await asyncio.sleep(2.1)
    assert await exact.hit(item, "t", "one")
    assert len(sweeps) == 2
    assert len(storage.events) == 1
    assert len(storage.expirations) == 0
