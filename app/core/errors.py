"""Domain errors and their RFC 9457 problem+json rendering.

Services raise subclasses of `AppError`; one set of handlers turns every error,
the framework's own (404, 405, validation) and unexpected ones (500) included,
into `application/problem+json` with a stable `code`. Every subclass is listed
in the catalogue served at `/problems`.
"""

from __future__ import annotations

import logging
from typing import Any, ClassVar

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

log = logging.getLogger("liangpiao.errors")

PROBLEM_JSON = "application/problem+json"
_catalogue: dict[str, type[AppError]] = {}
# A required header (lower case) → the refusal a request without it gets.
_missing_headers: dict[str, type[AppError]] = {}


class AppError(Exception):
    """A refusal the client can act on. Subclasses set `status`, `code` and `title`."""

    status: ClassVar[int] = 400
    code: ClassVar[str] = "bad_request"
    title: ClassVar[str] = "Bad request"
    # A refusal that is itself a recorded fact (a failed login counted, a fraud
    # flag stored) commits the unit of work instead of rolling it back.
    commit: ClassVar[bool] = False
    # A header a route declares required, whose absence is this refusal rather than
    # a validation error (`validation_failed`).
    missing_header: ClassVar[str | None] = None

    def __init__(
        self,
        detail: str | None = None,
        *,
        headers: dict[str, str] | None = None,
        **extra: Any,
    ) -> None:
        self.detail = detail or self.title
        self.headers = headers or {}
        self.extra = extra
        super().__init__(self.detail)

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if "code" in cls.__dict__:
            existing = _catalogue.get(cls.code)
            if existing is not None and existing.__qualname__ != cls.__qualname__:
                raise TypeError(f"problem code {cls.code!r} is declared twice")
            _catalogue[cls.code] = cls
        header = cls.__dict__.get("missing_header")
        if header:
            _missing_headers[header.lower()] = cls


def catalogue() -> dict[str, type[AppError]]:
    return dict(sorted(_catalogue.items()))


def problem_type(code: str) -> str:
    return f"/problems/{code}"


# Generic errors any feature may raise.
class BadRequest(AppError):
    status, code, title = 400, "bad_request", "The request cannot be processed"


class MalformedBody(AppError):
    status, code, title = 400, "malformed_body", "The request body is not valid JSON"


class ValidationFailed(AppError):
    status, code, title = 422, "validation_failed", "The request has invalid fields"


class UnknownQueryParameter(AppError):
    """The request names a query parameter the route does not take (misspelt, or retired):
    the API does not answer as if it had not been sent. The problem's `parameter` names
    the first, `parameters` all of them."""

    status, code, title = (
        400,
        "unknown_query_parameter",
        "The request names a query parameter this route does not take",
    )


class InvalidCursor(AppError):
    status, code, title = 400, "invalid_cursor", "The pagination cursor is not valid"


class Unauthorized(AppError):
    """No credentials: the challenge names the scheme alone (RFC 6750 §3: a request
    without authentication gets no error code)."""

    status, code, title = 401, "unauthorized", "Authentication is required"
    challenge: ClassVar[str] = "Bearer"

    def __init__(self, detail: str | None = None, **extra: Any) -> None:
        super().__init__(detail, headers={"WWW-Authenticate": self.challenge}, **extra)


class TokenInvalid(Unauthorized):
    """A bearer token that is malformed, revoked, or of an account no longer active."""

    code, title = "token_invalid", "The access token is not valid"
    challenge = 'Bearer error="invalid_token"'


class TokenExpired(Unauthorized):
    code, title = "token_expired", "The access token has expired"
    challenge = 'Bearer error="invalid_token", error_description="The access token expired"'


class Forbidden(AppError):
    status, code, title = 403, "forbidden", "You may not do this"


class InsufficientScope(Forbidden):
    """A client's token lacks the scope the route needs, or the route is not for clients
    (RFC 6750 §3.1)."""

    code, title = "insufficient_scope", "The token's scopes do not reach this route"

    def __init__(self, detail: str | None = None, *, scopes: tuple[str, ...] = ()) -> None:
        challenge = 'Bearer error="insufficient_scope"'
        if scopes:
            challenge += f', scope="{" ".join(scopes)}"'
        super().__init__(detail, headers={"WWW-Authenticate": challenge})


class NotFound(AppError):
    status, code, title = 404, "not_found", "The resource does not exist"


class MethodNotAllowed(AppError):
    status, code, title = 405, "method_not_allowed", "The method is not allowed here"


class Conflict(AppError):
    status, code, title = 409, "conflict", "The request conflicts with the current state"


class PayloadTooLarge(AppError):
    status, code, title = 413, "payload_too_large", "The request body is too large"


class UnsupportedMediaType(AppError):
    status, code, title = 415, "unsupported_media_type", "The request body must be JSON"


class RateLimited(AppError):
    status, code, title = 429, "rate_limited", "Too many requests"


class InternalError(AppError):
    status, code, title = 500, "internal_error", "Something went wrong on our side"


class ServiceUnavailable(AppError):
    status, code, title = 503, "service_unavailable", "The service is briefly unavailable"


class UpstreamError(AppError):
    status, code, title = 502, "upstream_error", "An upstream service failed"


# The refusals every authenticated route may answer, and every route that reads a JSON body.
AUTH_ERRORS: tuple[type[AppError], ...] = (
    Unauthorized,
    TokenInvalid,
    TokenExpired,
    Forbidden,
    InsufficientScope,
)
BODY_ERRORS: tuple[type[AppError], ...] = (MalformedBody, UnsupportedMediaType, ValidationFailed)


def problem_body(
    *,
    status: int,
    code: str,
    title: str,
    detail: str,
    instance: str,
    extra: dict[str, Any] | None = None,
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "type": problem_type(code),
        "title": title,
        "status": status,
        "detail": detail,
        "instance": instance,
        "code": code,
    }
    if extra:
        body.update(extra)
    return body


def problem_response(
    request: Request,
    *,
    status: int,
    code: str,
    title: str,
    detail: str,
    headers: dict[str, str] | None = None,
    extra: dict[str, Any] | None = None,
) -> JSONResponse:
    body = problem_body(
        status=status,
        code=code,
        title=title,
        detail=detail,
        instance=request.url.path,
        extra=extra,
    )
    return JSONResponse(body, status_code=status, headers=headers, media_type=PROBLEM_JSON)


def render(request: Request, exc: AppError) -> JSONResponse:
    return problem_response(
        request,
        status=exc.status,
        code=exc.code,
        title=exc.title,
        detail=exc.detail,
        headers=exc.headers,
        extra=exc.extra,
    )


def _field_errors(exc: RequestValidationError) -> list[dict[str, Any]]:
    errors = []
    for error in exc.errors():
        loc = [str(part) for part in error.get("loc", ())]
        errors.append(
            {
                "field": ".".join(loc),
                "loc": loc,
                "message": error.get("msg", ""),
                "type": error.get("type", ""),
            }
        )
    return errors


def _missing_header_refusal(exc: RequestValidationError) -> AppError | None:
    """The refusal of a request whose only fault is a missing header that has one."""
    refusals = set()
    for error in exc.errors():
        loc = error.get("loc", ())
        if error.get("type") != "missing" or len(loc) != 2 or loc[0] != "header":
            return None
        refusal = _missing_headers.get(str(loc[1]).lower())
        if refusal is None:
            return None
        refusals.add(refusal)
    return refusals.pop()() if len(refusals) == 1 else None


_STATUS_CODES: dict[int, type[AppError]] = {
    400: BadRequest,
    401: Unauthorized,
    403: Forbidden,
    404: NotFound,
    405: MethodNotAllowed,
    409: Conflict,
    413: PayloadTooLarge,
    415: UnsupportedMediaType,
    429: RateLimited,
    503: ServiceUnavailable,
}


def install_handlers(app: FastAPI) -> None:
    async def on_app_error(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, AppError)
        return render(request, exc)

    async def on_validation(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, RequestValidationError)
        if any(e.get("type") == "json_invalid" for e in exc.errors()):
            return render(request, MalformedBody())
        missing = _missing_header_refusal(exc)
        if missing is not None:
            return render(request, missing)
        errors = _field_errors(exc)
        fields = ", ".join(e["field"] for e in errors[:5])
        return render(request, ValidationFailed(f"Invalid fields: {fields}", errors=errors))

    async def on_http(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, StarletteHTTPException)
        error_class = _STATUS_CODES.get(exc.status_code, BadRequest)
        if exc.status_code == 400 and "parsing the body" in str(exc.detail):
            # FastAPI's word for a body that is not even text (invalid UTF-8).
            error_class = MalformedBody
        detail = exc.detail if isinstance(exc.detail, str) else error_class.title
        if exc.status_code == 404 and detail == "Not Found":
            detail = f"No route matches {request.method} {request.url.path}"
        return problem_response(
            request,
            status=exc.status_code,
            code=error_class.code,
            title=error_class.title,
            detail=detail,
            headers=dict(exc.headers or {}),
        )

    async def on_unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error", extra={"path": request.url.path})
        return render(request, InternalError())

    app.add_exception_handler(AppError, on_app_error)
    app.add_exception_handler(RequestValidationError, on_validation)
    app.add_exception_handler(StarletteHTTPException, on_http)
    app.add_exception_handler(Exception, on_unexpected)


# The response extension listing every problem code a status may carry, in the order
# the route names them; `describe_problems` writes the description from it.
PROBLEM_CODES = "x-problem-codes"


def describe_problems(codes: list[str]) -> str:
    """A response's description: each problem code it may carry, with its title."""
    titles = catalogue()
    if len(codes) == 1:
        return f"{titles[codes[0]].title} (`{codes[0]}`)"
    return "One of:\n\n" + "\n".join(f"- `{code}`: {titles[code].title}" for code in codes)


def error_responses(*errors: type[AppError]) -> dict[int | str, dict[str, Any]]:
    """The `responses=` of a route: each status with every problem code it may carry."""
    by_status: dict[int, list[str]] = {}
    for error in errors:
        codes = by_status.setdefault(error.status, [])
        if error.code not in codes:
            codes.append(error.code)
    return {
        status: {
            "description": describe_problems(codes),
            PROBLEM_CODES: codes,
            "content": {PROBLEM_JSON: {"schema": {"$ref": "#/components/schemas/Problem"}}},
        }
        for status, codes in sorted(by_status.items())
    }


def add_problems(responses: dict[str, Any], *errors: type[AppError]) -> None:
    """Adds `errors` to an operation's documented responses: a status the operation
    already answers with problems gains their codes, a new status is added whole. A
    status answered otherwise (OAuth's own JSON) is left as it is."""
    for status, addition in error_responses(*errors).items():
        response = responses.setdefault(str(status), addition)
        if response is addition:
            continue
        codes = response.get(PROBLEM_CODES)
        if codes is None:
            continue
        # A new list: routes may share one `responses=` value, and FastAPI copies it shallowly.
        codes = [*codes, *(code for code in addition[PROBLEM_CODES] if code not in codes)]
        response[PROBLEM_CODES] = codes
        response["description"] = describe_problems(codes)
