"""Check-in benchmark: many volunteers checking in to many activities through the real
HTTP stack (uvicorn, bearer token, rotating code, distance and fraud checks, the
idempotency key, PostgreSQL), against a bare FastAPI route served the same way.

    python -m bench checkin            # 32 clients, 10,000 check-ins
    LIANGPIAO_BENCH_CHECKINS=20000 LIANGPIAO_BENCH_CLIENTS=64 python -m bench checkin

Each measured request is a distinct volunteer's first check-in (a volunteer checks in
once per activity, and to one activity at a time), so every one does the full work.
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import secrets
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import asyncpg

from app.activities import codes
from bench.harness import (
    CLIENTS,
    WARMUP,
    WORKERS,
    HttpClient,
    Stats,
    bare_fastapi_baseline,
    closed_loop,
    fresh_database,
    plain_dsn,
    run_load,
    serve,
    service_env,
    service_keyring,
    settle,
    stack_floor,
    summarize,
    write_results,
)

CHECKINS = int(os.environ.get("LIANGPIAO_BENCH_CHECKINS", "10000"))
ACTIVITIES = int(os.environ.get("LIANGPIAO_BENCH_ACTIVITIES", "200"))
TARGET_RPS = 800.0
TARGET_P99_MS = 100.0
METRES_PER_DEGREE_LAT = 111_195.0


@dataclass(frozen=True)
class Site:
    id: uuid.UUID
    secret: bytes
    latitude: float
    longitude: float


@dataclass(frozen=True)
class Visit:
    token: str
    site: Site
    latitude: float
    longitude: float


async def seed(
    dsn: str, *, volunteers: int, activities: int
) -> tuple[uuid.UUID, list[Site], list[uuid.UUID]]:
    """A region, a center, an organizer, published activities under way, and volunteers
    each signed up for one of them; written with COPY, the fastest way in."""
    now = datetime.now(UTC)
    region_id, unit_id, staff_id = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    rng = random.Random(7)
    sites = [
        Site(
            id=uuid.uuid4(),
            secret=secrets.token_bytes(32),
            latitude=31.0 + rng.random() * 0.4,
            longitude=120.4 + rng.random() * 0.4,
        )
        for _ in range(activities)
    ]
    volunteer_ids = [uuid.uuid4() for _ in range(volunteers)]
    conn = await asyncpg.connect(dsn)
    try:
        async with conn.transaction():
            await conn.execute(
                "INSERT INTO regions (id, code, name, timezone, created_at, updated_at) "
                "VALUES ($1, 'bench', '基准区', 'Asia/Shanghai', $2, $2)",
                region_id,
                now,
            )
            await conn.execute(
                "INSERT INTO org_units (id, region_id, parent_id, kind, name, path, seven_haves, "
                "created_at, updated_at) VALUES ($1, $2, NULL, 'center', '中心', $3, '{}', $4, $4)",
                unit_id,
                region_id,
                f"/{unit_id}/",
                now,
            )
            await conn.execute(
                "INSERT INTO staff_users (id, region_id, kind, username, display_name, "
                "password_hash, is_active, created_at, updated_at) "
                "VALUES ($1, $2, 'staff', 'bench-organizer', '组织者', 'x', true, $3, $3)",
                staff_id,
                region_id,
                now,
            )
            starts = now - timedelta(minutes=10)
            await conn.copy_records_to_table(
                "activities",
                columns=[
                    "id",
                    "region_id",
                    "org_unit_id",
                    "title",
                    "description",
                    "category",
                    "starts_at",
                    "ends_at",
                    "latitude",
                    "longitude",
                    "address",
                    "radius_m",
                    "capacity",
                    "signed_up",
                    "walk_ins_allowed",
                    "status",
                    "rounding_mode",
                    "checkin_secret",
                    "created_by",
                    "published_at",
                    "created_at",
                    "updated_at",
                ],
                records=[
                    (
                        s.id,
                        region_id,
                        unit_id,
                        f"活动{i}",
                        "",
                        "environment",
                        starts,
                        starts + timedelta(hours=4),
                        s.latitude,
                        s.longitude,
                        "某地",
                        300,
                        volunteers,
                        0,
                        False,
                        "published",
                        "half_hour",
                        s.secret,
                        staff_id,
                        now,
                        now,
                        now,
                    )
                    for i, s in enumerate(sites)
                ],
            )
            await conn.copy_records_to_table(
                "volunteers",
                columns=[
                    "id",
                    "region_id",
                    "openid",
                    "volunteer_no",
                    "skills",
                    "service_categories",
                    "created_at",
                    "updated_at",
                ],
                records=[
                    (v, region_id, f"bench-{i}", f"BENCH{i:08d}", "[]", "[]", now, now)
                    for i, v in enumerate(volunteer_ids)
                ],
            )
            await conn.copy_records_to_table(
                "signups",
                columns=[
                    "id",
                    "region_id",
                    "activity_id",
                    "volunteer_id",
                    "status",
                    "walk_in",
                    "signed_up_at",
                    "created_at",
                    "updated_at",
                ],
                records=[
                    (
                        uuid.uuid4(),
                        region_id,
                        sites[i % activities].id,
                        v,
                        "active",
                        False,
                        now,
                        now,
                        now,
                    )
                    for i, v in enumerate(volunteer_ids)
                ],
            )
            await conn.execute(
                "UPDATE activities SET signed_up = s.n FROM (SELECT activity_id, count(*) AS n "
                "FROM signups GROUP BY activity_id) s WHERE s.activity_id = activities.id"
            )
        await conn.execute("ANALYZE")
    finally:
        await conn.close()
    return region_id, sites, volunteer_ids


def visits(
    sites: list[Site], volunteer_ids: list[uuid.UUID], env: dict[str, str], region_id: uuid.UUID
) -> list[Visit]:
    """One visit per volunteer, with an access token signed by the server's key."""
    ring = service_keyring(env)
    rng = random.Random(11)
    out = []
    for i, volunteer_id in enumerate(volunteer_ids):
        site = sites[i % len(sites)]
        token, _ = ring.issue(sub=volunteer_id, typ="volunteer", region_id=region_id)
        # Somewhere within 100 m of the site, as a phone would report it.
        out.append(
            Visit(
                token=token,
                site=site,
                latitude=site.latitude + rng.uniform(-100, 100) / METRES_PER_DEGREE_LAT,
                longitude=site.longitude + rng.uniform(-80, 80) / METRES_PER_DEGREE_LAT,
            )
        )
    return out


async def count_attendances(dsn: str) -> int:
    conn = await asyncpg.connect(dsn)
    try:
        return int(await conn.fetchval("SELECT count(*) FROM attendances"))
    finally:
        await conn.close()


def run_checkins(base: str, plan: list[Visit]) -> Stats:
    async def one(http: HttpClient, i: int) -> int:
        visit = plan[i]
        code = codes.issue(
            visit.site.secret, kind="a", subject_id=visit.site.id, at=datetime.now(UTC)
        ).code
        body = json.dumps(
            {
                "code": code,
                "latitude": visit.latitude,
                "longitude": visit.longitude,
                "accuracy": 20.0,
            }
        )
        headers = {
            "Authorization": f"Bearer {visit.token}",
            "Idempotency-Key": uuid.uuid4().hex,
            "Content-Type": "application/json",
        }
        url = f"{base}/v1/activities/{visit.site.id}/check-in"
        return (await http.post(url, data=body, headers=headers)).status

    return run_load(
        closed_loop("check-in", one, concurrency=CLIENTS, total=CHECKINS, warmup=WARMUP)
    )


def main() -> None:
    with fresh_database() as url:
        dsn = plain_dsn(url)
        # The load comes from one address; in the field it comes from thousands of phones.
        env = service_env(
            url, LIANGPIAO_RATE_LIMITS=json.dumps({"attendance.ip": "1000000/minute"})
        )
        region_id, sites, volunteer_ids = asyncio.run(
            seed(dsn, volunteers=CHECKINS + WARMUP, activities=ACTIVITIES)
        )
        settle(url)
        plan = visits(sites, volunteer_ids, env, region_id)
        with serve("app.main:create_app", env=env, workers=WORKERS) as base:
            checkins = run_checkins(base, plan)
        recorded = asyncio.run(count_attendances(dsn))
        floor = stack_floor(env, concurrency=CLIENTS, total=CHECKINS, workers=WORKERS)
    baseline = bare_fastapi_baseline(concurrency=CLIENTS, total=CHECKINS, workers=WORKERS)
    ratio = checkins.throughput / baseline.throughput if baseline.throughput else 0.0
    of_floor = checkins.throughput / floor.throughput if floor.throughput else 0.0
    print(summarize([checkins, floor, baseline]))
    print(
        f"check-ins/s vs bare route: {ratio:.2f}   vs the service's floor: {of_floor:.2f}   "
        f"attendances recorded: {recorded} "
        f"(201s: {checkins.statuses.get('201', 0)} measured + {WARMUP} warm-up)"
    )
    print(
        f"target ≥ {TARGET_RPS:.0f}/s with p99 < {TARGET_P99_MS:.0f} ms at {CLIENTS} clients: "
        + (
            "met"
            if checkins.throughput >= TARGET_RPS and checkins.p99_ms < TARGET_P99_MS
            else "NOT met"
        )
    )
    path = write_results(
        "checkin",
        {
            "clients": CLIENTS,
            "workers": WORKERS,
            "activities": ACTIVITIES,
            "checkins": checkins,
            "baseline": baseline,
            "ratio_to_baseline": round(ratio, 3),
            "floor": floor,
            "ratio_to_floor": round(of_floor, 3),
            "attendances_recorded": recorded,
            "target": {"rps": TARGET_RPS, "p99_ms": TARGET_P99_MS},
        },
    )
    print(f"wrote {path.relative_to(path.parents[2])}")


if __name__ == "__main__":
    main()
