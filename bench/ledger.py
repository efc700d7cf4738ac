"""Ledger benchmark: issuance and spends through the HTTP stack on PostgreSQL.

Two routes, both served by uvicorn (2 workers) with a session per request that
commits before answering, 32 concurrent clients over 1000 wallets and 8 merchants:

- the real one, a center admin's `POST /v1/ledger/adjustments` (each request with
  its own Idempotency-Key): issuance → wallet runs the issuance path (a new lot),
  wallet → merchant the spend path. Each request also pays for the whole stack:
  token, staff grants, the idempotency key and its stored response, middlewares;
- a bench-only app (`create_spend_app` below) whose one route calls
  `ledger.service.spend_from_wallet` and nothing else, to show what the ledger's
  spend itself costs: the conditional wallet debit, the oldest-expiry lot draws,
  the transaction, postings and lot entries, the merchant's credit.

pgbench's TPC-B runs on the same server in the same run for the ratio; the target
is spends at 0.2 × pgbench tps or better. The issue's yardstick for that target, a
naive three-statement transfer (two balance updates and an insert, no checks, through
the same stack: route, session, commit), is measured in the same rounds, so that the
run shows what this machine gives the simplest transfer. After the load, `verify()`
checks the whole ledger.

Set-up that is not measured: the region, its center admin, the wallets (funded
with two lots each, so that spends draw across lots) and the merchants' accounts
are written through the app's own services. A few wallets are left nearly empty:
their spends are the expected `insufficient_balance` refusals. The default rate
limits are lifted for the run (one admin token sends everything): this measures
the database path, not the throttle.

    python -m bench ledger        (LIANGPIAO_BENCH_PG names the PostgreSQL server)
"""

from __future__ import annotations

import asyncio
import json
import os
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from fastapi import FastAPI
from pydantic import BaseModel
from sqlalchemy import text

from app.core.db import SessionDep
from bench.harness import (
    CLIENTS,
    ROOT,
    ROUNDS,
    WARMUP,
    WORKERS,
    HttpClient,
    Reply,
    Stats,
    closed_loop,
    combined,
    fresh_database,
    median,
    pgbench_scratch,
    run_load,
    serve,
    service_env,
    settle,
    stack_floor,
    summarize,
    verify_ledger,
    write_results,
)

CONCURRENCY = CLIENTS
ISSUES = int(os.environ.get("LIANGPIAO_BENCH_LEDGER_ISSUES", "3000"))
SPENDS = int(os.environ.get("LIANGPIAO_BENCH_LEDGER_SPENDS", "8000"))
PGBENCH_SECONDS = 8
VOLUNTEERS = 1000
DRY_WALLETS = 20  # every 50th wallet holds 1 良票: most of its spends are refused
MERCHANTS = 8


@dataclass
class Fixture:
    token: str
    region_id: str
    issuance_id: str
    owners: list[str]  # the volunteer of each wallet
    wallets: list[str]
    funded: list[str]  # the wallets that are not kept dry
    merchants: list[str]


async def _seed(database_url: str, private_key: str) -> Fixture:
    from pydantic import SecretStr

    from app.core import clock
    from app.core.config import Settings
    from app.core.db import Database
    from app.core.security import KeyRing
    from app.identity.models import StaffKind, StaffUser
    from app.identity.repository import create_volunteer
    from app.ledger import service as ledger
    from app.ledger.models import AccountKind
    from app.orgs.models import OrgUnit, Region, Role, StaffGrant, UnitKind
    from app.rewards.models import RewardPolicy

    settings = Settings(
        environment="test",
        database_url=database_url,
        jwt_private_key=SecretStr(private_key),
        jwt_kid="bench",
        access_token_ttl_seconds=3600,
    )
    db = Database(settings)
    try:
        async with db.sessions() as session, session.begin():
            region = Region(code="benchl", name="压测区", timezone="Asia/Shanghai")
            session.add(region)
            await session.flush()
            # One admin's load of small adjustments must post, not wait for a second
            # admin: the threshold that would hold them is raised out of the way.
            session.add(RewardPolicy(region_id=region.id, adjustment_threshold=1_000_000_000))
            center = OrgUnit(
                region_id=region.id, kind=UnitKind.center, name="中心", path="", seven_haves={}
            )
            session.add(center)
            await session.flush()
            center.path = f"/{center.id}/"
            admin = StaffUser(
                region_id=region.id,
                kind=StaffKind.staff,
                username="bench-admin",
                display_name="压测管理员",
                password_hash="-",  # noqa: S106 - never logs in; the token is issued here
            )
            session.add(admin)
            await session.flush()
            session.add(
                StaffGrant(
                    region_id=region.id,
                    staff_id=admin.id,
                    org_unit_id=center.id,
                    role=Role.center_admin,
                )
            )
            issuance = await ledger.system_account(
                session, region_id=region.id, kind=AccountKind.issuance
            )
            merchants = [
                await ledger.merchant_account(
                    session, region_id=region.id, merchant_id=uuid.uuid4()
                )
                for _ in range(MERCHANTS)
            ]
            wallets = []
            owners = []
            soon = clock.now() + timedelta(days=200)
            for v in range(VOLUNTEERS):
                volunteer = await create_volunteer(
                    session, region_id=region.id, region_code="benchl", openid=f"bench-l-{v}"
                )
                dry = v % (VOLUNTEERS // DRY_WALLETS) == 0
                for amount, expires_at in ((1 if dry else 5, soon), (0 if dry else 10_000, None)):
                    if amount:
                        await ledger.issue_to_wallet(
                            session,
                            region_id=region.id,
                            volunteer_id=volunteer.id,
                            amount=amount,
                            reference_type="bench",
                            reference_id=str(v),
                            actor="bench",
                            expires_at=expires_at,
                        )
                wallet = await ledger.wallet_account(
                    session, region_id=region.id, volunteer_id=volunteer.id
                )
                wallets.append(str(wallet.id))
                owners.append(str(volunteer.id))
        async with db.sessions() as session, session.begin():
            for statement in _TRANSFER_TABLES:
                await session.execute(text(statement))
            await session.execute(
                text("INSERT INTO bench_balances SELECT n, 1000000 FROM generate_series(1, :n) n"),
                {"n": VOLUNTEERS + MERCHANTS},
            )
        token, _ = KeyRing(settings).issue(sub=admin.id, typ="staff", region_id=region.id)
    finally:
        await db.dispose()
    return Fixture(
        token=token,
        region_id=str(region.id),
        issuance_id=str(issuance.id),
        owners=owners,
        wallets=wallets,
        funded=[w for v, w in enumerate(wallets) if v % (VOLUNTEERS // DRY_WALLETS)],
        merchants=[str(m.id) for m in merchants],
    )


def _status(reply: Reply) -> int:
    """The reply's status; a 409 other than the expected refusal counts as 999."""
    if reply.status == 409 and reply.json().get("code") != "insufficient_balance":
        return 999
    return reply.status


def _load(base: str, fixture: Fixture, *, spend: bool, total: int) -> Stats:
    url = f"{base}/v1/ledger/adjustments"
    auth = {"Authorization": f"Bearer {fixture.token}"}

    async def one(http: HttpClient, i: int) -> int:
        if spend:
            wallet = fixture.wallets[i % VOLUNTEERS]
            body = {
                "debit_account_id": wallet,
                "credit_account_id": fixture.merchants[i % MERCHANTS],
                "amount": 1 + i % 3,
                "reason": "压测消费",
            }
        else:
            body = {
                "debit_account_id": fixture.issuance_id,
                "credit_account_id": fixture.funded[i % len(fixture.funded)],
                "amount": 10,
                "reason": "压测发放",
            }
        headers = {**auth, "Idempotency-Key": f"{'s' if spend else 'i'}-{i}"}
        return _status(await http.post(url, json=body, headers=headers))

    name = "spends (wallet → merchant)" if spend else "issuance (→ wallet)"
    return run_load(closed_loop(name, one, concurrency=CONCURRENCY, total=total, warmup=WARMUP))


# The naive transfer's tables: a balance per volunteer and per merchant, and a row per
# transfer, as in pgbench's TPC-B.
_TRANSFER_TABLES = (
    "CREATE TABLE bench_balances (id integer PRIMARY KEY, balance bigint NOT NULL)",
    "CREATE TABLE bench_transfers (id bigserial PRIMARY KEY, from_id integer NOT NULL, "
    "to_id integer NOT NULL, amount bigint NOT NULL, at timestamptz NOT NULL DEFAULT now())",
)
_TRANSFER = (
    text("UPDATE bench_balances SET balance = balance - :amount WHERE id = :from_id"),
    text("UPDATE bench_balances SET balance = balance + :amount WHERE id = :to_id"),
    text("INSERT INTO bench_transfers (from_id, to_id, amount) VALUES (:from_id, :to_id, :amount)"),
)


class SpendRequest(BaseModel):
    region_id: uuid.UUID
    volunteer_id: uuid.UUID
    to_account_id: uuid.UUID
    amount: int


class TransferRequest(BaseModel):
    from_id: int
    to_id: int
    amount: int


def create_spend_app() -> FastAPI:
    """Bench only: `spend_from_wallet` behind a bare route, with the app's own session
    per request (commit before the answer) and problem+json refusals; and beside it the
    naive transfer, the same way."""
    from app.core.config import get_settings
    from app.core.db import Database
    from app.core.errors import install_handlers
    from app.ledger import service as ledger
    from app.ledger.models import TxKind

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        yield
        await app.state.db.dispose()

    app = FastAPI(lifespan=lifespan)
    app.state.db = Database(get_settings())
    install_handlers(app)

    @app.post("/spend", status_code=201)
    async def spend(body: SpendRequest, session: SessionDep) -> dict[str, Any]:
        spent = await ledger.spend_from_wallet(
            session,
            region_id=body.region_id,
            volunteer_id=body.volunteer_id,
            to_account_id=body.to_account_id,
            amount=body.amount,
            kind=TxKind.redeem,
            reference_type="bench",
            reference_id=str(uuid.uuid4()),
            actor="bench",
        )
        return {"id": str(spent.transaction.id), "seq": spent.transaction.seq}

    @app.post("/transfer", status_code=201)
    async def transfer(body: TransferRequest, session: SessionDep) -> dict[str, Any]:
        for statement in _TRANSFER:
            await session.execute(statement, body.model_dump())
        return {"from_id": body.from_id, "to_id": body.to_id}

    return app


SPENDS_NAME = "spends, ledger route only"
TRANSFERS_NAME = "naive 3-statement transfer"


def _spend_body(fixture: Fixture, i: int) -> dict[str, Any]:
    return {
        "region_id": fixture.region_id,
        "volunteer_id": fixture.owners[i % VOLUNTEERS],
        "to_account_id": fixture.merchants[i % MERCHANTS],
        "amount": 1 + i % 3,
    }


def _transfer_body(fixture: Fixture, i: int) -> dict[str, Any]:
    """The spends' pattern on the naive transfer's rows: volunteer i to one of the
    8 merchants."""
    return {
        "from_id": 1 + i % VOLUNTEERS,
        "to_id": 1 + VOLUNTEERS + i % MERCHANTS,
        "amount": 1 + i % 3,
    }


def _load_round(
    url: str,
    name: str,
    body: Callable[[Fixture, int], dict[str, Any]],
    fixture: Fixture,
    *,
    total: int,
    first: int,
) -> Stats:
    """One round's part of a bench-only route: requests `first` to `first + total`."""

    async def one(http: HttpClient, i: int) -> int:
        return _status(await http.post(url, json=body(fixture, i)))

    return run_load(
        closed_loop(name, one, concurrency=CONCURRENCY, total=total, warmup=WARMUP, first=first)
    )


def _ratio(throughput: float, tps: float) -> float:
    return round(throughput / tps, 3) if tps else 0.0


def main() -> None:
    with fresh_database("liangpiao_bench_ledger") as url:
        # One admin drives the whole load: lift the per-principal and per-IP default limits,
        # which would otherwise answer most of it with 429.
        lifted = {"default.principal": "1000000/minute", "default.ip": "1000000/minute"}
        env = service_env(url, LIANGPIAO_RATE_LIMITS=json.dumps(lifted))
        fixture = asyncio.run(_seed(url, (ROOT / "var" / "bench-jwt.pem").read_text()))
        settle(url)
        with serve("app.main:create_app", env=env, workers=WORKERS) as base:
            issues = _load(base, fixture, spend=False, total=ISSUES)
            spends = _load(base, fixture, spend=True, total=SPENDS)
        settle(url)
        # The target's ratio, measured in rounds: a part of the spends, as many naive
        # transfers, then pgbench, and again, so that each ratio compares measurements
        # taken moments apart.
        per_round = SPENDS // ROUNDS
        rounds: list[tuple[Stats, float]] = []
        naive: list[Stats] = []
        with (
            pgbench_scratch() as pgbench,
            serve("bench.ledger:create_spend_app", env=env, workers=WORKERS) as base,
        ):
            for r in range(ROUNDS):
                at = {"total": per_round, "first": r * (per_round + WARMUP)}
                part = _load_round(f"{base}/spend", SPENDS_NAME, _spend_body, fixture, **at)
                naive.append(
                    _load_round(f"{base}/transfer", TRANSFERS_NAME, _transfer_body, fixture, **at)
                )
                rounds.append((part, pgbench(clients=CONCURRENCY, seconds=PGBENCH_SECONDS)))
        check = asyncio.run(verify_ledger(url))
        floor = stack_floor(env, concurrency=CONCURRENCY, total=SPENDS, workers=WORKERS)
    bare_spends = combined(SPENDS_NAME, [part for part, _ in rounds])
    transfers = combined(TRANSFERS_NAME, naive)
    round_ratios = [_ratio(part.throughput, t) for part, t in rounds]
    naive_ratios = [_ratio(part.throughput, t) for part, (_, t) in zip(naive, rounds, strict=True)]
    tps = median([t for _, t in rounds])

    def ratio(stats: Stats) -> float:
        return _ratio(stats.throughput, tps)

    unexpected = {
        stats.name: {s: n for s, n in stats.statuses.items() if s not in allowed}
        for stats, allowed in (
            (issues, {"201"}),
            (spends, {"201", "409"}),
            (bare_spends, {"201", "409"}),
            (transfers, {"201"}),
        )
    }
    print(summarize([issues, spends, bare_spends, transfers, floor]))
    for r, ((part, round_tps), plain) in enumerate(zip(rounds, naive, strict=True), 1):
        print(
            f"round {r}: ledger route {part.throughput:7.1f}/s (p99 {part.p99_ms:.1f} ms), "
            f"naive transfer {plain.throughput:7.1f}/s, pgbench {round_tps:7.1f} tps, "
            f"ratios {round_ratios[r - 1]:.3f} and {naive_ratios[r - 1]:.3f}"
        )
    print(f"pgbench TPC-B (median)       {tps:9.1f} tps  (same server, {CONCURRENCY} clients)")
    print(f"spends, admin route / pgbench        {ratio(spends):6.3f}")
    print(
        f"spends, ledger route / pgbench       {median(round_ratios):6.3f}   "
        f"(median of the rounds; target ≥ 0.2)"
    )
    print(
        f"naive transfer / pgbench             {median(naive_ratios):6.3f}   "
        f"(median of the rounds; the issue's yardstick: 0.33)"
    )
    print(f"issuance, admin route / pgbench      {ratio(issues):6.3f}")
    print(f"the service's floor / pgbench        {ratio(floor):6.3f}")
    print(
        f"ledger verified: {check['ledger_ok']}  transactions: {check['transactions']}  "
        f"sum of postings: {check['postings_total']}  unexpected statuses: {unexpected}"
    )
    path = write_results(
        "ledger",
        {
            "concurrency": CONCURRENCY,
            "workers": WORKERS,
            "issuance_admin_route": issues,
            "spends_admin_route": spends,
            "spends_ledger_route": bare_spends,
            "naive_transfers": transfers,
            "floor": floor,
            "pgbench_tps": tps,
            "ledger_route_rounds": [
                {
                    "spends": part,
                    "naive_transfers": plain,
                    "pgbench_tps": round_tps,
                    "ratio": r,
                    "naive_ratio": n,
                }
                for (part, round_tps), plain, r, n in zip(
                    rounds, naive, round_ratios, naive_ratios, strict=True
                )
            ],
            "ratios_to_pgbench": {
                "spends_admin_route": ratio(spends),
                "spends_ledger_route": median(round_ratios),
                "naive_transfers": median(naive_ratios),
                "issuance_admin_route": ratio(issues),
                "floor": ratio(floor),
            },
            "target": {"spends_ratio_to_pgbench": 0.2},
            "unexpected_statuses": unexpected,
            "verification": check,
        },
    )
    print(f"results: {path.relative_to(path.parents[2])}")


if __name__ == "__main__":
    main()
