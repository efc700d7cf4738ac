"""create_app(): the FastAPI application with its routers, error handlers and lifespan."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
from fastapi import FastAPI, Request, Response
from fastapi.openapi.utils import get_openapi
from fastapi.routing import APIRoute, iter_route_contexts
from sqlalchemy import text
from starlette.routing import BaseRoute

from app.core.config import Settings, get_settings
from app.core.db import Database
from app.core.docs import DOCS_PAGES, install_docs
from app.core.errors import (
    PROBLEM_JSON,
    InsufficientScope,
    InternalError,
    NotFound,
    ServiceUnavailable,
    Unauthorized,
    UnknownQueryParameter,
    ValidationFailed,
    add_problems,
    catalogue,
    error_responses,
    install_handlers,
    problem_type,
)
from app.core.middleware import ProblemCORS, RequestContext, RetryUnitOfWork
from app.core.ratelimit import (
    Limiter,
    Policy,
    RateLimitMiddleware,
    declared_rules,
    document_rate_limits,
)
from app.core.routing import QueryCheckedRoute, takes_any_query
from app.core.security import KeyRing
from app.webhooks import catalogue as webhook_catalogue

log = logging.getLogger("liangpiao")

DESCRIPTION = """\
The API of a district's 新时代文明实践 volunteer programme: volunteers sign up
for activities, check in and out on site, have their hours confirmed and earn
文明良票 that partner merchants redeem.

Errors are RFC 9457 `application/problem+json` with a stable `code`; the
catalogue of codes is at `/problems`. The one exception is OAuth's token and
revocation endpoints (`/v1/oauth/*`), whose refusals are RFC 6749 §5.2's JSON
(`{"error": ..., "error_description": ...}`), as OAuth client libraries expect.
Third-party clients authenticate with `grant_type=client_credentials`; each
operation open to them names its scope as an `oauth2` security requirement.
Lists take `?limit=&cursor=`. Mutations that a network may retry take an
`Idempotency-Key` header; where the document marks it required, a request
without one is refused (`idempotency_key_missing`). A query parameter a route
does not declare is refused, never ignored (`unknown_query_parameter`, 400,
naming it in `parameter`); a body is JSON with `Content-Type: application/json`
(without one, or with another, `unsupported_media_type`, 415). A deprecated
parameter still works and the answer says so with a `Deprecation` header (RFC
9745) and a `Link` with `rel="deprecation"`. Each error status lists every
problem code it may carry, also as `x-problem-codes`.

Retired problem codes: what only a region's center admin may do is refused
with `center_admin_required` (403) everywhere. It replaces `not_center_admin`
(reward policy), `ledger_admin_required` (ledger and adjustments),
`outbox_admin_required` (dead letters), `activity_policy_admin_required`
(activity policy), and `admin_role_required` where a region's settings or star
levels were refused; `admin_role_required` keeps its meaning for org-unit admin
roles. `wechat_rate_limited` (WeChat's quota for the service) answers 503 with
`Retry-After`, as `wechat_busy` does; it was 429.
"""


# The document's tags, in the order of the document; each operation's tags are among them.
TAGS: dict[str, str] = {
    "auth": "Logins of volunteers (WeChat) and staff, tokens, the keys that verify them",
    "me": "The signed-in volunteer's own profile, codes, hours, wallet and reservations",
    "regions": "A region (a tenant): its settings and policies",
    "org-units": "The region's tree of centre, institutes and stations",
    "teams": "Volunteer teams of the region",
    "staff": "Staff accounts and their role grants",
    "volunteers": "Volunteer profiles as staff and clients read them",
    "projects": "Projects that group activities",
    "activities": "Activities: drafted, published, cancelled, finished",
    "signups": "Volunteers signing up for activities",
    "attendance": "Check-in and check-out on site, codes, the organizer's lists",
    "hours": "Hours records: approval, corrections, make-up hours, service records",
    "ledger": "The 良票 ledger: accounts, transactions, proofs, signed heads",
    "rewards": "The region's reward policy and its adjustments",
    "merchants": "Partner merchants, their staff and pairings",
    "settlement": "Statements and the monthly settlement",
    "offers": "Merchants' offers, as managed and as browsed",
    "terminals": "Registering and managing the counters' terminals",
    "redemptions": "Redemptions and refunds, as the merchant sees them",
    "terminal": "The terminals' own signed routes (RFC 9421)",
    "outbox": "The region's undelivered events",
    "tenants": "The platform admin's routes: regions and their first admins",
    "clients": "The registry of OAuth2 clients (third-party platforms)",
    "oauth": "OAuth2: client credentials tokens, revocation, metadata",
    "webhooks": "Webhook endpoints of OAuth2 clients and the events sent to them",
    "notifications": "A volunteer's inbox, preferences and WeChat subscribe-message consents",
    "grids": "Grids (网格): points with an area, and their emergency teams",
    "alerts": "Emergency call-outs (网格应急): answers, the muster board and its stream",
    "platform": "Health, readiness and the problem catalogue",
}
SERVERS = [{"url": "/", "description": "This deployment: paths are relative to its host"}]
LICENSE = {"name": "Apache 2.0", "identifier": "Apache-2.0"}
CONTACT = {"name": "Liangpiao maintainers", "url": "https://liangpiao.example"}
# OAuth's endpoints authenticate the client itself: HTTP Basic, or in the form.
CLIENT_AUTHENTICATED = ("/v1/oauth/token", "/v1/oauth/revoke")


def _operation_id(route: APIRoute) -> str:
    return route.name


def feature_routers() -> list[Any]:
    """The feature routers, in the order the API document presents them."""
    from app.activities.attendance_router import router as attendance
    from app.activities.hours.router import router as hours
    from app.activities.router import router as activities
    from app.clients.router import router as clients
    from app.emergency.alerts_router import router as alerts
    from app.emergency.router import router as grids
    from app.identity.router import router as identity
    from app.integrations.router import router as integrations
    from app.ledger.evidence_router import router as ledger_evidence
    from app.ledger.router import router as ledger
    from app.merchants.codes_router import router as merchant_codes
    from app.merchants.offers_router import router as offers
    from app.merchants.reservations_router import router as reservations
    from app.merchants.router import router as merchants
    from app.merchants.statements_router import router as merchant_statements
    from app.merchants.terminal_admin_router import router as merchant_terminals
    from app.merchants.terminal_router import router as terminal
    from app.notifications.router import router as notifications
    from app.notifications.wechat.router import router as notification_wechat
    from app.orgs.router import router as orgs
    from app.rewards.adjustments.router import router as adjustments
    from app.rewards.router import router as rewards
    from app.tenants.router import router as tenants
    from app.volunteers.records_router import router as records
    from app.volunteers.router import router as volunteers
    from app.webhooks.router import router as webhooks

    return [
        identity,
        orgs,
        volunteers,
        activities,
        attendance,
        hours,
        records,
        notifications,
        notification_wechat,
        grids,
        alerts,
        ledger,
        rewards,
        ledger_evidence,
        adjustments,
        merchants,
        offers,
        merchant_terminals,
        merchant_statements,
        merchant_codes,
        reservations,
        terminal,
        integrations,
        tenants,
        clients,
        webhooks,
    ]


def _matching_order(routers: list[Any]) -> list[Any]:
    """The order FastAPI tries the routers in: one route after another, about 10 µs
    each, so the routers that carry most requests (the counters' terminals, check-in
    and check-out) go first. Redemption was the 101st route; moving it first took 15%
    off its CPU time."""
    from app.activities.attendance_router import router as attendance
    from app.merchants.terminal_router import router as terminal

    first = [terminal, attendance]
    return first + [router for router in routers if router not in first]


def _document_order(routes: list[BaseRoute]) -> list[BaseRoute]:
    position = {id(router): i for i, router in enumerate(feature_routers())}

    def key(route: BaseRoute) -> int:
        return position.get(id(getattr(route, "original_router", None)), len(position))

    return sorted(routes, key=key)


def _problem_schema() -> dict[str, Any]:
    return {
        "type": "object",
        "title": "Problem",
        "description": "RFC 9457 problem details",
        "required": ["type", "title", "status", "detail", "instance", "code"],
        "properties": {
            "type": {"type": "string", "description": "URI of the problem type"},
            "title": {"type": "string"},
            "status": {"type": "integer"},
            "detail": {"type": "string"},
            "instance": {"type": "string"},
            "code": {"type": "string", "description": "Stable machine-readable code"},
            "errors": {
                "type": "array",
                "items": {
                    "type": "object",
                    "properties": {
                        "field": {"type": "string"},
                        "loc": {"type": "array", "items": {"type": "string"}},
                        "message": {"type": "string"},
                        "type": {"type": "string"},
                    },
                },
            },
        },
        "additionalProperties": True,
    }


def build_openapi(app: FastAPI) -> dict[str, Any]:
    if app.openapi_schema:
        return app.openapi_schema
    schema = get_openapi(
        title=app.title,
        version=app.version,
        description=app.description,
        routes=_document_order(app.routes),
        servers=SERVERS,
        license_info=LICENSE,
        contact=CONTACT,
    )
    schema.setdefault("components", {}).setdefault("schemas", {})["Problem"] = _problem_schema()
    for path_item in schema.get("paths", {}).values():
        for operation in path_item.values():
            if not isinstance(operation, dict) or "responses" not in operation:
                continue
            responses = operation["responses"]
            if "422" in responses and "HTTPValidationError" in str(responses["422"]):
                del responses["422"]
            add_problems(responses, ValidationFailed, InternalError)
            if operation.get("security"):
                add_problems(responses, Unauthorized)
    document_rate_limits(schema)
    _document_query_refusal(app, schema)
    _document_client_scopes(app, schema)
    webhook_catalogue.document(schema)
    _document_public_operations(schema)
    _document_signature_headers(schema)
    _document_tags(schema)
    components = schema["components"]["schemas"]
    for name in ("HTTPValidationError", "ValidationError"):
        components.pop(name, None)
    app.openapi_schema = schema
    return schema


def _document_client_scopes(app: FastAPI, schema: dict[str, Any]) -> None:
    """The OAuth2 client-credentials scheme, and on each route open to clients the
    scope it needs, as the alternative to a person's bearer token."""
    from app.clients.oauth import FORM
    from app.clients.schemas import OAuthErrorBody
    from app.identity.scopes import SCOPES, declared_scopes

    components = schema.setdefault("components", {})
    components.setdefault("securitySchemes", {})["oauth2"] = {
        "type": "oauth2",
        "description": "Third-party clients: `grant_type=client_credentials` at "
        f"`/v1/oauth/token` ({FORM}); the token is an RFC 9068 ES256 JWT",
        "flows": {"clientCredentials": {"tokenUrl": "/v1/oauth/token", "scopes": SCOPES}},
    }
    components["schemas"]["OAuthErrorBody"] = OAuthErrorBody.model_json_schema()
    for route, operation in _route_operations(app, schema):
        security = operation.get("security")
        if not security:
            continue
        scopes = declared_scopes(route.endpoint)
        if scopes:
            operation["security"] = [*security, {"oauth2": list(scopes)}]
        add_problems(operation["responses"], InsufficientScope)


def _document_query_refusal(app: FastAPI, schema: dict[str, Any]) -> None:
    """Every route but OAuth's refuses a query parameter it does not declare."""
    for route, operation in _route_operations(app, schema):
        if not takes_any_query(route):
            add_problems(operation["responses"], UnknownQueryParameter)


def _route_operations(
    app: FastAPI, schema: dict[str, Any]
) -> Iterator[tuple[APIRoute, dict[str, Any]]]:
    """Each API route with each of its operations in the document."""
    paths = schema.get("paths", {})
    for context in iter_route_contexts(app.routes):
        route = context.original_route
        if not isinstance(route, APIRoute):
            continue
        for method in context.methods or ():
            operation = paths.get(context.path, {}).get(method.lower())
            if isinstance(operation, dict):
                yield route, operation


def _document_public_operations(schema: dict[str, Any]) -> None:
    """`security: []` on every operation that needs no credentials, so that a generator
    does not fall back to a document-wide default; OAuth's endpoints name HTTP Basic, the
    one of their three ways for a client to authenticate that is a header."""
    schema["components"]["securitySchemes"]["OAuthClientBasic"] = {
        "type": "http",
        "scheme": "basic",
        "description": "A client's id and secret (`client_secret_basic`, RFC 6749 §2.3.1); "
        "`client_secret_post` and `private_key_jwt` send them in the form instead",
    }
    for path, path_item in schema.get("paths", {}).items():
        for operation in path_item.values():
            if not isinstance(operation, dict) or operation.get("security"):
                continue
            operation["security"] = (
                [{"OAuthClientBasic": []}, {}] if path in CLIENT_AUTHENTICATED else []
            )


def _document_signature_headers(schema: dict[str, Any]) -> None:
    """A terminal's signature headers are required parameters of its routes: the route
    reads them as optional only to answer their absence with `signature_missing` (401)
    rather than a validation error."""
    from app.merchants.terminal_auth import SIGNATURE_HEADERS

    for path_item in schema.get("paths", {}).values():
        for operation in path_item.values():
            if {"TerminalSignature": []} not in operation.get("security", ()):
                continue
            for parameter in operation.get("parameters", ()):
                if parameter["in"] != "header" or parameter["name"] not in SIGNATURE_HEADERS:
                    continue
                parameter["required"] = True
                field = parameter["schema"]
                kinds = [kind for kind in field.pop("anyOf", ()) if kind != {"type": "null"}]
                if len(kinds) == 1:
                    field.update(kinds[0])


def _document_tags(schema: dict[str, Any]) -> None:
    used = {
        tag
        for section in ("paths", "webhooks")
        for path_item in schema.get(section, {}).values()
        for operation in path_item.values()
        if isinstance(operation, dict)
        for tag in operation.get("tags", ())
    }
    # A tag missing from TAGS is listed without a description (a test asks for one).
    schema["tags"] = [
        {"name": name, "description": description}
        for name, description in TAGS.items()
        if name in used
    ] + [{"name": name} for name in sorted(used - TAGS.keys())]


def _tune_collector(gen0_threshold: int) -> None:
    """Collect less often, and never walk the modules, models and schemas built at
    start-up: they live as long as the process (the gc.freeze() recipe)."""
    gc.collect()
    gc.freeze()
    _, gen1, gen2 = gc.get_threshold()
    gc.set_threshold(gen0_threshold, gen1, gen2)


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        from app.worker import run_jobs_forever

        app.state.http = httpx.AsyncClient(timeout=settings.wechat_timeout_seconds)
        if settings.gc_gen0_threshold:
            _tune_collector(settings.gc_gen0_threshold)
        jobs: asyncio.Task[None] | None = None
        if settings.run_jobs_in_process:
            jobs = asyncio.create_task(run_jobs_forever(app.state.db))
        try:
            yield
        finally:
            if jobs is not None:
                jobs.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await jobs
            await app.state.http.aclose()
            if app.state.limiter is not None:
                app.state.limiter.close()
            await app.state.db.dispose()

    app = FastAPI(
        title="Liangpiao API",
        version="1.0.0",
        description=DESCRIPTION,
        lifespan=lifespan,
        generate_unique_id_function=_operation_id,
        openapi_url="/openapi.json",
        # Served by core.docs from the package's own assets, not FastAPI's CDN pages.
        docs_url=None,
        redoc_url=None,
        swagger_ui_oauth2_redirect_url=None,
    )
    app.state.settings = settings
    app.state.db = Database(settings)
    app.state.keyring = KeyRing(settings)
    app.state.http = None
    app.state.limiter = Limiter.from_settings(settings) if settings.rate_limits_enabled else None

    app.router.route_class = QueryCheckedRoute
    install_handlers(app)
    for router in _matching_order(feature_routers()):
        app.include_router(router)
    _add_platform_routes(app)
    install_docs(app)
    if settings.mount_fake_wechat:
        # The development fake lives in `fakes/`, outside the package: `make run` starts
        # from the repository root, where it imports. The Dockerfile ships only `app/`,
        # and production refuses to start with this setting on, so it never mounts there.
        from fakes.partner import create_fake_partner
        from fakes.wechat import create_fake_wechat

        app.mount("/__fake_wechat", create_fake_wechat(settings))
        app.mount("/__fake_partner", create_fake_partner(settings))

    app.add_middleware(
        RetryUnitOfWork, attempts=settings.db_retry_attempts, max_body_bytes=settings.max_body_bytes
    )
    if app.state.limiter is not None:
        app.add_middleware(
            RateLimitMiddleware,
            limiter=app.state.limiter,
            policy=Policy(settings.rate_limits, declared_rules(feature_routers())),
            keyring=app.state.keyring,
        )
    if settings.cors_origins:
        app.add_middleware(
            ProblemCORS,
            allow_origins=settings.cors_origins,
            allow_methods=["GET", "POST", "PATCH", "PUT", "DELETE"],
            allow_headers=["Authorization", "Content-Type", "Idempotency-Key", "X-Request-ID"],
            expose_headers=["X-Request-ID", "Retry-After", "RateLimit", "RateLimit-Policy"],
            max_age=600,
        )
    app.add_middleware(
        RequestContext,
        max_body_bytes=settings.max_body_bytes,
        hsts=settings.environment == "prod",
        docs_paths=DOCS_PAGES,
    )
    app.openapi = lambda: build_openapi(app)  # type: ignore[method-assign]
    return app


# Public keys are public and change only when the signing key is replaced: a verifier may
# keep the set five minutes, and fetches it again when a token names a `kid` it lacks.
JWKS_CACHE_CONTROL = "public, max-age=300"


def _add_platform_routes(app: FastAPI) -> None:
    @app.get("/healthz", tags=["platform"], summary="The process is up")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get(
        "/readyz",
        tags=["platform"],
        summary="The database answers",
        responses=error_responses(ServiceUnavailable),
    )
    async def readyz(request: Request) -> dict[str, str]:
        db: Database = request.app.state.db
        try:
            async with db.engine.connect() as conn:
                await conn.execute(text("SELECT 1"))
        except Exception as exc:
            raise ServiceUnavailable("The database does not answer") from exc
        return {"status": "ready", "database": db.dialect}

    @app.get(
        "/.well-known/jwks.json",
        tags=["auth"],
        summary="Public keys of access tokens",
        responses={
            200: {
                "description": "The key set, which a verifier may cache",
                "headers": {
                    "Cache-Control": {
                        "description": JWKS_CACHE_CONTROL,
                        "schema": {"type": "string"},
                    }
                },
            }
        },
    )
    async def jwks(request: Request, response: Response) -> dict[str, Any]:
        ring: KeyRing = request.app.state.keyring
        response.headers["Cache-Control"] = JWKS_CACHE_CONTROL
        return ring.jwks()

    @app.get("/problems", tags=["platform"], summary="The catalogue of problem codes")
    async def list_problems() -> list[dict[str, Any]]:
        return [
            {"type": problem_type(code), "code": code, "status": cls.status, "title": cls.title}
            for code, cls in catalogue().items()
        ]

    @app.get(
        "/problems/{code}",
        tags=["platform"],
        summary="One problem code",
        responses=error_responses(NotFound),
    )
    async def get_problem(code: str) -> dict[str, Any]:
        cls = catalogue().get(code)
        if cls is None:
            raise NotFound(f"No problem code {code!r}")
        return {
            "type": problem_type(code),
            "code": code,
            "status": cls.status,
            "title": cls.title,
            "description": (cls.__doc__ or "").strip() or cls.title,
        }


__all__ = ["PROBLEM_JSON", "build_openapi", "create_app"]
