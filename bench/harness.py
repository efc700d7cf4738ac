"""What every benchmark shares: a fresh PostgreSQL database, the real server in its own
processes, a closed-loop load generator, the baselines and the results file.

A benchmark prints throughput and latency percentiles for the service and for its
baseline measured in the same run (a bare FastAPI route served the same way, or
PostgreSQL's own pgbench TPC-B), their ratio, and writes all of it to
bench/results/<name>.json.
"""

from __future__ import annotations

import asyncio
import functools
import json
import os
import platform
import re
import socket
import statistics
import subprocess
import sys
import time
import uuid
from collections import Counter
from collections.abc import Awaitable, Callable, Coroutine, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast
from urllib.parse import urlsplit

import asyncpg
import httptools
import uvloop

if TYPE_CHECKING:
    from app.core.security import KeyRing

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"
PG_ADMIN = os.environ.get("LIANGPIAO_BENCH_PG", "postgresql://postgres@127.0.0.1:5432/postgres")
PY = sys.executable
# The same for every benchmark: closed-loop clients, uvicorn workers, unmeasured warm-up.
CLIENTS = int(os.environ.get("LIANGPIAO_BENCH_CLIENTS", "32"))
WORKERS = int(os.environ.get("LIANGPIAO_BENCH_WORKERS", "2"))
WARMUP = 200
# Rounds of a load interleaved with its reference, for ratios that the machine's drift
# between one measurement and the next does not skew.
ROUNDS = int(os.environ.get("LIANGPIAO_BENCH_ROUNDS", "5"))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def fresh_database(prefix: str = "liangpiao_bench") -> Iterator[str]:
    """A new, migrated PostgreSQL database; yields its asyncpg SQLAlchemy URL, drops it after."""
    name = f"{prefix}_{uuid.uuid4().hex[:8]}"
    run_sql(PG_ADMIN, f'CREATE DATABASE "{name}"')
    base = PG_ADMIN.rsplit("/", 1)[0]
    url = f"{base.replace('postgresql://', 'postgresql+asyncpg://')}/{name}"
    try:
        subprocess.run(
            [PY, "-m", "app", "migrate"],
            cwd=ROOT,
            env={
                **os.environ,
                "LIANGPIAO_ENVIRONMENT": "test",
                "LIANGPIAO_DATABASE_URL": url,
                "LIANGPIAO_LOG_LEVEL": "WARNING",
            },
            check=True,
            stdout=subprocess.DEVNULL,
        )
        yield url
    finally:
        run_sql(PG_ADMIN, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def plain_dsn(sqlalchemy_url: str) -> str:
    return sqlalchemy_url.replace("postgresql+asyncpg://", "postgresql://")


def run_sql(dsn: str, sql: str) -> None:
    """One statement outside a transaction block, on a connection of its own."""

    async def run() -> None:
        conn = await asyncpg.connect(dsn)
        try:
            await conn.execute(sql)
        finally:
            await conn.close()

    asyncio.run(run())


def settle(database_url: str) -> None:
    """VACUUM ANALYZE the benchmark's database once its set-up is written: the load then
    meets current statistics, as a database in service has them, and not an autovacuum
    of the set-up's rows that starts in the middle of a measurement."""
    run_sql(plain_dsn(database_url), "VACUUM ANALYZE")


@contextmanager
def serve(
    target: str,
    *,
    env: dict[str, str] | None = None,
    workers: int = 2,
    factory: bool = True,
) -> Iterator[str]:
    """Serve `module:callable` with uvicorn in separate processes; yields the base URL."""
    port = free_port()
    cmd = [
        PY,
        "-m",
        "uvicorn",
        target,
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--workers",
        str(workers),
        "--no-access-log",
        "--log-level",
        "warning",
        "--loop",
        "uvloop",
        "--http",
        "httptools",
    ]
    if factory:
        cmd.append("--factory")
    proc = subprocess.Popen(cmd, cwd=ROOT, env={**os.environ, **(env or {})})
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                    break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"server {target} did not start") from None
                time.sleep(0.1)
        time.sleep(0.5 * workers)
        yield base
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()


def service_env(database_url: str, **extra: str) -> dict[str, str]:
    key_path = ROOT / "var" / "bench-jwt.pem"
    if not key_path.exists():
        from app.core.security import generate_private_key_pem

        key_path.parent.mkdir(exist_ok=True)
        key_path.write_text(generate_private_key_pem())
    return {
        "LIANGPIAO_ENVIRONMENT": "test",
        "LIANGPIAO_DATABASE_URL": database_url,
        "LIANGPIAO_JWT_PRIVATE_KEY": key_path.read_text(),
        "LIANGPIAO_JWT_KID": "bench",
        "LIANGPIAO_RUN_JOBS_IN_PROCESS": "false",
        "LIANGPIAO_LOG_LEVEL": "WARNING",
        "LIANGPIAO_DB_POOL_SIZE": os.environ.get("LIANGPIAO_BENCH_DB_POOL_SIZE", "20"),
        "LIANGPIAO_DB_MAX_OVERFLOW": os.environ.get("LIANGPIAO_BENCH_DB_MAX_OVERFLOW", "10"),
        **extra,
    }


@dataclass
class Stats:
    name: str
    requests: int
    seconds: float
    throughput: float
    p50_ms: float
    p95_ms: float
    p99_ms: float
    max_ms: float
    statuses: dict[str, int] = field(default_factory=dict)
    # Every measured latency (ms, sorted), to combine rounds; not written to the results.
    samples: list[float] = field(default_factory=list, repr=False)

    def line(self) -> str:
        return (
            f"{self.name:<28} {self.throughput:9.1f} req/s   p50 {self.p50_ms:6.1f} ms   "
            f"p95 {self.p95_ms:6.1f} ms   p99 {self.p99_ms:6.1f} ms   statuses {self.statuses}"
        )


def _percentile(sorted_values: list[float], q: float) -> float:
    if not sorted_values:
        return 0.0
    index = min(len(sorted_values) - 1, max(0, round(q * (len(sorted_values) - 1))))
    return sorted_values[index]


@dataclass(frozen=True, slots=True)
class Reply:
    status: int
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


class _Exchange(asyncio.Protocol):
    """One keep-alive connection's side of an exchange: feeds the answer to httptools'
    parser and resolves the waiting request with it."""

    def __init__(self) -> None:
        self.parser = httptools.HttpResponseParser(self)
        self.transport: asyncio.Transport | None = None
        self.waiter: asyncio.Future[Reply] | None = None
        self.chunks: list[bytes] = []
        self.reusable = True

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)

    def data_received(self, data: bytes) -> None:
        self.parser.feed_data(data)

    def on_body(self, body: bytes) -> None:
        self.chunks.append(body)

    def on_message_complete(self) -> None:
        reply = Reply(self.parser.get_status_code(), b"".join(self.chunks))
        self.chunks = []
        self.reusable = self.parser.should_keep_alive()
        waiter, self.waiter = self.waiter, None
        if waiter is not None and not waiter.done():
            waiter.set_result(reply)

    def connection_lost(self, exc: Exception | None) -> None:
        self.reusable = False
        waiter, self.waiter = self.waiter, None
        if waiter is not None and not waiter.done():
            waiter.set_exception(exc or ConnectionError("the server closed the connection"))


_json_dumps = json.dumps  # `post` takes a `json=` argument, as general clients do


@functools.lru_cache(maxsize=1024)
def _split(url: str) -> tuple[str, int, str]:
    """(host, port, request target) of a URL; a load sends the same few URLs again."""
    parts = urlsplit(url)
    target = parts.path + (f"?{parts.query}" if parts.query else "")
    return parts.hostname or "127.0.0.1", parts.port or 80, target


class HttpClient:
    """A load generator's client: one keep-alive HTTP/1.1 connection, one request at a
    time. It builds requests as bytes and parses answers with httptools (the parser
    uvicorn serves with), so it takes a fraction of a general client's CPU: it shares
    the machine with the server it measures, as pgbench's own client does."""

    def __init__(self) -> None:
        self._exchange: _Exchange | None = None
        self._origin: tuple[str, int] | None = None

    async def post(
        self,
        url: str,
        *,
        json: Any = None,
        data: bytes | str | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> Reply:
        host, port, target = _split(url)
        fields = dict(headers or {})
        if json is not None:
            body = _json_dumps(json).encode()
            fields.setdefault("Content-Type", "application/json")
        else:
            body = data.encode() if isinstance(data, str) else (data or b"")
        head = "".join(f"{name}: {value}\r\n" for name, value in fields.items())
        request = (
            f"POST {target} HTTP/1.1\r\nHost: {host}:{port}\r\n"
            f"Content-Length: {len(body)}\r\n{head}\r\n"
        ).encode() + body
        exchange = await self._connection(host, port)
        waiter = asyncio.get_running_loop().create_future()
        exchange.waiter = waiter
        cast(asyncio.Transport, exchange.transport).write(request)
        return await waiter

    async def _connection(self, host: str, port: int) -> _Exchange:
        exchange = self._exchange
        if exchange is None or not exchange.reusable or self._origin != (host, port):
            self.close()
            loop = asyncio.get_running_loop()
            _, exchange = await loop.create_connection(_Exchange, host, port)
            self._exchange, self._origin = exchange, (host, port)
        return exchange

    def close(self) -> None:
        if self._exchange is not None and self._exchange.transport is not None:
            self._exchange.transport.close()
        self._exchange = None


Request = Callable[[HttpClient, int], Awaitable[int]]


def run_load(load: Coroutine[Any, Any, Stats]) -> Stats:
    """Run a load generator on uvloop, as the server runs: the generator shares the
    machine's cores with the server, so the less CPU it takes the less it skews."""
    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        return runner.run(load)


async def closed_loop(
    name: str,
    request: Request,
    *,
    concurrency: int,
    total: int,
    warmup: int = WARMUP,
    first: int = 0,
) -> Stats:
    """`concurrency` clients each send their next request when the last one answered,
    each on its own connection; request(client, i) performs request number i, from
    `first` on (a later round of the same load takes the numbers after the last
    round's), and returns its status."""
    counter = iter(range(first, first + total + warmup))
    latencies: list[float] = []
    statuses: Counter[str] = Counter()

    async def worker() -> None:
        http = HttpClient()
        try:
            for i in counter:
                started = time.perf_counter()
                status = await request(http, i)
                elapsed = (time.perf_counter() - started) * 1000
                if i >= first + warmup:
                    latencies.append(elapsed)
                    statuses[str(status)] += 1
        finally:
            http.close()

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    seconds = time.perf_counter() - started
    measured = len(latencies)
    # Throughput over the measured requests only: scale the wall time by their share.
    seconds_measured = seconds * measured / max(1, measured + warmup)
    return _stats(name, latencies, seconds_measured, statuses)


def _stats(name: str, latencies: list[float], seconds: float, statuses: Counter[str]) -> Stats:
    latencies = sorted(latencies)
    return Stats(
        name=name,
        requests=len(latencies),
        seconds=round(seconds, 3),
        throughput=round(len(latencies) / seconds, 1) if seconds else 0.0,
        p50_ms=round(_percentile(latencies, 0.50), 2),
        p95_ms=round(_percentile(latencies, 0.95), 2),
        p99_ms=round(_percentile(latencies, 0.99), 2),
        max_ms=round(latencies[-1], 2) if latencies else 0.0,
        statuses=dict(statuses),
        samples=latencies,
    )


def combined(name: str, parts: list[Stats]) -> Stats:
    """Rounds of one load as one: all their requests, time and latencies together."""
    statuses: Counter[str] = Counter()
    for part in parts:
        statuses.update(part.statuses)
    return _stats(
        name,
        [ms for part in parts for ms in part.samples],
        sum(part.seconds for part in parts),
        statuses,
    )


def bare_fastapi_baseline(*, concurrency: int, total: int, workers: int = 2) -> Stats:
    """The same load against a bare FastAPI route served the same way."""
    with serve("bench.baseline_app:create_app", workers=workers) as base:
        url = f"{base}/ping"
        payload = {"code": "x" * 24, "latitude": 31.1, "longitude": 120.6, "accuracy": 20}

        async def one(http: HttpClient, i: int) -> int:
            return (await http.post(url, json=payload)).status

        return run_load(
            closed_loop("bare FastAPI route", one, concurrency=concurrency, total=total)
        )


def service_keyring(env: dict[str, str]) -> KeyRing:
    """The served app's signing key (service_env), to issue the load's access tokens."""
    from pydantic import SecretStr

    from app.core.config import Settings
    from app.core.security import KeyRing

    return KeyRing(
        Settings(
            environment="test",
            jwt_private_key=SecretStr(env["LIANGPIAO_JWT_PRIVATE_KEY"]),
            jwt_kid=env["LIANGPIAO_JWT_KID"],
            access_token_ttl_seconds=3600,
        )
    )


async def verify_ledger(
    database_url: str, *, also: Callable[[Any], Awaitable[dict[str, Any]]] | None = None
) -> dict[str, Any]:
    """`verify-ledger` on the benchmark's database after the load, plus what `also`
    reads with the same session."""
    from app.core.config import Settings
    from app.core.db import Database
    from app.ledger.verify import verify

    db = Database(Settings(environment="test", database_url=database_url))
    try:
        async with db.sessions() as session:
            report = await verify(session)
            extra = await also(session) if also is not None else {}
    finally:
        await db.dispose()
    return {
        "ledger_ok": report.ok,
        "problems": report.problems[:5],
        "transactions": report.transactions,
        "postings_total": report.postings_total,
        **extra,
    }


def stack_floor(env: dict[str, str], *, concurrency: int, total: int, workers: int = 2) -> Stats:
    """The same load against the service's floor (bench/floor_app.py): its middleware,
    a bearer token verified per request (each request its own, as phones send them)
    and a transaction of one `SELECT 1`, served the same way."""
    from bench.floor_app import FLOOR_PATH

    ring = service_keyring(env)
    region_id = uuid.uuid4()
    tokens = [
        ring.issue(sub=uuid.uuid4(), typ="volunteer", region_id=region_id)[0]
        for _ in range(total + WARMUP)
    ]
    limits = json.loads(env.get("LIANGPIAO_RATE_LIMITS", "{}"))
    limits |= {"default.principal": "1000000/minute", "default.ip": "1000000/minute"}
    floor_env = {**env, "LIANGPIAO_RATE_LIMITS": json.dumps(limits)}
    with serve("bench.floor_app:create_app", env=floor_env, workers=workers) as base:
        url = f"{base}{FLOOR_PATH}"
        payload = {"code": "x" * 24, "latitude": 31.1, "longitude": 120.6, "accuracy": 20}

        async def one(http: HttpClient, i: int) -> int:
            headers = {"Authorization": f"Bearer {tokens[i]}"}
            return (await http.post(url, json=payload, headers=headers)).status

        return run_load(
            closed_loop("floor: token + 1-statement tx", one, concurrency=concurrency, total=total)
        )


@contextmanager
def pgbench_scratch(*, scale: int = 10) -> Iterator[Callable[..., float]]:
    """A scratch pgbench database on this server, initialised once; yields
    run(clients=, seconds=) -> PostgreSQL's own TPC-B-like tps, to run between rounds."""
    name = f"liangpiao_pgbench_{uuid.uuid4().hex[:8]}"
    host_args = ["-h", "127.0.0.1", "-p", "5432", "-U", "postgres"]
    subprocess.run(["createdb", *host_args, name], check=True)

    def run(*, clients: int = 32, seconds: int = 15) -> float:
        out = subprocess.run(
            [
                "pgbench",
                *host_args,
                "-c",
                str(clients),
                "-j",
                "2",
                "-T",
                str(seconds),
                "-M",
                "prepared",
                name,
            ],
            check=True,
            capture_output=True,
            text=True,
        ).stdout
        match = re.search(r"tps = ([0-9.]+)", out)
        if match is None:
            raise RuntimeError(f"pgbench printed no tps:\n{out}")
        return float(match.group(1))

    try:
        subprocess.run(
            ["pgbench", *host_args, "-i", "-q", "-s", str(scale), name],
            check=True,
            capture_output=True,
        )
        yield run
    finally:
        subprocess.run(["dropdb", *host_args, "--if-exists", "--force", name], check=False)


def pgbench_tpcb(*, clients: int = 32, seconds: int = 15, scale: int = 10) -> float:
    """PostgreSQL's own TPC-B-like tps on this server, in a scratch database."""
    with pgbench_scratch(scale=scale) as run:
        return run(clients=clients, seconds=seconds)


def write_results(name: str, data: dict[str, Any]) -> Path:
    RESULTS.mkdir(parents=True, exist_ok=True)
    record = {
        "benchmark": name,
        "at": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
        **data,
    }
    path = RESULTS / f"{name}.json"
    path.write_text(json.dumps(record, ensure_ascii=False, indent=2, default=_stats_json) + "\n")
    return path


def _stats_json(value: object) -> dict[str, Any]:
    if not isinstance(value, Stats):
        raise TypeError(f"{type(value).__name__} is not JSON serializable")
    fields = asdict(value)
    del fields["samples"]
    return fields


def summarize(stats: list[Stats]) -> str:
    return "\n".join(s.line() for s in stats)


def median(values: list[float]) -> float:
    return statistics.median(values) if values else 0.0
