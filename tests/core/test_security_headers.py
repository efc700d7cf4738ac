"""Security headers, request size limits and CORS for the mini-program's needs only."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

import httpx
from fastapi import Response
from pydantic import SecretStr
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.config import Settings
from app.main import create_app
from app.volunteers.models import Volunteer

PROBLEM = "application/problem+json"
FOREIGN = "https://evil.example"
ALLOWED = "https://admin.liangpiao.example"


@asynccontextmanager
async def serving(
    settings: Settings, before: Callable[[Any], None] | None = None
) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(settings)
    if before is not None:
        before(app)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
            yield client


def assert_api_headers(response: httpx.Response) -> None:
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["referrer-policy"] == "no-referrer"
    assert response.headers["x-frame-options"] == "DENY"
    assert response.headers["cache-control"] == "no-store"
    csp = response.headers["content-security-policy"]
    assert "default-src 'none'" in csp
    assert "frame-ancestors 'none'" in csp


async def test_api_responses_carry_the_security_headers(client: httpx.AsyncClient) -> None:
    for response in (
        await client.get("/healthz"),
        await client.get("/v1/nowhere"),
        await client.get("/v1/me"),
        await client.post("/v1/auth/wechat", content=b"{", headers={"content-type": "text/plain"}),
    ):
        assert_api_headers(response)
        # Plain HTTP in tests and development: no HSTS to pin a browser to TLS.
        assert "strict-transport-security" not in response.headers


async def test_production_adds_strict_transport_security(settings: Settings) -> None:
    prod = settings.model_copy(
        update={
            "environment": "prod",
            "wechat_secret": SecretStr("a-real-looking-secret"),
            "wechat_api_base": "https://api.weixin.qq.com",
        }
    )
    async with serving(prod) as client:
        response = await client.get("/healthz")
    assert response.headers["strict-transport-security"].startswith("max-age=63072000")


async def test_a_route_that_sets_its_own_cache_policy_keeps_it(settings: Settings) -> None:
    def with_cacheable_route(app: Any) -> None:
        @app.get("/__cacheable", include_in_schema=False)
        async def cacheable(response: Response) -> dict[str, str]:
            response.headers["Cache-Control"] = "public, max-age=300"
            return {"ok": "yes"}

    async with serving(settings, before=with_cacheable_route) as client:
        response = await client.get("/__cacheable")
    assert response.headers.get_list("cache-control") == ["public, max-age=300"]
    assert response.headers["x-content-type-options"] == "nosniff"


async def test_docs_are_served_from_the_packages_own_assets_under_a_self_only_policy(
    client: httpx.AsyncClient,
) -> None:
    for path in ("/docs", "/redoc"):
        response = await client.get(path)
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/html")
        csp = response.headers["content-security-policy"]
        directives = dict(
            (part.split()[0], part.split()[1:]) for part in csp.split("; ") if part.strip()
        )
        assert directives["default-src"] == ["'none'"]
        assert directives["frame-ancestors"] == ["'none'"]
        # No host at all: every source is the API's own origin (or data:, blob:).
        sources = {source for values in directives.values() for source in values}
        assert sources <= {"'none'", "'self'", "'unsafe-inline'", "data:", "blob:"}, csp
        assert directives["script-src"] == ["'self'"], "no inline script, no CDN"
        # The page names no other host, runs no inline script, and each asset it loads is here.
        assert "http://" not in response.text
        assert "https://" not in response.text
        assert re.search(r"<script(?![^>]*\bsrc=)[^>]*>", response.text) is None
        assets = re.findall(r'<script src="([^"]+)"', response.text)
        assets += re.findall(r'<link[^>]*href="([^"]+)"', response.text)
        assert assets
        for url in assets:
            assert url.startswith("/static/"), url
            asset = await client.get(url)
            assert asset.status_code == 200, url
            assert asset.content, url
            assert asset.headers["cache-control"] == "public, max-age=3600", url
    swagger = (await client.get("/docs")).text
    assert "/static/swagger-ui/swagger-ui-bundle.js" in swagger
    assert 'data-openapi-url="/openapi.json"' in swagger
    redirect = await client.get("/static/swagger-ui/oauth2-redirect.html")
    assert redirect.status_code == 200
    assert "script-src 'self'" in redirect.headers["content-security-policy"]
    assert (await client.get("/static/swagger-ui/oauth2-redirect.js")).status_code == 200
    # Only the docs relax the policy.
    assert (
        "script-src" not in (await client.get("/openapi.json")).headers["content-security-policy"]
    )


def test_the_vendored_assets_ship_with_their_licences_and_in_the_package() -> None:
    import tomllib
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    static = root / "app" / "static"
    for name in ("swagger-ui/LICENSE", "swagger-ui/NOTICE", "redoc/LICENSE"):
        assert (static / name).read_text().strip(), name
    pyproject = tomllib.loads((root / "pyproject.toml").read_text())
    assert "static/**/*" in pyproject["tool"]["setuptools"]["package-data"]["app"]
    assert "COPY app ./app" in (root / "Dockerfile").read_text()


# --- request size ---------------------------------------------------------------------


async def test_a_declared_oversized_body_is_refused_before_it_is_read(
    client: httpx.AsyncClient, settings: Settings, world: Any, session: AsyncSession
) -> None:
    before = await session.scalar(select(func.count()).select_from(Volunteer))
    body = b'{"code": "' + b"a" * settings.max_body_bytes + b'"}'
    response = await client.post(
        "/v1/auth/wechat", content=body, headers={"content-type": "application/json"}
    )
    assert response.status_code == 413
    assert response.headers["content-type"] == PROBLEM
    assert response.json()["code"] == "payload_too_large"
    assert_api_headers(response)
    assert await session.scalar(select(func.count()).select_from(Volunteer)) == before


async def test_a_streamed_oversized_body_is_refused_too(
    client: httpx.AsyncClient, settings: Settings, world: Any, session: AsyncSession
) -> None:
    before = await session.scalar(select(func.count()).select_from(Volunteer))

    async def chunks() -> AsyncIterator[bytes]:
        yield b'{"code": "'
        for _ in range(settings.max_body_bytes // 1024 + 1):
            yield b"a" * 1024
        yield b'"}'

    response = await client.post(
        "/v1/auth/wechat", content=chunks(), headers={"content-type": "application/json"}
    )
    assert "content-length" not in response.request.headers
    assert response.status_code == 413
    assert response.headers["content-type"] == PROBLEM
    assert response.json()["code"] == "payload_too_large"
    assert await session.scalar(select(func.count()).select_from(Volunteer)) == before


async def test_a_body_within_the_limit_is_served(client: httpx.AsyncClient) -> None:
    response = await client.post("/v1/auth/wechat", json={"code": "x" * 200})
    assert response.status_code != 413


# --- CORS -------------------------------------------------------------------------------


async def test_no_origin_is_allowed_by_default(client: httpx.AsyncClient) -> None:
    response = await client.get("/healthz", headers={"Origin": ALLOWED})
    assert response.status_code == 200
    assert "access-control-allow-origin" not in response.headers
    preflight = await client.options(
        "/v1/auth/wechat",
        headers={"Origin": ALLOWED, "Access-Control-Request-Method": "POST"},
    )
    assert "access-control-allow-origin" not in preflight.headers
    assert preflight.headers["content-type"] == PROBLEM


async def test_only_configured_origins_are_allowed(settings: Settings) -> None:
    async with serving(settings.model_copy(update={"cors_origins": [ALLOWED]})) as client:
        foreign = await client.get("/healthz", headers={"Origin": FOREIGN})
        assert foreign.status_code == 200
        assert "access-control-allow-origin" not in foreign.headers

        allowed = await client.get("/healthz", headers={"Origin": ALLOWED})
        assert allowed.headers["access-control-allow-origin"] == ALLOWED
        assert "*" not in allowed.headers["access-control-allow-origin"]
        assert "access-control-allow-credentials" not in allowed.headers
        exposed = allowed.headers["access-control-expose-headers"].lower()
        assert {"retry-after", "ratelimit", "ratelimit-policy"} <= {
            h.strip() for h in exposed.split(",")
        }

        preflight = {"Access-Control-Request-Method": "POST"}
        refused = await client.options("/v1/auth/wechat", headers={"Origin": FOREIGN, **preflight})
        assert refused.status_code == 403
        assert refused.headers["content-type"] == PROBLEM
        assert refused.json()["code"] == "cors_refused"
        assert "access-control-allow-origin" not in refused.headers

        accepted = await client.options("/v1/auth/wechat", headers={"Origin": ALLOWED, **preflight})
        assert accepted.status_code == 200
        assert accepted.headers["access-control-allow-origin"] == ALLOWED
        assert "POST" in accepted.headers["access-control-allow-methods"]


async def test_the_public_keys_may_be_cached_and_keep_the_other_headers(
    client: httpx.AsyncClient,
) -> None:
    response = await client.get("/.well-known/jwks.json")

    assert response.status_code == 200
    assert response.headers["cache-control"] == "public, max-age=300"
    assert response.headers["x-content-type-options"] == "nosniff"
    assert "default-src 'none'" in response.headers["content-security-policy"]
    assert response.json()["keys"]
    # Everything else stays out of caches.
    assert (await client.get("/healthz")).headers["cache-control"] == "no-store"
