"""Answers under real parallel PostgreSQL connections: one row per volunteer, the answer
committed last is the one kept, and every answer gets its own version of the alert."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.emergency.models import Alert, Response
from tests.builders import make_volunteer
from tests.emergency.support import Reader, auth, enrol_row, make_grid, raise_alert

pytestmark = pytest.mark.postgres_only


async def test_twenty_answers_from_two_phones_at_once_leave_one_row_holding_the_last(
    session: AsyncSession, client: Any, world: Any, app: Any
) -> None:
    grid = await make_grid(session, world.point_x, world.organizer_x)
    await enrol_row(session, grid, world.volunteer_a)
    alert = await raise_alert(client, app, world.organizer_x, [grid])
    url = f"/v1/alerts/{alert['id']}/response"
    bodies = [
        {"answer": "coming", "eta_minutes": i} if i % 2 == 0 else {"answer": "not_coming"}
        for i in range(20)
    ]

    responses = await asyncio.gather(
        *(client.put(url, json=body, headers=auth(app, world.volunteer_a)) for body in bodies)
    )

    assert [r.status_code for r in responses] == [200] * 20
    versions = [r.json()["version"] for r in responses]
    assert sorted(versions) == list(range(2, 22))
    last = max(responses, key=lambda r: r.json()["version"]).json()
    [row] = await Reader(app).all(select(Response))
    assert (row.answer, row.eta_minutes, row.version, row.answers) == (
        last["answer"],
        last["eta_minutes"],
        21,
        20,
    )
    stored = await Reader(app).get(Alert, uuid.UUID(alert["id"]))
    assert stored.version == 21


async def test_forty_volunteers_answering_at_once_are_each_counted_once(
    session: AsyncSession, client: Any, world: Any, app: Any
) -> None:
    grid = await make_grid(session, world.point_x, world.organizer_x)
    team = [await make_volunteer(session, world.region) for _ in range(40)]
    for volunteer in team:
        await enrol_row(session, grid, volunteer, skills=["logistics"])
    alert = await raise_alert(client, app, world.organizer_x, [grid])
    url = f"/v1/alerts/{alert['id']}"

    responses = await asyncio.gather(
        *(
            client.put(f"{url}/response", json={"answer": "coming"}, headers=auth(app, v))
            for v in team
        )
    )

    assert {r.status_code for r in responses} == {200}
    board = (await client.get(url, headers=auth(app, world.organizer_x))).json()
    assert board["counts"] == {"called": 40, "coming": 40, "not_coming": 0, "no_answer": 0}
    assert board["version"] == 41
    assert {s["skill"]: s["coming"] for s in board["skills"]}["logistics"] == 40
