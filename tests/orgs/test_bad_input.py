"""Every class of bad input, on every org and profile route: a problem, and nothing changed."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.pagination import encode_cursor
from app.identity.models import StaffUser
from app.orgs.models import OrgUnit, Region, StaffGrant, Team, TeamCategory
from app.volunteers.models import Volunteer
from tests.builders import World
from tests.orgs.support import Reader, assert_problem


@dataclass
class Ctx:
    world: World
    team: Team


class Write:
    """A write route, a caller allowed to use it, and a body it accepts."""

    def __init__(
        self,
        method: str,
        url: Callable[[Ctx], str],
        who: str,
        body: Callable[[Ctx], dict[str, Any]],
        name: str,
    ) -> None:
        self.method, self.url, self.who, self.body, self.name = method, url, who, body, name

    def __repr__(self) -> str:
        return f"{self.method} {self.name}"


WRITES = [
    Write(
        "PATCH",
        lambda c: f"/v1/regions/{c.world.region.id}",
        "center_admin",
        lambda c: {"name": "新名", "timezone": "Asia/Shanghai"},
        "region",
    ),
    Write(
        "POST",
        lambda c: "/v1/org-units",
        "center_admin",
        lambda c: {"name": "点", "parent_id": str(c.world.station_x.id), "kind": "point"},
        "org-units",
    ),
    Write(
        "PATCH",
        lambda c: f"/v1/org-units/{c.world.station_x.id}",
        "center_admin",
        lambda c: {"name": "新名", "address": "新址"},
        "org-unit",
    ),
    Write(
        "POST",
        lambda c: "/v1/teams",
        "center_admin",
        lambda c: {"name": "队", "org_unit_id": str(c.world.station_x.id), "category": "law"},
        "teams",
    ),
    Write(
        "PATCH",
        lambda c: f"/v1/teams/{c.team.id}",
        "center_admin",
        lambda c: {"name": "新名", "description": "新"},
        "team",
    ),
    Write(
        "POST",
        lambda c: "/v1/staff",
        "center_admin",
        lambda c: {
            "username": "newbie",
            "display_name": "新",
            "password": "p" * 12,
            "grants": [{"org_unit_id": str(c.world.station_x.id), "role": "organizer"}],
        },
        "staff",
    ),
    Write(
        "PATCH",
        lambda c: f"/v1/staff/{c.world.organizer_x.id}",
        "center_admin",
        lambda c: {"display_name": "新名"},
        "one-staff",
    ),
    Write(
        "POST",
        lambda c: f"/v1/staff/{c.world.organizer_x.id}/grants",
        "center_admin",
        lambda c: {"role": "organizer", "org_unit_id": str(c.world.point_x.id)},
        "grants",
    ),
    Write("PATCH", lambda c: "/v1/me", "volunteer_a", lambda c: {"name": "新名"}, "me"),
]
LISTS = ["/v1/regions", "/v1/org-units", "/v1/teams", "/v1/staff"]


@pytest.fixture
async def ctx(session: AsyncSession, world: World) -> Ctx:
    team = Team(
        region_id=world.region.id,
        org_unit_id=world.station_x.id,
        name="队",
        category=TeamCategory.law,
    )
    session.add(team)
    await session.commit()
    return Ctx(world=world, team=team)


async def snapshot(db: Reader) -> list[Any]:
    """Every row the org and profile routes could touch, column by column."""
    state = []
    for model in (Region, OrgUnit, Team, StaffUser, StaffGrant, Volunteer):
        rows = await db.all(select(model).order_by(model.id))
        columns = [c.key for c in model.__table__.columns]
        state.append([[getattr(r, c) for c in columns] for r in rows])
    return state


async def send(
    client: httpx.AsyncClient,
    write: Write,
    ctx: Ctx,
    *,
    body: Any = None,
    content: bytes | None = None,
    headers: dict[str, str] | None = None,
) -> httpx.Response:
    if content is None:
        content = json.dumps(write.body(ctx) if body is None else body).encode()
    return await client.request(
        write.method,
        write.url(ctx),
        content=content,
        headers={
            "Content-Type": "application/json",
            **ctx.world.auth[write.who],
            **(headers or {}),
        },
    )


async def test_the_bodies_used_here_are_accepted(
    client: httpx.AsyncClient, ctx: Ctx, db: Reader, subtests: pytest.Subtests
) -> None:
    """The refusals below are refusals of the bad part alone, not of a bad base body."""
    for write in WRITES:
        with subtests.test(route=repr(write)):
            before = await snapshot(db)
            response = await send(client, write, ctx)
            assert response.status_code in (200, 201), response.text
            assert await snapshot(db) != before


async def test_unknown_fields_are_refused(
    client: httpx.AsyncClient, ctx: Ctx, db: Reader, subtests: pytest.Subtests
) -> None:
    before = await snapshot(db)
    for write in WRITES:
        with subtests.test(route=repr(write)):
            body = {**write.body(ctx), "is_admin": True}
            problem = assert_problem(
                await send(client, write, ctx, body=body), 422, "validation_failed"
            )
            assert [e["field"] for e in problem["errors"]] == ["body.is_admin"]
            assert await snapshot(db) == before


@pytest.mark.parametrize("value", [123, ["x"], "长" * 2000], ids=["number", "list", "oversize"])
async def test_wrong_types_and_oversize_strings_are_refused(
    client: httpx.AsyncClient, ctx: Ctx, db: Reader, subtests: pytest.Subtests, value: Any
) -> None:
    before = await snapshot(db)
    for write in WRITES:
        with subtests.test(route=repr(write)):
            body = write.body(ctx)
            field = next(iter(body))
            problem = assert_problem(
                await send(client, write, ctx, body={**body, field: value}),
                422,
                "validation_failed",
            )
            assert {e["field"] for e in problem["errors"]} == {f"body.{field}"}
            assert await snapshot(db) == before


async def test_malformed_json_is_refused(
    client: httpx.AsyncClient, ctx: Ctx, db: Reader, subtests: pytest.Subtests
) -> None:
    before = await snapshot(db)
    for write in WRITES:
        for raw in (b"{", b'{"name": }', b"\xff\xfe"):
            with subtests.test(route=repr(write), raw=raw):
                response = await send(client, write, ctx, content=raw)
                assert_problem(response, 400, "malformed_body")
                assert await snapshot(db) == before


async def test_a_body_that_is_not_json_is_refused(
    client: httpx.AsyncClient, ctx: Ctx, db: Reader, subtests: pytest.Subtests
) -> None:
    before = await snapshot(db)
    for write in WRITES:
        for media in ("text/plain", "application/x-www-form-urlencoded"):
            with subtests.test(route=repr(write), media=media):
                response = await send(client, write, ctx, headers={"Content-Type": media})
                assert_problem(response, 415, "unsupported_media_type")
                assert await snapshot(db) == before


async def test_a_json_body_that_is_not_an_object_is_refused(
    client: httpx.AsyncClient, ctx: Ctx, db: Reader, subtests: pytest.Subtests
) -> None:
    before = await snapshot(db)
    for write in WRITES:
        with subtests.test(route=repr(write)):
            response = await send(client, write, ctx, content=b'["name"]')
            assert_problem(response, 422, "validation_failed")
            assert await snapshot(db) == before


async def test_a_missing_or_bad_token_is_refused(
    client: httpx.AsyncClient, ctx: Ctx, db: Reader, subtests: pytest.Subtests
) -> None:
    before = await snapshot(db)
    cases = [
        (None, "unauthorized"),
        ("Bearer not-a-jwt", "token_invalid"),
        ("Basic YTpi", "unauthorized"),
    ]
    for write in WRITES:
        for authorization, code in cases:
            with subtests.test(route=repr(write), authorization=authorization):
                headers = {"Content-Type": "application/json"}
                if authorization:
                    headers["Authorization"] = authorization
                response = await client.request(
                    write.method,
                    write.url(ctx),
                    content=json.dumps(write.body(ctx)).encode(),
                    headers=headers,
                )
                assert_problem(response, 401, code)
                assert await snapshot(db) == before


async def test_bad_ids_in_paths_are_refused(
    client: httpx.AsyncClient, ctx: Ctx, db: Reader, subtests: pytest.Subtests
) -> None:
    before = await snapshot(db)
    world = ctx.world
    auth = world.auth["center_admin"]
    requests = [
        ("GET", "/v1/regions/not-a-uuid"),
        ("PATCH", "/v1/regions/not-a-uuid"),
        ("GET", "/v1/org-units/123"),
        ("PATCH", "/v1/org-units/123"),
        ("GET", "/v1/teams/00000000-0000-0000-0000-00000000000g"),
        ("PATCH", "/v1/teams/00000000-0000-0000-0000-00000000000g"),
        ("GET", "/v1/staff/%20"),
        ("PATCH", "/v1/staff/%20"),
        ("POST", "/v1/staff/x/grants"),
        ("POST", f"/v1/staff/{world.organizer_x.id}/grants/not-a-grant/revoke"),
        ("GET", "/v1/volunteers/volunteer-1"),
    ]
    for method, url in requests:
        with subtests.test(method=method, url=url):
            body = b'{"name": "x"}' if method in ("PATCH", "POST") else None
            response = await client.request(
                method, url, content=body, headers={**auth, "Content-Type": "application/json"}
            )
            problem = assert_problem(response, 422, "validation_failed")
            assert problem["errors"][0]["field"].startswith("path.")
            assert await snapshot(db) == before


async def test_a_bad_cursor_is_refused(
    client: httpx.AsyncClient, world: World, subtests: pytest.Subtests
) -> None:
    cursors = [
        "!!!",
        "bm90IGpzb24",  # "not json"
        encode_cursor("2026-01-01T00:00:00+00:00"),  # one value, not two
        encode_cursor("yesterday", "00000000-0000-0000-0000-000000000000"),
        encode_cursor("2026-01-01T00:00:00+00:00", "not-a-uuid"),
        encode_cursor("2026-01-01T00:00:00", "00000000-0000-0000-0000-000000000000"),
    ]
    for url in LISTS:
        for cursor in cursors:
            with subtests.test(url=url, cursor=cursor):
                response = await client.get(
                    url, params={"cursor": cursor}, headers=world.auth["center_admin"]
                )
                assert_problem(response, 400, "invalid_cursor")
        with subtests.test(url=url, cursor="oversize"):
            response = await client.get(
                url, params={"cursor": "x" * 513}, headers=world.auth["center_admin"]
            )
            assert_problem(response, 422, "validation_failed")
