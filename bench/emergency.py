"""Emergency call-out benchmark on PostgreSQL, through the HTTP stack (uvicorn, 2 workers).

- Raise: an alert to two grids whose teams hold 2,000 confirmed volunteers. Every
  notification is written by the raising request, in its transaction: the request's
  duration is the time until all are enqueued; the inbox rows are then counted.
- Answers: 500 of them answer `coming` at once while a staff client listens to the
  board's stream. For each answer, the latency is from its response (the commit came
  before it) to the first board on the stream whose version includes it.

Targets: 2,000 notified within 5 s; p99 of answer → stream under 1 s.

Set-up, not measured: the region, its tree, the organizer, the volunteers and their
enrolments, written through the app's models in one transaction.

    python -m bench emergency     (LIANGPIAO_BENCH_PG names the PostgreSQL server)
"""

from __future__ import annotations

import asyncio
import json
import secrets
import time
import uuid
from datetime import timedelta
from typing import Any

import httpx
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import async_sessionmaker, create_async_engine

from app.core import clock
from app.core.security import hash_secret
from app.emergency.models import Enrolment, EnrolmentStatus, Grid, GridShape
from app.identity.models import StaffUser
from app.notifications.models import Notification
from app.orgs.models import OrgUnit, Role, StaffGrant, UnitKind
from app.tenants.service import create_region
from app.volunteers.models import Volunteer
from bench.harness import fresh_database, serve, service_env, service_keyring, settle, write_results

TEAM = 2000
ANSWERS = 500
LAT, LNG = 31.16, 120.64


async def _seed(url: str) -> dict[str, Any]:
    engine = create_async_engine(url)
    sessions = async_sessionmaker(engine, expire_on_commit=False)
    async with sessions() as session, session.begin():
        founded = await create_region(session, code=f"bench-{secrets.token_hex(4)}", name="吴江区")
        region, center = founded.region, founded.center
        parent = center
        for kind in (UnitKind.institute, UnitKind.station):
            unit = OrgUnit(region_id=region.id, parent_id=parent.id, kind=kind, name=kind, path="")
            session.add(unit)
            await session.flush()
            unit.path = f"{parent.path}{unit.id}/"
            parent = unit
        station = parent
        grids = []
        for n in range(2):
            point = OrgUnit(
                region_id=region.id,
                parent_id=station.id,
                kind=UnitKind.point,
                name=f"点{n}",
                path="",
            )
            session.add(point)
            await session.flush()
            point.path = f"{station.path}{point.id}/"
            grids.append(point)
        organizer = StaffUser(
            region_id=region.id,
            username=f"bench-{secrets.token_hex(4)}",
            display_name="组织者",
            password_hash=hash_secret("bench-password"),
        )
        session.add(organizer)
        await session.flush()
        session.add(
            StaffGrant(
                region_id=region.id,
                staff_id=organizer.id,
                org_unit_id=station.id,
                role=Role.organizer,
            )
        )
        grid_rows = [
            Grid(
                region_id=region.id,
                org_unit_id=point.id,
                shape=GridShape.circle,
                center_latitude=LAT,
                center_longitude=LNG,
                radius_m=800,
                created_by=organizer.id,
                updated_by=organizer.id,
            )
            for point in grids
        ]
        session.add_all(grid_rows)
        await session.flush()
        volunteers = [
            Volunteer(
                region_id=region.id,
                openid=f"bench-{uuid.uuid4().hex}",
                volunteer_no=f"B{uuid.uuid4().hex[:16]}",
                name=f"志愿者{i}",
            )
            for i in range(TEAM)
        ]
        session.add_all(volunteers)
        await session.flush()
        now = clock.now()
        session.add_all(
            Enrolment(
                region_id=region.id,
                grid_id=grid_rows[i % 2].id,
                volunteer_id=v.id,
                skills=["first_aid"] if i % 5 == 0 else ["logistics"],
                availability=["anytime"],
                status=EnrolmentStatus.confirmed,
                asked_at=now,
                decided_at=now,
            )
            for i, v in enumerate(volunteers)
        )
    await engine.dispose()
    return {
        "region_id": region.id,
        "organizer": organizer.id,
        "grids": [str(g.id) for g in grid_rows],
        "volunteers": [v.id for v in volunteers],
    }


async def _notifications(url: str) -> int:
    engine = create_async_engine(url)
    async with engine.connect() as conn:
        count = await conn.scalar(select(func.count()).select_from(Notification))
    await engine.dispose()
    return int(count or 0)


async def _run(base: str, url: str, seeded: dict[str, Any], env: dict[str, str]) -> dict[str, Any]:
    keyring = service_keyring(env)

    def token(sub: uuid.UUID, typ: str) -> dict[str, str]:
        value, _ = keyring.issue(sub=sub, typ=typ, region_id=seeded["region_id"])
        return {"Authorization": f"Bearer {value}"}

    staff = token(seeded["organizer"], "staff")
    limits = httpx.Limits(max_connections=ANSWERS + 10)
    async with httpx.AsyncClient(base_url=base, timeout=60, limits=limits) as http:
        body = {
            "grid_ids": seeded["grids"],
            "kind": "flood",
            "muster": {"name": "广场", "address": "松陵", "latitude": LAT, "longitude": LNG},
            "muster_by": (clock.now() + timedelta(hours=1)).isoformat(),
            "needed_total": 100,
            "needed_skills": {"first_aid": 20},
        }
        started = time.perf_counter()
        raised = await http.post("/v1/alerts", json=body, headers=staff)
        raise_seconds = time.perf_counter() - started
        assert raised.status_code == 201, raised.text
        enqueued = await _notifications(url)
        inbox_seconds = time.perf_counter() - started
        alert_id = raised.json()["id"]

        seen: dict[int, float] = {}
        ready, caught_up = asyncio.Event(), asyncio.Event()
        goal = [1 + ANSWERS]

        async def listen() -> None:
            async with http.stream("GET", f"/v1/alerts/{alert_id}/stream", headers=staff) as r:
                async for line in r.aiter_lines():
                    if line.startswith("data: "):
                        version = json.loads(line[6:])["version"]
                        seen.setdefault(version, time.perf_counter())
                        ready.set()
                        if version >= goal[0]:
                            caught_up.set()

        listener = asyncio.create_task(listen())
        await ready.wait()
        answered: list[tuple[int, float]] = []

        async def answer(volunteer_id: uuid.UUID) -> None:
            r = await http.put(
                f"/v1/alerts/{alert_id}/response",
                json={"answer": "coming", "eta_minutes": 10},
                headers=token(volunteer_id, "volunteer"),
            )
            assert r.status_code == 200, r.text
            answered.append((r.json()["version"], time.perf_counter()))

        burst = time.perf_counter()
        await asyncio.gather(*(answer(v) for v in seeded["volunteers"][:ANSWERS]))
        burst_seconds = time.perf_counter() - burst
        goal[0] = max(v for v, _ in answered)
        if max(seen) >= goal[0]:
            caught_up.set()
        await asyncio.wait_for(caught_up.wait(), timeout=10)
        listener.cancel()
        latencies = sorted(
            max(0.0, min(at for v, at in seen.items() if v >= version) - done)
            for version, done in answered
        )
    p99 = latencies[int(0.99 * (len(latencies) - 1))]
    return {
        "team": TEAM,
        "raise_seconds": round(raise_seconds, 3),
        "notifications_enqueued": enqueued,
        "inbox_written_seconds": round(inbox_seconds, 3),
        "answers": ANSWERS,
        "answers_burst_seconds": round(burst_seconds, 3),
        "boards_streamed": len(seen),
        "answer_to_stream_p50_seconds": round(latencies[len(latencies) // 2], 3),
        "answer_to_stream_p99_seconds": round(p99, 3),
        "answer_to_stream_max_seconds": round(latencies[-1], 3),
        "targets": {"notified_within_seconds": 5, "stream_p99_seconds": 1},
        "met": raise_seconds < 5 and enqueued == TEAM and p99 < 1,
    }


def main() -> None:
    with fresh_database("liangpiao_bench_emergency") as url:
        seeded = asyncio.run(_seed(url))
        settle(url)
        env = service_env(url, LIANGPIAO_RATE_LIMITS_ENABLED="false")
        with serve("app.main:create_app", env=env) as base:
            result = asyncio.run(_run(base, url, seeded, env))
    print(json.dumps(result, ensure_ascii=False, indent=2))
    path = write_results("emergency", result)
    print(f"recorded in {path}")
