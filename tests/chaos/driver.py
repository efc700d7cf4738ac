"""`python -m tests.chaos`: the crash-and-restart run, end to end.

1. A fresh PostgreSQL database, migrated (bench.harness.fresh_database), seeded
   (tests/chaos/seed.py); the API server (uvicorn, one process) and the worker
   (`python -m app worker`, which issues 良票 for approved hours).
2. `--clients` concurrent clients drive the mixed workload (tests/chaos/workload.py)
   for `--duration` seconds, retrying every operation with its own key until it has a
   definitive answer.
3. Meanwhile, on a schedule spread over the run: the API process is SIGKILLed and
   started again (`--kills`), PostgreSQL is stopped for `--pg-down-seconds` and
   started again (`--pg-restarts`; the servers must answer 503 problem+json meanwhile
   and serve again without a restart of their own), the worker is SIGKILLed and
   restarted (`--worker-kills`), and for the middle of the run a second API process
   serves the same database, clients spread over both.
4. Once the load stops and the worker has issued every approval, the database is
   checked against what the clients were told (tests/chaos/checks.py).

It prints the figures, writes them to bench/results/chaos.json (`--short`:
chaos-short.json), and exits 1 on any violation, or when a planned disruption could
not be carried out.

    python -m tests.chaos --duration 120 --clients 24 --kills 4
    python -m tests.chaos --short             # CI: ~2 minutes, 2 kills, 1 PostgreSQL restart
    python -m tests.chaos --pg-restarts 0     # leave PostgreSQL alone (while others test)
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time
import uuid
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import asyncpg

from bench.harness import ROOT, fresh_database, plain_dsn, service_env, write_results
from tests.chaos import processes, webhooks
from tests.chaos.checks import Findings, check
from tests.chaos.processes import ApiServer, Worker
from tests.chaos.seed import SetupClient, seed_demo_region, seed_world
from tests.chaos.workload import WRITES, Client, Gateway, Journal, Sender

# Waiting for other people's tests to finish before PostgreSQL is stopped.
PG_WAIT_SECONDS = 600.0
PG_POLL_SECONDS = 5.0
# How long after a disruption the service has to serve again.
RECOVERY_SECONDS = 60.0


@dataclass(frozen=True)
class Config:
    duration: float
    clients: int
    volunteers_per_client: int
    kills: int
    pg_restarts: int
    worker_kills: int
    two_processes: bool
    pg_down_seconds: float
    restart_delay: float
    request_timeout: float
    flaky: float
    give_up_after: float
    results_name: str
    output: Path | None = None
    activities_per_station: int = 2
    terminals: int = 4


def parse_args(argv: list[str]) -> Config:
    parser = argparse.ArgumentParser(prog="python -m tests.chaos", description=__doc__)
    parser.add_argument("--short", action="store_true", help="the CI preset (about 2 minutes)")
    parser.add_argument("--duration", type=float, help="seconds of load (default 120)")
    parser.add_argument("--clients", type=int, help="concurrent clients (default 24)")
    parser.add_argument("--volunteers-per-client", type=int, default=6)
    parser.add_argument("--kills", type=int, help="SIGKILLs of an API process (default 4)")
    parser.add_argument("--pg-restarts", type=int, help="PostgreSQL restarts (default 1)")
    parser.add_argument("--worker-kills", type=int, default=1)
    parser.add_argument(
        "--no-two-processes",
        dest="two_processes",
        action="store_false",
        help="never run a second API process",
    )
    parser.add_argument("--pg-down-seconds", type=float, default=3.0)
    parser.add_argument("--restart-delay", type=float, default=1.0)
    parser.add_argument("--request-timeout", type=float, default=15.0)
    parser.add_argument(
        "--flaky",
        type=float,
        default=0.05,
        help="share of writes whose answer the client's network loses (it retries)",
    )
    parser.add_argument(
        "--output",
        type=Path,
        help="write the figures here instead of bench/results/chaos(-short).json",
    )
    parser.add_argument(
        "--give-up-after",
        type=float,
        default=180.0,
        help="seconds an operation may go without a definitive answer (then: a violation)",
    )
    args = parser.parse_args(argv)
    preset = (
        {"duration": 60.0, "clients": 12, "kills": 2, "pg_restarts": 1}
        if args.short
        else {"duration": 120.0, "clients": 24, "kills": 4, "pg_restarts": 1}
    )
    for name, value in preset.items():
        if getattr(args, name) is None:
            setattr(args, name, value)
    return Config(
        duration=args.duration,
        clients=args.clients,
        volunteers_per_client=args.volunteers_per_client,
        kills=args.kills,
        pg_restarts=args.pg_restarts,
        worker_kills=args.worker_kills,
        two_processes=args.two_processes,
        pg_down_seconds=args.pg_down_seconds,
        restart_delay=args.restart_delay,
        request_timeout=args.request_timeout,
        flaky=args.flaky,
        give_up_after=args.give_up_after,
        results_name="chaos-short" if args.short else "chaos",
        output=args.output,
    )


@dataclass
class Disruptions:
    """What the chaos schedule did, for the figures."""

    kills: int = 0
    worker_kills: int = 0
    pg_restarts: int = 0
    pg_restarts_skipped: int = 0
    two_process_seconds: float = 0.0
    restart_seconds: list[float] = field(default_factory=list)
    pg_recovery_seconds: list[float] = field(default_factory=list)
    unavailable_while_pg_down: list[int] = field(default_factory=list)
    incomplete: list[str] = field(default_factory=list)


class Chaos:
    """Runs the disruptions on their schedule, one at a time, while the clients load."""

    def __init__(
        self,
        config: Config,
        *,
        journal: Journal,
        gateway: Gateway,
        primary: ApiServer,
        worker: Worker,
        env: dict[str, str],
        log_dir: Path,
    ) -> None:
        self.config = config
        self.journal = journal
        self.gateway = gateway
        self.servers = [primary]
        self.worker = worker
        self.env = env
        self.log_dir = log_dir
        self.done = Disruptions()
        self._turn = 0
        self._second_up_at = 0.0

    def plan(self) -> list[tuple[float, Callable[[], Awaitable[None]]]]:
        c, d = self.config, self.config.duration
        slots = c.kills + c.pg_restarts
        pg_slots = {
            round((j + 1) * (slots + 1) / (c.pg_restarts + 1)) - 1 for j in range(c.pg_restarts)
        }
        plan: list[tuple[float, Callable[[], Awaitable[None]]]] = []
        for i in range(slots):
            at = d * (i + 1) / (slots + 1)
            plan.append((at, self.restart_postgres if i in pg_slots else self.kill_api))
        for w in range(c.worker_kills):
            plan.append((d * ((w + 1) / (c.worker_kills + 1) + 0.07), self.kill_worker))
        if c.two_processes:
            plan.append((d * 0.3 - 0.01, self.second_up))
            plan.append((d * 0.7 + 0.01, self.second_down))
        return sorted(plan, key=lambda item: item[0])

    async def run(self) -> None:
        started = time.monotonic()
        for at, action in self.plan():
            await asyncio.sleep(max(0.0, started + at - time.monotonic()))
            await action()

    # API processes

    async def kill_api(self) -> None:
        server = self.servers[self._turn % len(self.servers)]
        self._turn += 1
        self.journal.event("SIGKILL api", server=server.name, pid=server.pid)
        killed_at = time.monotonic()
        server.sigkill()
        self.done.kills += 1
        await asyncio.sleep(self.config.restart_delay)
        server.start()
        await server.wait_ready(within=RECOVERY_SECONDS)
        downtime = time.monotonic() - killed_at
        self.done.restart_seconds.append(round(downtime, 2))
        self.journal.event("api restarted", server=server.name, pid=server.pid, down_s=downtime)

    async def second_up(self) -> None:
        second = ApiServer("api-b", self.env, self.log_dir)
        second.start()
        await second.wait_ready(within=RECOVERY_SECONDS)
        self.servers.append(second)
        self.gateway.add(second.base_url)
        self._second_up_at = time.monotonic()
        self.journal.event("second api serving", server=second.name, pid=second.pid)

    async def second_down(self) -> None:
        if len(self.servers) < 2:
            return
        second = self.servers.pop()
        self.gateway.remove(second.base_url)
        self.done.two_process_seconds = round(time.monotonic() - self._second_up_at, 1)
        # Scale-in: the balancer stops sending to it, then it finishes what it has.
        await asyncio.sleep(0.5)
        await asyncio.to_thread(second.stop)
        self.journal.event("second api stopped", server=second.name)

    # The worker

    async def kill_worker(self) -> None:
        self.journal.event("SIGKILL worker", pid=self.worker.pid)
        self.worker.sigkill()
        self.done.worker_kills += 1
        await asyncio.sleep(self.config.restart_delay)
        self.worker.start()
        self.journal.event("worker restarted", pid=self.worker.pid)

    # PostgreSQL

    async def _alone(self) -> bool:
        """Wait until no one else's pytest runs (PostgreSQL is theirs too)."""
        deadline = time.monotonic() + PG_WAIT_SECONDS
        announced = False
        while True:
            others = await asyncio.to_thread(processes.foreign_pytests)
            if not others:
                return True
            if not announced:
                self.journal.event(
                    "waiting for other pytest runs before stopping PostgreSQL", pids=others
                )
                announced = True
            if time.monotonic() > deadline:
                return False
            await asyncio.sleep(PG_POLL_SECONDS)

    async def restart_postgres(self) -> None:
        if not await self._alone():
            self.done.pg_restarts_skipped += 1
            self.done.incomplete.append("PostgreSQL restart skipped: other tests kept running")
            self.journal.event("PostgreSQL restart skipped")
            return
        seen_before = sum(self.journal.unavailable.values())
        self.journal.event("PostgreSQL stop")
        try:
            await asyncio.to_thread(processes.pg_ctlcluster, "stop")
            await asyncio.sleep(self.config.pg_down_seconds)
        finally:
            await asyncio.to_thread(processes.ensure_pg_running)
        back = time.monotonic()
        self.done.pg_restarts += 1
        self.journal.event("PostgreSQL started")
        starts = {s.name: s.starts for s in self.servers}
        for server in self.servers:
            recovered = await self._first_success_after(server, back)
            if recovered is None:
                self.journal.violation(
                    f"{server.name} served nothing within {RECOVERY_SECONDS:.0f} s of "
                    "PostgreSQL's return"
                )
            else:
                self.done.pg_recovery_seconds.append(round(recovered, 2))
        for server in self.servers:
            if server.starts != starts[server.name]:
                self.journal.violation(f"{server.name} had to restart to recover")
        seen = sum(self.journal.unavailable.values()) - seen_before
        self.done.unavailable_while_pg_down.append(seen)
        if seen == 0:
            self.journal.violation("no client saw a 503 while PostgreSQL was down")
        self.journal.event("served again after PostgreSQL restart", unavailable_503s=seen)

    async def _first_success_after(self, server: ApiServer, since: float) -> float | None:
        deadline = since + RECOVERY_SECONDS
        while time.monotonic() < deadline:
            if self.journal.last_success.get(server.base_url, 0.0) > since:
                return self.journal.last_success[server.base_url] - since
            await asyncio.sleep(0.05)
        return None

    def stop_all(self) -> None:
        for server in self.servers:
            server.stop()
        self.worker.stop()


async def wait_outbox_drained(database_url: str, *, within: float) -> int:
    """Wait until the worker has delivered every `hours.approved`; returns what is left."""
    deadline = time.monotonic() + within
    conn = await asyncpg.connect(plain_dsn(database_url))
    try:
        while True:
            left = int(
                await conn.fetchval(
                    "SELECT count(*) FROM outbox_events "
                    "WHERE topic = 'hours.approved' AND processed_at IS NULL"
                )
            )
            if left == 0 or time.monotonic() > deadline:
                return left
            await asyncio.sleep(0.5)
    finally:
        await conn.close()


async def run(database_url: str, config: Config) -> dict[str, Any]:
    run_id = uuid.uuid4().hex[:8]
    log_dir = ROOT / "var" / "chaos" / run_id
    log_dir.mkdir(parents=True, exist_ok=True)
    env = service_env(
        database_url,
        LIANGPIAO_RATE_LIMITS_ENABLED="false",
        LIANGPIAO_MOUNT_FAKE_WECHAT="true",
        LIANGPIAO_ACCESS_TOKEN_TTL_SECONDS="3600",
        # PostgreSQL is shared: two servers and a worker stay well within its connections.
        LIANGPIAO_DB_POOL_SIZE="8",
        LIANGPIAO_DB_MAX_OVERFLOW="4",
    )
    journal = Journal()
    load_seconds = 0.0
    await seed_demo_region(database_url)
    primary = ApiServer("api-a", env, log_dir)
    worker = Worker(
        "worker",
        {
            **env,
            **webhooks.WORKER_ENV,
            "LIANGPIAO_DB_POOL_SIZE": "2",
            "LIANGPIAO_DB_MAX_OVERFLOW": "2",
        },
        log_dir,
    )
    receiver = webhooks.ChaosReceiver()
    await receiver.start()
    endpoint_id = ""
    gateway = Gateway([primary.base_url])
    chaos = Chaos(
        config,
        journal=journal,
        gateway=gateway,
        primary=primary,
        worker=worker,
        env=env,
        log_dir=log_dir,
    )
    try:
        primary.start()
        worker.start()
        await primary.wait_ready()
        world = await seed_world(
            primary.base_url,
            volunteers=config.clients * config.volunteers_per_client,
            activities_per_station=config.activities_per_station,
            terminals=config.terminals,
        )
        async with aiohttp.ClientSession() as http:
            endpoint_id = await webhooks.subscribe(
                SetupClient(http, primary.base_url), world.admin, receiver
            )
        journal.event(
            "seeded",
            volunteers=len(world.volunteers),
            activities=len(world.sites),
            terminals=len(world.terminals),
            logs=str(log_dir.relative_to(ROOT)),
        )
        stop = asyncio.Event()
        connector = aiohttp.TCPConnector(limit=config.clients * 4)
        async with aiohttp.ClientSession(connector=connector) as http:
            sender = Sender(
                http,
                gateway,
                journal,
                timeout=config.request_timeout,
                give_up_after=config.give_up_after,
                flaky=config.flaky,
            )
            per = config.volunteers_per_client
            clients = [
                Client(
                    n,
                    world=world,
                    volunteers=world.volunteers[n * per : (n + 1) * per],
                    sender=sender,
                    stop=stop,
                    seed=n,
                )
                for n in range(config.clients)
            ]
            journal.started = time.monotonic()
            journal.event("load started", clients=config.clients)
            tasks = [asyncio.create_task(c.run()) for c in clients]
            schedule = asyncio.create_task(chaos.run())
            await asyncio.sleep(config.duration)
            await schedule
            # A last stretch of calm: every client finishes against a healthy service.
            await asyncio.sleep(3.0)
            stop.set()
            await asyncio.gather(*tasks)
            load_seconds = time.monotonic() - journal.started
            journal.event("load stopped")
        left = await wait_outbox_drained(database_url, within=120.0)
        if left:
            journal.violation(f"{left} hours.approved events were never delivered")
        journal.event("outbox drained")
        conn = await asyncpg.connect(plain_dsn(database_url))
        try:
            left = await webhooks.wait_delivered(conn, within=120.0)
        finally:
            await conn.close()
        if left:
            journal.violation(f"{left} webhook events or messages were still owed")
        journal.event("webhooks delivered")
    finally:
        await asyncio.to_thread(processes.ensure_pg_running)
        await asyncio.to_thread(chaos.stop_all)
        await receiver.stop()
    findings = await check(database_url, journal)
    if endpoint_id:
        conn = await asyncpg.connect(plain_dsn(database_url))
        try:
            hook_figures, hook_violations = await webhooks.check(conn, receiver, endpoint_id)
        finally:
            await conn.close()
        findings.effects.update(hook_figures)
        findings.violations.extend(hook_violations)
    return figures(config, journal, chaos.done, findings, load_seconds)


def figures(
    config: Config,
    journal: Journal,
    done: Disruptions,
    findings: Findings,
    load_seconds: float,
) -> dict[str, Any]:
    kinds = Counter(op.kind for op in journal.ops)
    violations = journal.violations + findings.violations
    # The same fault seen many times reads as one line with its count.
    grouped = Counter(violations).most_common()
    return {
        "config": {
            "duration_s": config.duration,
            "clients": config.clients,
            "volunteers": config.clients * config.volunteers_per_client,
            "pg_down_s": config.pg_down_seconds,
            "flaky": config.flaky,
        },
        "load_seconds": round(load_seconds, 1),
        "requests": len(journal.ops),
        "writes": sum(n for kind, n in kinds.items() if kind in WRITES),
        "requests_per_second": round(len(journal.ops) / load_seconds, 1) if load_seconds else 0,
        "requests_by_kind": dict(sorted(kinds.items())),
        "attempts": journal.attempts,
        "retries": journal.attempts - len(journal.ops),
        "retried_requests": sum(1 for op in journal.ops if op.attempts > 1),
        # Effects of an attempt whose answer was lost, acknowledged to a retry of it.
        "replayed_after_lost_answer": dict(
            sorted(Counter(op.kind for op in journal.ops if op.replayed).items())
        ),
        "outcomes": dict(Counter(op.outcome for op in journal.ops)),
        "refusals": dict(
            Counter(f"{op.kind}:{op.code}" for op in journal.ops if op.outcome == "refused")
        ),
        "statuses": dict(sorted(journal.statuses.items())),
        "failed_attempts": dict(journal.failures),
        "unavailable_503s": sum(journal.unavailable.values()),
        "unavailable_codes": dict(journal.unavailable),
        "kills": done.kills,
        "worker_kills": done.worker_kills,
        "pg_restarts": done.pg_restarts,
        "pg_restarts_skipped": done.pg_restarts_skipped,
        "two_process_seconds": done.two_process_seconds,
        "api_restart_seconds": done.restart_seconds,
        "pg_recovery_seconds": done.pg_recovery_seconds,
        "unavailable_while_pg_down": done.unavailable_while_pg_down,
        "effects": findings.effects,
        "verify_ledger": findings.verify_ledger,
        "violations": len(violations),
        "violation_list": [
            {"count": n, "violation": text, "example": journal.examples.get(text, "")}
            for text, n in grouped[:100]
        ],
        "incomplete": done.incomplete,
        "timeline": journal.events,
    }


def print_figures(data: dict[str, Any]) -> None:
    effects = data["effects"]
    print("== chaos figures")
    print(
        f"requests {data['requests']} ({data['writes']} writes)  attempts {data['attempts']}  "
        f"retries {data['retries']} ({data['retried_requests']} requests retried)  "
        f"in {data['load_seconds']} s ({data['requests_per_second']}/s)"
    )
    print(f"by kind   {data['requests_by_kind']}")
    print(f"outcomes  {data['outcomes']}  refusals {data['refusals']}")
    print(
        f"effects acknowledged to a retry after a lost answer {data['replayed_after_lost_answer']}"
    )
    print(f"statuses  {data['statuses']}")
    print(f"failed attempts {data['failed_attempts']}")
    print(
        f"kills {data['kills']} (api) + {data['worker_kills']} (worker)  PostgreSQL restarts "
        f"{data['pg_restarts']} (skipped {data['pg_restarts_skipped']})  two processes for "
        f"{data['two_process_seconds']} s  503s seen {data['unavailable_503s']} "
        f"{data['unavailable_codes']}"
    )
    print(
        f"api back after kill (s) {data['api_restart_seconds']}  served again after "
        f"PostgreSQL (s) {data['pg_recovery_seconds']}"
    )
    print(f"effects   {effects}")
    print(f"verify-ledger: {data['verify_ledger']}")
    print(f"violations {data['violations']}")
    for entry in data["violation_list"][:30]:
        print(f"  {entry['count']:5d} x {entry['violation']}")
        if entry["example"]:
            print(f"          e.g. {entry['example'][:300]}")
    for text in data["incomplete"]:
        print(f"  incomplete: {text}")


def main(argv: list[str]) -> int:
    config = parse_args(argv)
    processes.ensure_pg_running()
    with fresh_database("liangpiao_chaos") as url:
        try:
            data = asyncio.run(run(url, config))
        finally:
            # Whatever happened, PostgreSQL is up again before the database is dropped.
            processes.ensure_pg_running()
    print_figures(data)
    if config.output is not None:
        config.output.write_text(json.dumps(data, ensure_ascii=False, indent=2) + "\n")
        print(f"results: {config.output}")
    else:
        path = write_results(config.results_name, data)
        print(f"results: {path.relative_to(ROOT)}")
    return 1 if data["violations"] or data["incomplete"] else 0
