"""`python -m app <command>`: migrate, seed-demo, create-region, create-admin,
create-platform-admin, openapi, serve, worker, verify-ledger, export-ledger,
ledger-public-key, tour."""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import secrets
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from alembic import command
from alembic.config import Config

from app.core.config import ConfigurationError, Settings, get_settings
from app.core.logging import JsonFormatter, RedactingFilter

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession

ROOT = Path(__file__).resolve().parent.parent
T = TypeVar("T")


def configure_logging(level: str = "INFO") -> None:
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(JsonFormatter())
    handler.addFilter(RedactingFilter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    for noisy in ("uvicorn.access",):
        logging.getLogger(noisy).disabled = True


def alembic_config(database_url: str | None = None) -> Config:
    cfg = Config(str(ROOT / "alembic.ini"))
    cfg.set_main_option("script_location", str(ROOT / "migrations"))
    if database_url:
        cfg.set_main_option("sqlalchemy.url", database_url.replace("%", "%%"))
    return cfg


def ensure_sqlite_dir(database_url: str) -> None:
    path = sqlite_path(database_url)
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)


def sqlite_path(database_url: str) -> Path | None:
    """The file of a SQLite URL; None for another database or an in-memory one."""
    if not database_url.startswith("sqlite") or ":///" not in database_url:
        return None
    path = database_url.split(":///", 1)[1].split("?", 1)[0]
    return Path(path) if path and path != ":memory:" else None


async def schema_problem(settings: Settings) -> str | None:
    """Why the database cannot serve this code, in one line; None when its schema is current.

    Nothing is created: a SQLite file that does not exist is reported, not made."""
    from alembic.runtime.migration import MigrationContext
    from alembic.script import ScriptDirectory
    from sqlalchemy import make_url
    from sqlalchemy.exc import SQLAlchemyError
    from sqlalchemy.ext.asyncio import create_async_engine

    migrate_hint = "run `python -m app migrate` first"
    path = sqlite_path(settings.database_url)
    if path is not None and not path.exists():
        return f"no database at {path}: {migrate_hint}"
    engine = create_async_engine(settings.database_url)
    try:
        async with engine.connect() as conn:
            current = await conn.run_sync(
                lambda sync: MigrationContext.configure(sync).get_current_heads()
            )
    except (OSError, SQLAlchemyError) as exc:
        where = make_url(settings.database_url).render_as_string(hide_password=True)
        reason = str(getattr(exc, "orig", None) or exc).strip().splitlines()[0]
        return f"cannot reach the database {where}: {reason}"
    finally:
        await engine.dispose()
    heads = ScriptDirectory.from_config(alembic_config()).get_heads()
    if not current:
        return f"the database has no schema: {migrate_hint}"
    if set(current) != set(heads):
        return (
            f"the database schema is at {', '.join(current)} but this code needs "
            f"{', '.join(heads)}: run `python -m app migrate`"
        )
    return None


def migrate(settings: Settings, revision: str = "head") -> None:
    ensure_sqlite_dir(settings.database_url)
    command.upgrade(alembic_config(settings.database_url), revision)


def print_openapi() -> None:
    from app.main import create_app

    settings = Settings(environment="test", run_jobs_in_process=False)
    app = create_app(settings)
    sys.stdout.write(json.dumps(app.openapi(), ensure_ascii=False, indent=2, sort_keys=False))
    sys.stdout.write("\n")


def serve(settings: Settings, host: str, port: int) -> None:
    import uvicorn

    uvicorn.run(
        "app.main:create_app",
        factory=True,
        host=host,
        port=port,
        log_config=None,
        access_log=False,
        proxy_headers=True,
    )


class CommandRefused(Exception):
    """A command that cannot do what it was asked, in one line for the console."""


async def _in_transaction(settings: Settings, work: Callable[[AsyncSession], Awaitable[T]]) -> T:
    """Run `work` in one committed transaction; a domain refusal becomes `CommandRefused`."""
    from app.core.db import Database
    from app.core.errors import AppError

    db = Database(settings)
    try:
        async with db.sessions() as session, session.begin():
            return await work(session)
    except AppError as exc:
        raise CommandRefused(exc.detail) from exc
    finally:
        await db.dispose()


def _demo_password(settings: Settings, username: str, env: str | None = None) -> str:
    """A demo login's password: kept under var/ so that every `make run` prints the same."""
    path = settings.var_dir / f"demo-{username}-password"
    password = os.environ.get(env) if env else None
    if password is None and path.exists():
        password = path.read_text().strip()
    return password or secrets.token_urlsafe(12)


def _keep(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    path.chmod(0o600)


async def _create_region(settings: Settings, code: str, name: str, timezone: str) -> str:
    from pydantic import ValidationError

    from app.tenants.schemas import RegionCreate
    from app.tenants.service import create_region

    try:
        data = RegionCreate(code=code, name=name, timezone=timezone)
    except ValidationError as exc:
        error = exc.errors()[0]
        raise CommandRefused(f"{error['loc'][0]}: {error['msg']}") from exc

    async def work(session: AsyncSession) -> str:
        founded = await create_region(
            session, code=data.code, name=data.name, timezone=data.timezone
        )
        return str(founded.region.id)

    return await _in_transaction(settings, work)


async def _create_admin(
    settings: Settings, username: str, password: str | None, region_code: str | None
) -> str | None:
    from app.tenants.service import create_center_admin

    async def work(session: AsyncSession) -> str | None:
        made = await create_center_admin(
            session, region_code=region_code, username=username, password=password
        )
        return made.generated_password

    return await _in_transaction(settings, work)


async def _create_platform_admin(settings: Settings, username: str, password: str | None) -> str:
    from app.identity.service import create_platform_admin

    password = password or secrets.token_urlsafe(12)

    async def work(session: AsyncSession) -> None:
        await create_platform_admin(session, username=username, password=password)

    await _in_transaction(settings, work)
    return password


async def _seed(settings: Settings) -> dict[str, Any]:
    from app.core.db import Database
    from app.demo import LOGINS, partner, seed_demo

    admin_password = _demo_password(settings, "admin", "LIANGPIAO_DEMO_PASSWORD")
    passwords = {username: _demo_password(settings, username) for username in LOGINS}
    db = Database(settings)
    try:
        summary = await seed_demo(db, admin_password=admin_password, passwords=passwords)
    finally:
        await db.dispose()
    # A password is written only when it is the account's: made now, or read back.
    logins = {"admin": admin_password, **passwords}
    for username, password in logins.items():
        path = settings.var_dir / f"demo-{username}-password"
        if summary["created"] or path.exists():
            _keep(path, password + "\n")
    # The partner's secrets are shown once, like a terminal's key: kept here only.
    partner_file = settings.var_dir / partner.CREDENTIALS_FILE
    connected = summary.pop("partner")
    if connected is not None:
        _keep(partner_file, json.dumps(connected, indent=2) + "\n")
    summary["partner"] = (
        {
            "client_id": json.loads(partner_file.read_text())["client_id"],
            "credentials_file": str(partner_file),
            "received": "/__fake_partner/messages",
        }
        if partner_file.exists()
        else None
    )
    for slug, pem in summary.pop("terminal_keys").items():
        _keep(settings.var_dir / f"demo-terminal-{slug}.pem", pem)
    for merchant in summary["merchants"]:
        key_file = settings.var_dir / f"demo-terminal-{merchant['slug']}.pem"
        merchant["terminal_key_file"] = str(key_file) if key_file.exists() else None
    summary["admin"] = {"username": "admin", "password": admin_password}
    _keep(settings.var_dir / "demo.json", json.dumps(summary, ensure_ascii=False, indent=2) + "\n")
    return summary


def _demo_lines(summary: dict[str, Any], var_dir: Path) -> list[str]:
    """The few lines `make run` prints: who can log in, with what, and what to try."""
    lines = [
        f"{summary['region']} demo {'loaded' if summary['created'] else 'already loaded'}; "
        f"everything below, with ids and offers, is in {var_dir / 'demo.json'}",
        f"  centre admin: admin / {summary['admin']['password']}  (every password: "
        f"{var_dir}/demo-<username>-password)",
        f"  staff: {', '.join(summary['staff'])}",
        '  volunteers (POST /v1/auth/wechat {"code": …}): '
        + ", ".join(
            f"{v['wechat_login_code']} {v['name']} {v['approved_hours']:g} h "
            f"{v['liangpiao_available']} 良票"
            for v in summary["volunteers"]
        ),
    ]
    for m in summary["merchants"]:
        lines.append(
            f"  {m['name']}: {' / '.join(m['logins'])}, terminal {m['terminal_key_id']} "
            f"signs with {m['terminal_key_file'] or '(its key was not kept here)'}"
        )
    if summary["reservation"]:
        r = summary["reservation"]
        lines.append(
            f"  pick-up code {r['pickup_code']}: {r['volunteer']}'s {r['offer']} at {r['merchant']}"
        )
    if summary["partner"]:
        p = summary["partner"]
        lines.append(
            f"  partner platform client {p['client_id']} (secret in {p['credentials_file']}); "
            f"its webhook receiver shows what arrived at {p['received']}"
        )
    if summary.get("emergency"):
        e = summary["emergency"]
        lines.append(
            f"  grid {e['grid_id']} ({e['point']}, run by {e['staff']}): "
            f"team {', '.join(e['team'])}; "
            f"its 防汛演练 {e['drill_alert_id']} is {e['drill_status']} (GET /v1/alerts/<id>)"
        )
    lines.append(
        f"  {summary['pending_hours_records']} hours records wait for approval; "
        f"adjustment {summary['pending_adjustment_id']} waits for admin2; "
        f"yesterday's statement: {summary['closed_statement']}"
    )
    return lines


async def _worker(settings: Settings, once: bool) -> None:
    from app.core.db import Database
    from app.worker import run_jobs_forever, run_once

    db = Database(settings)
    try:
        if once:
            print(json.dumps(await run_once(db)))
        else:
            await run_jobs_forever(db)
    finally:
        await db.dispose()


# Commands that only make sense on a migrated database: each says so in one line if not.
NEEDS_SCHEMA = frozenset(
    {
        "seed-demo",
        "create-region",
        "create-admin",
        "create-platform-admin",
        "serve",
        "worker",
        "verify-ledger",
        "export-ledger",
    }
)

EPILOG = """Settings come from LIANGPIAO_* environment variables or a .env file (see README.md):
LIANGPIAO_DATABASE_URL (default sqlite+aiosqlite:///var/liangpiao.db) and
LIANGPIAO_ENVIRONMENT (dev, test or prod; required with a PostgreSQL URL)."""


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("liangpiao")
    except PackageNotFoundError:
        return "unknown (not installed)"


def build_parser() -> argparse.ArgumentParser:
    defaults = argparse.ArgumentDefaultsHelpFormatter
    parser = argparse.ArgumentParser(
        prog="python -m app", description=__doc__, epilog=EPILOG, formatter_class=defaults
    )
    parser.add_argument("--version", action="version", version=f"liangpiao {_version()}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def command(name: str, summary: str, description: str | None = None) -> argparse.ArgumentParser:
        return sub.add_parser(
            name, help=summary, description=description or summary, formatter_class=defaults
        )

    command("migrate", "upgrade the database to the newest schema (creates a SQLite file)")
    command("seed-demo", "load the 吴江区 demo region (idempotent)")
    region = command(
        "create-region",
        "create a region with its center, 8 standing teams, policies and ledger accounts",
        "Create a region (a tenant) with its center unit, the eight standing teams, its "
        "default policies and its ledger accounts; print its id.",
    )
    region.add_argument("code", help="its code: lower-case letters, digits and -; unique")
    region.add_argument("name", help="its name, such as 吴江区")
    region.add_argument("--timezone", default="Asia/Shanghai", help="its IANA time zone")
    admin = command("create-admin", "create a center admin of a region")
    admin.add_argument("username", help="the login name")
    admin.add_argument("--password", help="its password; if omitted, a random one, printed once")
    admin.add_argument("--region", metavar="CODE", help="the region's code (default: the first)")
    platform = command(
        "create-platform-admin",
        "create a platform admin: creates regions and their first admins over the API",
    )
    platform.add_argument("username", help="the login name")
    platform.add_argument("--password", help="its password; if omitted, a random one, printed once")
    command("openapi", "print the OpenAPI document (needs no database)")
    srv = command("serve", "serve the API with uvicorn")
    srv.add_argument("--host", default="127.0.0.1", help="the address to listen on")
    srv.add_argument("--port", type=int, default=8000, help="the port to listen on")
    verify = command(
        "verify-ledger",
        "replay the ledger and check every invariant",
        "Replay the ledger and check every invariant. With --key, block signatures "
        "are checked against the given public keys, not the database's; with --pin too, the "
        "chain must hold every head of HEADS_FILE.",
    )
    verify.add_argument(
        "--key",
        action="append",
        default=[],
        metavar="PUBLIC_KEY",
        help="a ledger public key: PEM or JWK (set) file, or base64url; repeat for several",
    )
    verify.add_argument(
        "--pin", metavar="HEADS_FILE", help="JSON-lines signed heads (the head log); needs --key"
    )
    export = command("export-ledger", "print every block and transaction as JSON")
    export.add_argument("--output", help="write to this file (default: standard output)")
    command("ledger-public-key", "print the ledger signer's public key as a JWK")
    wrk = command("worker", "run the background jobs (outbox, holds, expiry, sealing)")
    wrk.add_argument("--once", action="store_true", help="run every job until idle, then exit")
    tour = command(
        "tour",
        "play docs/walkthrough.md against a running server (`make run`), every role in turn",
    )
    tour.add_argument("--base-url", default="http://127.0.0.1:8000", help="the server's URL")
    tour.add_argument(
        "--admin-password-file",
        default="var/demo-admin-password",
        help="the demo centre admin's password, as `seed-demo` wrote it",
    )
    return parser


def _account_or_region(settings: Settings, args: argparse.Namespace) -> str:
    """What create-region, create-admin and create-platform-admin print."""
    if args.command == "create-region":
        return asyncio.run(_create_region(settings, args.code, args.name, args.timezone))
    if args.command == "create-admin":
        generated = asyncio.run(_create_admin(settings, args.username, args.password, args.region))
        shown = generated or args.password
        return f"created center admin {args.username!r} with password {shown}"
    password = asyncio.run(_create_platform_admin(settings, args.username, args.password))
    return f"created platform admin {args.username!r} with password {password}"


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command == "verify-ledger" and args.pin and not args.key:
        parser.error("verify-ledger --pin needs --key: heads are checked with a key held apart")

    if args.command == "openapi":
        print_openapi()
        return 0
    if args.command == "tour":  # a client of a running server: no settings, no database
        from app.tour import run_cli as tour_cli

        return tour_cli(base_url=args.base_url, password_file=args.admin_password_file)
    try:
        settings = get_settings()
    except ConfigurationError as exc:
        print(exc, file=sys.stderr)
        return 2
    if args.command in NEEDS_SCHEMA:
        problem = asyncio.run(schema_problem(settings))
        if problem is not None:
            print(f"{args.command}: {problem}", file=sys.stderr)
            return 2
    # The demo's story logs each step it lives through: only what goes wrong is shown.
    configure_logging("WARNING" if args.command == "seed-demo" else settings.log_level)
    if args.command == "migrate":
        migrate(settings)
    elif args.command == "seed-demo":
        from app.demo import DemoIncomplete

        try:
            summary = asyncio.run(_seed(settings))
        except DemoIncomplete as exc:
            print(f"seed-demo: {exc}", file=sys.stderr)
            return 2
        print("\n".join(_demo_lines(summary, settings.var_dir)))
    elif args.command in ("create-region", "create-admin", "create-platform-admin"):
        try:
            print(_account_or_region(settings, args))
        except CommandRefused as exc:
            print(f"{args.command}: {exc}", file=sys.stderr)
            return 1
    elif args.command == "serve":
        serve(settings, args.host, args.port)
    elif args.command == "worker":
        asyncio.run(_worker(settings, args.once))
    elif args.command == "verify-ledger":
        from app.verification import run_cli

        return run_cli(settings, key_specs=args.key, heads_file=args.pin)
    elif args.command == "export-ledger":
        from app.ledger.export import run_cli as export_cli

        return export_cli(settings, args.output)
    elif args.command == "ledger-public-key":
        from app.ledger.signer import load_signer
        from app.ledger.standalone_verify import b64url

        signer = load_signer(settings)
        jwk = {"kty": "OKP", "crv": "Ed25519", "kid": signer.key_id, "x": b64url(signer.public_key)}
        print(json.dumps(jwk))
    return 0
