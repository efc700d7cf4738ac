"""The edges profile: every list route with cursors that decode to values no page ever
wrote (year 1 at +14:00, 2⁶³, infinities), and every time parameter naive or out of
range. Each must be a 4xx problem that names the parameter's fault, never a 500."""

from __future__ import annotations

import base64
import itertools
import json
import uuid
from typing import Any

import httpx
import pytest

from app.core.errors import PROBLEM_JSON
from tests.builders import World

# What a decoded cursor position may hold, as raw JSON (json.loads reads Infinity and NaN).
EDGE_VALUES = [
    "9223372036854775808",  # 2⁶³: one past a bigint
    "18446744073709551616",
    "-1",
    "1e308",
    "Infinity",
    "-Infinity",
    "NaN",
    "true",
    "null",
    '"0001-01-01T00:00:00+14:00"',
    '"9999-12-31T23:59:59-14:00"',
    '"2025-01-01T00:00:00"',
    '"not a time"',
    f'"{uuid.UUID(int=0)}"',
]
NAIVE_OR_OUT_OF_RANGE = [
    "2025-01-01T00:00:00",
    "2025-01-01",
    "0001-01-01T00:00:00+14:00",
    "9999-12-31T23:59:59-14:00",
]


def _cursor(raw_json: str) -> str:
    return base64.urlsafe_b64encode(raw_json.encode()).rstrip(b"=").decode()


def edge_cursors() -> list[str]:
    """Each edge alone, beside a well-formed partner in either position, and doubled."""
    good_time, good_id = '"2025-01-01T00:00:00+08:00"', f'"{uuid.uuid4()}"'
    shapes = ["[{v}]", "[{v}, " + good_id + "]", "[" + good_time + ", {v}]", "[{v}, {v}]"]
    return [_cursor(shape.format(v=v)) for shape in shapes for v in EDGE_VALUES]


def _routes(app: Any) -> list[tuple[str, list[str], bool]]:
    """(path, its time parameters, whether it takes a cursor) of every GET that has either."""
    routes = []
    for path, item in app.openapi()["paths"].items():
        operation = item.get("get")
        if operation is None:
            continue
        query = [p for p in operation.get("parameters", []) if p["in"] == "query"]
        times = [p["name"] for p in query if "date-time" in json.dumps(p["schema"])]
        has_cursor = any(p["name"] == "cursor" for p in query)
        if times or has_cursor:
            routes.append((path, times, has_cursor))
    return routes


def _url(path: str) -> str:
    # Unknown ids answer 404 after the query is read; the refusal must still be a problem.
    return path.format_map({name: uuid.uuid4() for name in _path_names(path)})


def _path_names(path: str) -> list[str]:
    return [part[1:-1] for part in path.split("/") if part.startswith("{")]


def _assert_refused_as_a_problem(response: httpx.Response, what: str) -> None:
    assert response.status_code < 500, f"{what}: {response.status_code} {response.text[:300]}"
    if response.status_code >= 400:
        assert response.headers["content-type"].startswith(PROBLEM_JSON), what


def test_the_edges_profile_reaches_every_list_and_time_parameter(app: Any) -> None:
    routes = _routes(app)
    assert sum(has_cursor for _, _, has_cursor in routes) >= 10
    assert {name for _, times, _ in routes for name in times} >= {"from", "to", "since", "until"}


@pytest.mark.parametrize("who", ["center_admin", "volunteer_a"])
async def test_no_cursor_a_client_can_forge_is_a_server_error(
    app: Any, client: httpx.AsyncClient, world: World, who: str
) -> None:
    cursors = edge_cursors()
    for path, _, has_cursor in _routes(app):
        if not has_cursor:
            continue
        url = _url(path)
        for cursor in cursors:
            response = await client.get(url, params={"cursor": cursor}, headers=world.auth[who])
            _assert_refused_as_a_problem(response, f"{path} cursor={cursor}")


async def test_a_known_list_refuses_each_forged_cursor_as_invalid_cursor(
    client: httpx.AsyncClient, world: World
) -> None:
    auth = world.auth["volunteer_a"]
    for raw in ["[9223372036854775808]", "[-1]", "[1e308]", '["7"]', "[true]"]:
        response = await client.get(
            "/v1/me/wallet/transactions", params={"cursor": _cursor(raw)}, headers=auth
        )
        assert (response.status_code, response.json()["code"]) == (400, "invalid_cursor"), raw
    for raw in [
        f'["0001-01-01T00:00:00+14:00", "{uuid.uuid4()}"]',
        f'["2025-01-01T00:00:00", "{uuid.uuid4()}"]',
    ]:
        response = await client.get("/v1/me/hours", params={"cursor": _cursor(raw)}, headers=auth)
        assert (response.status_code, response.json()["code"]) == (400, "invalid_cursor"), raw
    for raw in [f'[Infinity, "{uuid.uuid4()}"]', f'[NaN, "{uuid.uuid4()}"]']:
        response = await client.get(
            "/v1/activities",
            params={"cursor": _cursor(raw), "latitude": 31.16, "longitude": 120.64},
            headers=auth,
        )
        assert (response.status_code, response.json()["code"]) == (400, "invalid_cursor"), raw


async def test_a_naive_or_out_of_range_time_parameter_is_a_validation_problem(
    app: Any, client: httpx.AsyncClient, world: World
) -> None:
    for path, times, _ in _routes(app):
        url = _url(path)
        for name, value in itertools.product(times, NAIVE_OR_OUT_OF_RANGE):
            response = await client.get(
                url, params={name: value}, headers=world.auth["center_admin"]
            )
            assert response.status_code == 422, f"{path} {name}={value}: {response.text[:300]}"
            body = response.json()
            assert body["code"] == "validation_failed"
            assert any(name in json.dumps(error) for error in body["errors"]), body
