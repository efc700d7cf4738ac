"""A query parameter a route does not take is refused, on every route: 400
`unknown_query_parameter`, naming it, never silently ignored."""

from __future__ import annotations

from typing import Any

import httpx
from fastapi.routing import APIRoute, iter_route_contexts

from app.core.routing import QueryCheckedRoute, takes_any_query
from tests.activities.support import LAT, LNG, auth


def _assert_unknown(response: httpx.Response, *names: str) -> None:
    assert response.status_code == 400, response.text
    assert response.headers["content-type"] == "application/problem+json"
    body = response.json()
    assert body["code"] == "unknown_query_parameter"
    assert body["parameter"] == names[0]
    assert body["parameters"] == list(names)
    assert repr(names[0]) in body["detail"]


async def test_an_unknown_query_parameter_is_refused_and_named(
    client: httpx.AsyncClient, app: Any, world: Any
) -> None:
    volunteer = auth(app, world.volunteer_a)
    staff = auth(app, world.center_admin)
    _assert_unknown(
        await client.get("/v1/activities", params={"limt": 5}, headers=volunteer), "limt"
    )
    _assert_unknown(await client.get("/v1/me/wallet", params={"x": ""}, headers=volunteer), "x")
    _assert_unknown(
        await client.get(
            "/v1/hours", params={"status": "pending", "sort": "new", "b": 1}, headers=staff
        ),
        "b",
        "sort",
    )
    # A route that takes no query parameter at all, and a public one.
    _assert_unknown(await client.get("/healthz?verbose=1"), "verbose")
    _assert_unknown(await client.get("/problems/not_found", params={"lang": "zh"}), "lang")
    # Checked before the body is read: a POST whose body is not even valid.
    response = await client.post("/v1/auth/logout?all=1", json={"refresh_token": 7})
    _assert_unknown(response, "all")


async def test_declared_parameters_and_the_deprecated_aliases_are_known(
    client: httpx.AsyncClient, app: Any, world: Any
) -> None:
    volunteer = auth(app, world.volunteer_a)
    for params in (
        {"limit": 5},
        {"latitude": LAT, "longitude": LNG, "within_km": 10},
        {"lat": LAT, "lng": LNG},
        {"status": "published", "from": "2026-01-01T00:00:00Z"},
    ):
        response = await client.get("/v1/activities", params=params, headers=volunteer)
        assert response.status_code == 200, (params, response.text)
    assert (
        await client.get("/v1/me/qr", params={"format": "svg"}, headers=volunteer)
    ).status_code == 200
    assert (await client.get("/healthz")).status_code == 200


async def test_oauths_endpoints_ignore_parameters_they_do_not_recognise(
    client: httpx.AsyncClient,
) -> None:
    response = await client.post(
        "/v1/oauth/token?extra=1",
        data={"grant_type": "client_credentials"},
    )
    assert response.status_code == 401
    assert response.json()["error"] == "invalid_client"


def test_every_route_checks_its_query_and_the_document_says_so(app: Any) -> None:
    spec = app.openapi()
    for context in iter_route_contexts(app.routes):
        route = context.original_route
        if not isinstance(route, APIRoute):
            continue
        assert isinstance(route, QueryCheckedRoute), (
            f"{context.path}: route_class=QueryCheckedRoute"
        )
        for method in context.methods or ():
            responses = spec["paths"][context.path][method.lower()]["responses"]
            codes = responses.get("400", {}).get("x-problem-codes", [])
            assert ("unknown_query_parameter" in codes) != takes_any_query(route), context.path
