"""OAuth2 scopes: the catalogue a client may be granted, and the routes' declaration of
the scope a client token needs.

A route that third-party clients may call says so beneath its route decorator,
`@client_scope("activities:read")`, the way `@limited` declares rate limits: the
principal dependency reads the declaration of the route being served, so a client
token reaches exactly the routes that name one of its scopes, and the API document
shows each declaration as an OAuth2 security requirement. A route without one is
refused to every client (403 `insufficient_scope`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from starlette.requests import Request

from app.core.declarations import F, declared, declaring

# Each scope is a short list of read routes; no scope shows an ID number or a phone.
SCOPES: dict[str, str] = {
    "activities:read": "Published projects and activities of the region",
    "orgs:read": "The region, its org-unit tree and its teams",
    "volunteers:read": "Volunteer profiles, without ID numbers or phones",
    "hours:read": "Hours records of the region's activities",
    "records:read": "Volunteers' service records",
    "ledger:read": "The ledger's published digests",
    "webhooks:manage": "The client's own webhook endpoints",
}

_DECLARATION = "client_scopes"


def client_scope(*scopes: str) -> Callable[[F], F]:
    """Lets a client whose token carries every one of `scopes` call the route."""
    unknown = sorted(set(scopes) - SCOPES.keys())
    if not scopes or unknown:
        raise ValueError(f"unknown or missing scopes: {unknown}")

    return declaring(_DECLARATION, tuple(scopes))


def declared_scopes(endpoint: Callable[..., Any] | None) -> tuple[str, ...]:
    scopes: tuple[str, ...] = declared(endpoint, _DECLARATION, ())
    return scopes


def scopes_of_request(request: Request) -> tuple[str, ...]:
    """The scopes the route serving `request` asks of a client (none: clients refused)."""
    route = request.scope.get("route")
    return declared_scopes(getattr(route, "endpoint", None))
