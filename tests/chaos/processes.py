"""The processes the chaos run starts, kills and restarts: API servers, the worker, and
the local PostgreSQL cluster.

An API server is uvicorn with `--workers 1`, so the process we start is the one that
serves: SIGKILL takes it down mid-request with no supervisor to soften the blow, and a
restart binds the same port again. Output goes to one log file per process under the
run's directory, appended across restarts.

PostgreSQL is shared with everyone else on the machine: before it is stopped, the run
waits until no `pytest` outside its own process tree is running, and whatever happens
it is started again and answers `pg_isready` before the run goes on.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

import aiohttp

from bench.harness import PY, ROOT, free_port

PG_HOST = "127.0.0.1"
PG_PORT = "5432"


@dataclass
class Process:
    """One long-running child process that can be killed and started again."""

    name: str
    cmd: list[str]
    env: dict[str, str]
    log_path: Path
    proc: subprocess.Popen[bytes] | None = None
    starts: int = 0
    kills: int = 0
    _log: IO[bytes] | None = field(default=None, repr=False)

    @property
    def pid(self) -> int | None:
        return self.proc.pid if self.proc is not None else None

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def start(self) -> None:
        if self.running:
            raise RuntimeError(f"{self.name} is already running")
        if self._log is None:
            self._log = self.log_path.open("ab")
        self._log.write(f"\n--- start {self.starts + 1} at {time.time():.3f}\n".encode())
        self._log.flush()
        self.proc = subprocess.Popen(
            self.cmd,
            cwd=ROOT,
            env={**os.environ, **self.env},
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )
        self.starts += 1

    def sigkill(self) -> None:
        """SIGKILL, as the kernel's OOM killer or a pulled plug would."""
        if self.proc is None or self.proc.poll() is not None:
            raise RuntimeError(f"{self.name} is not running")
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait()
        self.kills += 1

    def stop(self, timeout: float = 15.0) -> None:
        """Terminate gracefully (SIGTERM), SIGKILL if it does not go."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if self._log is not None:
            self._log.close()
            self._log = None


class ApiServer(Process):
    """`uvicorn app.main:create_app --factory --workers 1` on a fixed loopback port."""

    def __init__(self, name: str, env: dict[str, str], log_dir: Path) -> None:
        self.port = free_port()
        cmd = [
            PY,
            "-m",
            "uvicorn",
            "app.main:create_app",
            "--factory",
            "--host",
            "127.0.0.1",
            "--port",
            str(self.port),
            "--workers",
            "1",
            "--no-access-log",
            "--log-level",
            "warning",
            "--loop",
            "uvloop",
            "--http",
            "httptools",
        ]
        # The fake WeChat is mounted in the app itself: each server logs in against its own.
        own = {"LIANGPIAO_WECHAT_API_BASE": f"{self.base_url}/__fake_wechat"}
        super().__init__(name=name, cmd=cmd, env={**env, **own}, log_path=log_dir / f"{name}.log")

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def wait_ready(self, *, within: float = 60.0) -> float:
        """Wait until `/readyz` answers 200; returns the seconds it took."""
        started = time.monotonic()
        deadline = started + within
        async with aiohttp.ClientSession() as http:
            while True:
                if self.proc is not None and self.proc.poll() is not None:
                    raise RuntimeError(f"{self.name} exited with {self.proc.returncode}")
                try:
                    async with http.get(
                        f"{self.base_url}/readyz", timeout=aiohttp.ClientTimeout(total=2)
                    ) as response:
                        if response.status == 200:
                            return time.monotonic() - started
                except (aiohttp.ClientError, TimeoutError):
                    pass
                if time.monotonic() > deadline:
                    raise RuntimeError(f"{self.name} was not ready within {within:.0f} s")
                await asyncio.sleep(0.1)


class Worker(Process):
    """`python -m app worker`: the outbox (issuance) and the periodic jobs."""

    def __init__(self, name: str, env: dict[str, str], log_dir: Path) -> None:
        super().__init__(
            name=name,
            cmd=[PY, "-m", "app", "worker"],
            env=env,
            log_path=log_dir / f"{name}.log",
        )


# PostgreSQL


def _parent_of(pid: int) -> int | None:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # The command name is in parentheses and may hold spaces: the fields follow the last ")".
    fields = stat.rsplit(")", 1)[1].split()
    return int(fields[1])


def own_lineage() -> set[int]:
    """This process and its ancestors: the pytest that may be running us is not foreign."""
    pids: set[int] = set()
    pid: int | None = os.getpid()
    while pid and pid not in pids:
        pids.add(pid)
        pid = _parent_of(pid)
    return pids


def _descends_from(pid: int, ancestors: set[int]) -> bool:
    seen: set[int] = set()
    current: int | None = pid
    while current and current not in seen:
        if current in ancestors:
            return True
        seen.add(current)
        current = _parent_of(current)
    return False


def foreign_pytests() -> list[int]:
    """Running pytest processes that are neither us, our ancestors, nor our children."""
    found = subprocess.run(["pgrep", "-f", "pytest"], capture_output=True, text=True, check=False)
    lineage = own_lineage()
    pids = [int(p) for p in found.stdout.split()]
    return [p for p in pids if p not in lineage and not _descends_from(p, {os.getpid()})]


def cluster_version() -> str:
    versions = sorted(os.listdir("/etc/postgresql"))
    if len(versions) != 1:
        raise RuntimeError(f"expected one PostgreSQL cluster version, found {versions}")
    return versions[0]


def pg_ctlcluster(action: str, *extra: str) -> None:
    subprocess.run(
        ["pg_ctlcluster", "--skip-systemctl-redirect", cluster_version(), "main", action, *extra],
        check=True,
        capture_output=True,
    )


def pg_is_ready() -> bool:
    result = subprocess.run(
        ["pg_isready", "-h", PG_HOST, "-p", PG_PORT, "-q"], check=False, capture_output=True
    )
    return result.returncode == 0


def wait_pg_ready(timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not pg_is_ready():
        if time.monotonic() > deadline:
            raise RuntimeError(f"PostgreSQL did not answer pg_isready within {timeout:.0f} s")
        time.sleep(0.2)


def ensure_pg_running() -> None:
    """Start the cluster if it is down; return once it accepts connections."""
    if not pg_is_ready():
        # It may already be starting (or be started by someone else meanwhile): then wait.
        with contextlib.suppress(subprocess.CalledProcessError):
            pg_ctlcluster("start")
    wait_pg_ready()
