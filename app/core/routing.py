"""`QueryCheckedRoute`: a route that refuses a query parameter it does not declare.

A misspelt or retired parameter (`?limt=5`, `?lat=` once its release has passed) would
otherwise be ignored and the caller answered as if it had not been sent: a list
unfiltered, a page of the default size. Each route knows its query parameters from its
signature and its dependencies; a request naming another is 400
`unknown_query_parameter`, naming it. A request with no query string, as the hot paths'
are, costs one test of an empty byte string.

OAuth's token and revocation endpoints are exempt (`@ignores_unknown_query`): RFC 6749
§3.2 has the server ignore parameters it does not recognise.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Any
from urllib.parse import parse_qsl

from fastapi import Request, Response
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute

from app.core.declarations import F, declared, declaring
from app.core.errors import UnknownQueryParameter

_EXEMPT = "ignores_unknown_query"


def ignores_unknown_query(endpoint: F) -> F:
    """Beneath a route's decorator: the route takes any query parameter and reads its own."""
    return declaring(_EXEMPT, True)(endpoint)


def declared_query_parameters(dependant: Dependant) -> frozenset[str]:
    """The names of the query parameters a route reads, its dependencies' included."""
    names: set[str] = set()
    pending = [dependant]
    while pending:
        current = pending.pop()
        names.update(field.alias for field in current.query_params)
        pending.extend(current.dependencies)
    return frozenset(names)


def refuse_unknown(query_string: bytes, known: frozenset[str]) -> None:
    names = {name for name, _ in parse_qsl(query_string.decode("latin-1"), keep_blank_values=True)}
    unknown = sorted(names - known)
    if unknown:
        takes = ", ".join(sorted(known)) or "none"
        raise UnknownQueryParameter(
            f"Unknown query parameter {unknown[0]!r}; this route takes: {takes}",
            parameter=unknown[0],
            parameters=unknown,
        )


class QueryCheckedRoute(APIRoute):
    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()
        if declared(self.endpoint, _EXEMPT, False):
            return handler
        known = declared_query_parameters(self.dependant)

        async def checked(request: Request) -> Response:
            query_string: bytes = request.scope["query_string"]
            if query_string:
                refuse_unknown(query_string, known)
            return await handler(request)

        return checked


def takes_any_query(route: APIRoute) -> bool:
    return bool(declared(route.endpoint, _EXEMPT, False))
