"""The escalation job: an alert still short when its wave's time is up calls the next
wave by itself; one that has enough coming is left as it is."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from app.core import clock
from app.emergency.jobs import escalate_due
from app.emergency.models import Alert, Wave
from tests.builders import make_unit
from tests.emergency.support import Reader, audit_of, auth, enrol_row, inbox, make_grid, raise_alert


async def test_a_short_alert_escalates_to_the_neighbouring_grids_when_its_time_is_up(
    session: AsyncSession, client: Any, world: Any, app: Any
) -> None:
    grid = await make_grid(session, world.point_x, world.organizer_x)
    neighbour = await make_grid(
        session, await make_unit(session, world.region, parent=world.station_x), world.organizer_x
    )
    await enrol_row(session, grid, world.volunteer_a, skills=["first_aid"])
    await enrol_row(session, neighbour, world.volunteer_b)
    alert = await raise_alert(
        client, app, world.organizer_x, [grid], needed_total=2, escalate_after_seconds=300
    )
    await client.put(
        f"/v1/alerts/{alert['id']}/response",
        json={"answer": "coming"},
        headers=world.auth["volunteer_a"],
    )
    sessions = app.state.db.sessions

    with clock.travel(clock.now() + timedelta(seconds=200)):
        assert await escalate_due(sessions) == 0
    assert await inbox(client, app, world.volunteer_b) == []

    with clock.travel(clock.now() + timedelta(seconds=301)):
        assert await escalate_due(sessions) == 1
        told = await inbox(client, app, world.volunteer_b)
    assert [n["data"]["alert_id"] for n in told] == [alert["id"]]
    stored = await Reader(app).get(Alert, uuid.UUID(alert["id"]))
    assert stored.wave == Wave.neighbours
    assert stored.escalate_at is not None
    assert await audit_of(Reader(app), alert["id"]) == ["alert_raised", "alert_escalated"]

    with clock.travel(clock.now() + timedelta(seconds=1000)):
        assert await escalate_due(sessions) == 1
        assert await escalate_due(sessions) == 0
    final = await Reader(app).get(Alert, uuid.UUID(alert["id"]))
    assert final.wave == Wave.station
    assert final.escalate_at is None


async def test_an_alert_with_enough_coming_is_not_escalated_but_looked_at_again(
    session: AsyncSession, client: Any, world: Any, app: Any
) -> None:
    grid = await make_grid(session, world.point_x, world.organizer_x)
    await enrol_row(session, grid, world.volunteer_a, skills=["first_aid"])
    alert = await raise_alert(
        client,
        app,
        world.organizer_x,
        [grid],
        needed_total=1,
        needed_skills={"first_aid": 1},
        escalate_after_seconds=60,
    )
    await client.put(
        f"/v1/alerts/{alert['id']}/response",
        json={"answer": "coming", "eta_minutes": 3},
        headers=auth(app, world.volunteer_a),
    )

    later = clock.now() + timedelta(seconds=61)
    with clock.travel(later):
        assert await escalate_due(app.state.db.sessions) == 0
    stored = await Reader(app).get(Alert, uuid.UUID(alert["id"]))
    assert stored.wave == Wave.grids
    assert stored.escalate_at is not None
    assert stored.escalate_at > later
