"""Redemption benchmark: signed terminals redeeming through the HTTP stack on PostgreSQL.

32 terminals (4 at each of 8 merchants) send `POST /v1/terminal/redemptions`
concurrently, each request signed with the terminal's Ed25519 key exactly as
`bench/terminal_client.py` signs it, each with a fresh volunteer code; every
request runs the whole path (signature, nonce, request number, code, one ledger
transaction with lot draws, outbox event). pgbench's TPC-B runs on the same
server in the same run for the ratio.

Set-up that is not measured: the region, merchants, terminals and funded wallets
are written through the app's own services, and the volunteers' codes as rows
(several live codes per wallet, a longer life than 60 s so that set-up time
does not eat into it). The redemption rate limits, which allow a cashier a
redemption every two seconds, are lifted for the run: this measures the
database path, not the throttle.

    python -m bench redemption        (LIANGPIAO_BENCH_PG names the PostgreSQL server)
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import uuid
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from bench.harness import (
    CLIENTS,
    WARMUP,
    WORKERS,
    HttpClient,
    closed_loop,
    fresh_database,
    pgbench_tpcb,
    run_load,
    serve,
    service_env,
    settle,
    stack_floor,
    summarize,
    verify_ledger,
    write_results,
)
from bench.terminal_client import TerminalSigner, new_key_pair

CONCURRENCY = CLIENTS
TOTAL = int(os.environ.get("LIANGPIAO_BENCH_REDEMPTIONS", "8000"))
MERCHANTS = 8
TERMINALS_PER_MERCHANT = 4
VOLUNTEERS = 1000


@dataclass
class Fixture:
    signers: list[TerminalSigner]
    codes: list[str]


async def _seed(database_url: str) -> Fixture:
    from app.core import clock
    from app.core.config import Settings
    from app.core.db import Database
    from app.identity.repository import create_volunteer
    from app.ledger import service as ledger
    from app.merchants.codes import hash_code, new_online_code
    from app.merchants.models import (
        CodeStatus,
        Merchant,
        MerchantCategory,
        MerchantStatus,
        RedemptionCode,
        Terminal,
        TerminalStatus,
    )
    from app.orgs.models import OrgUnit, Region, UnitKind

    db = Database(Settings(environment="test", database_url=database_url))
    signers: list[TerminalSigner] = []
    codes: list[str] = []
    try:
        async with db.sessions() as session, session.begin():
            region = Region(code="bench", name="压测区", timezone="Asia/Shanghai")
            session.add(region)
            await session.flush()
            center = OrgUnit(
                region_id=region.id, kind=UnitKind.center, name="中心", path="", seven_haves={}
            )
            session.add(center)
            await session.flush()
            center.path = f"/{center.id}/"
            for m in range(MERCHANTS):
                merchant = Merchant(
                    region_id=region.id,
                    name=f"商户{m}",
                    address="压测路",
                    latitude=31.16,
                    longitude=120.64,
                    category=MerchantCategory.food,
                    status=MerchantStatus.active,
                )
                session.add(merchant)
                await session.flush()
                for _ in range(TERMINALS_PER_MERCHANT):
                    key, public = new_key_pair()
                    terminal = Terminal(
                        region_id=region.id,
                        merchant_id=merchant.id,
                        name="bench",
                        public_key=public,
                        status=TerminalStatus.active,
                        created_by="bench",
                    )
                    session.add(terminal)
                    await session.flush()
                    signers.append(TerminalSigner(key_id=str(terminal.id), private_key=key))
            volunteers = []
            for v in range(VOLUNTEERS):
                volunteer = await create_volunteer(
                    session, region_id=region.id, region_code="bench", openid=f"bench-{v}"
                )
                volunteers.append(volunteer)
                await ledger.issue_to_wallet(
                    session,
                    region_id=region.id,
                    volunteer_id=volunteer.id,
                    amount=10_000,
                    reference_type="bench",
                    reference_id=str(v),
                    actor="bench",
                )
            per_volunteer = (TOTAL + WARMUP) // VOLUNTEERS + 1
            now = clock.now()
            for volunteer in volunteers:
                for _ in range(per_volunteer):
                    code = new_online_code()
                    codes.append(code)
                    session.add(
                        RedemptionCode(
                            region_id=region.id,
                            volunteer_id=volunteer.id,
                            code_hash=hash_code(code),
                            status=CodeStatus.active,
                            created_at=now,
                            expires_at=now + timedelta(minutes=30),
                        )
                    )
    finally:
        await db.dispose()
    random.Random(7).shuffle(codes)
    return Fixture(signers=signers, codes=codes)


async def _redemptions_by_status(session: Any) -> dict[str, Any]:
    from sqlalchemy import func, select

    from app.merchants.models import Redemption

    rows = await session.execute(
        select(Redemption.status, func.count()).group_by(Redemption.status)
    )
    return {"redemptions": dict(rows.all())}


def _load(base: str, fixture: Fixture) -> Any:
    async def one(http: HttpClient, i: int) -> int:
        signer = fixture.signers[i % len(fixture.signers)]
        signed = signer.sign_json(
            "POST",
            "/v1/terminal/redemptions",
            {"code": fixture.codes[i], "amount": 1, "request_no": f"B{i:07d}"},
        )
        reply = await http.post(base + signed.url, data=signed.body, headers=signed.headers)
        return reply.status

    return run_load(
        closed_loop(
            "terminal redemptions", one, concurrency=CONCURRENCY, total=TOTAL, warmup=WARMUP
        )
    )


def main() -> None:
    with fresh_database("liangpiao_bench_redeem") as url:
        fixture = asyncio.run(_seed(url))
        settle(url)
        # Per second: a moving window keeps one entry per hit, so a short window stays small.
        lifted = {"redemption.principal": "100000/second", "redemption.ip": "100000/second"}
        env = service_env(url, LIANGPIAO_RATE_LIMITS=json.dumps(lifted))
        with serve("app.main:create_app", env=env, workers=WORKERS) as base:
            stats = _load(base, fixture)
        check = asyncio.run(verify_ledger(url, also=_redemptions_by_status))
        floor = stack_floor(env, concurrency=CONCURRENCY, total=TOTAL, workers=WORKERS)
    tps = pgbench_tpcb(clients=CONCURRENCY, seconds=15)
    ratio = round(stats.throughput / tps, 3) if tps else 0.0
    of_floor = round(stats.throughput / floor.throughput, 3) if floor.throughput else 0.0
    print(summarize([stats, floor]))
    print(f"pgbench TPC-B                {tps:9.1f} tps  (same server, {CONCURRENCY} clients)")
    print(f"redemptions / pgbench tps    {ratio:9.3f}")
    print(f"redemptions / floor          {of_floor:9.3f}")
    print(f"ledger verified: {check['ledger_ok']}  redemptions by status: {check['redemptions']}")
    path = write_results(
        "redemption",
        {
            "concurrency": CONCURRENCY,
            "workers": WORKERS,
            "service": stats,
            "pgbench_tps": tps,
            "ratio_to_pgbench": ratio,
            "floor": floor,
            "ratio_to_floor": of_floor,
            "target": {"redemptions_per_s": 500, "p99_ms": 100},
            "verification": check,
            "run_id": uuid.uuid4().hex[:8],
        },
    )
    print(f"results: {path.relative_to(path.parents[2])}")


if __name__ == "__main__":
    main()
