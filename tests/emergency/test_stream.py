"""The muster board's stream: the board on connect, again after each change, heartbeats
while nothing changes, and the end after a stand-down's board."""

from __future__ import annotations

import asyncio
import json
import uuid
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from app.emergency import service
from app.emergency.stream import board_events
from tests.emergency.support import assert_problem, auth, enrol_row, make_grid, raise_alert


def boards(text: str) -> list[dict[str, Any]]:
    return [
        json.loads(line.removeprefix("data: "))
        for line in text.splitlines()
        if line.startswith("data: ")
    ]


async def test_the_stream_sends_the_board_then_each_change_and_ends_at_stand_down(
    session: AsyncSession, client: Any, world: Any, app: Any
) -> None:
    grid = await make_grid(session, world.point_x, world.organizer_x)
    await enrol_row(session, grid, world.volunteer_a, skills=["first_aid"])
    alert = await raise_alert(client, app, world.organizer_x, [grid])
    url = f"/v1/alerts/{alert['id']}"

    async def listen() -> tuple[str, str]:
        async with client.stream("GET", f"{url}/stream", headers=auth(app, world.organizer_x)) as r:
            assert r.status_code == 200
            return r.headers["content-type"], "".join([chunk async for chunk in r.aiter_text()])

    listening = asyncio.create_task(listen())
    await asyncio.sleep(0.5)
    await client.put(
        f"{url}/response",
        json={"answer": "coming", "eta_minutes": 4},
        headers=auth(app, world.volunteer_a),
    )
    await asyncio.sleep(0.5)
    await client.post(
        f"{url}/stand-down", json={"reason": "演练结束"}, headers=auth(app, world.organizer_x)
    )
    content_type, text = await asyncio.wait_for(listening, timeout=10)

    assert content_type.startswith("text/event-stream")
    sent = boards(text)
    assert [b["version"] for b in sent] == [1, 2, 3]
    assert [b["counts"]["coming"] for b in sent] == [0, 1, 1]
    assert sent[1]["responders"][0]["eta_minutes"] == 4
    assert sent[-1]["status"] == "stood_down"
    assert "id: 2\nevent: board\n" in text


async def test_a_volunteer_streams_the_counts_and_no_names_and_others_are_refused(
    session: AsyncSession, client: Any, world: Any, app: Any
) -> None:
    grid = await make_grid(session, world.point_x, world.organizer_x)
    await enrol_row(session, grid, world.volunteer_a)
    alert = await raise_alert(client, app, world.organizer_x, [grid])
    url = f"/v1/alerts/{alert['id']}"
    await client.post(f"{url}/stand-down", json={"reason": "x"}, headers=world.auth["organizer_x"])

    streamed = await client.get(f"{url}/stream", headers=world.auth["volunteer_a"])
    [board] = boards(streamed.text)
    assert board["responders"] is None
    assert board["counts"]["called"] == 1
    for who in ("volunteer_b", "organizer_y", "other_admin"):
        refused = await client.get(f"{url}/stream", headers=world.auth[who])
        assert_problem(refused, 404, "alert_not_found")


async def test_heartbeats_keep_a_quiet_stream_open_until_the_client_leaves(
    session: AsyncSession, client: Any, world: Any, app: Any
) -> None:
    grid = await make_grid(session, world.point_x, world.organizer_x)
    alert = await raise_alert(client, app, world.organizer_x, [grid])
    alert_id = uuid.UUID(alert["id"])
    checks = 0

    async def gone() -> bool:
        nonlocal checks
        checks += 1
        return checks > 6

    async def board(s: AsyncSession) -> Any:
        return await service.board_for_staff(
            s, alert=await service.alert_for_staff(s, staff=staff, alert_id=alert_id)
        )

    from app.identity.principals import load_staff

    async with app.state.db.sessions() as s:
        staff = await load_staff(s, world.organizer_x)
    sent = [
        chunk
        async for chunk in board_events(
            app.state.db.sessions,
            alert_id=alert_id,
            board=board,
            is_disconnected=gone,
            poll_seconds=0.01,
            heartbeat_seconds=0.02,
        )
    ]

    assert sent[0].startswith(b"id: 1\nevent: board\n")
    assert b": heartbeat\n\n" in sent[1:]
    assert len([c for c in sent if c.startswith(b"id: ")]) == 1
