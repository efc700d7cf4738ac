"""Database: the declarative base, the engine, and the per-request unit of work.

One `AsyncSession` per request. Services and repositories `flush()`, never
`commit()`; `get_session` commits when the route returns, before the response
is sent, and rolls back on any error (except refusals marked `commit`).
SQLite runs in WAL mode with foreign keys on and every transaction opened as
`BEGIN IMMEDIATE`, so writers queue instead of failing half-way. The hot paths'
core statements go through `fetch_rows`, which on PostgreSQL sends them on the
session's own asyncpg connection, inside its transaction.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated, Any, ClassVar, cast

from fastapi import Depends, Request
from sqlalchemy import DateTime, MetaData, event
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Dialect
from sqlalchemy.exc import DBAPIError, IntegrityError, ResourceClosedError
from sqlalchemy.ext.asyncio import (
    AsyncConnection,
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.sql import ClauseElement, Executable
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.types import TypeDecorator, Uuid

from app.core import clock
from app.core.config import Settings
from app.core.errors import AppError

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UTCDateTime(TypeDecorator[datetime]):
    """A timezone-aware instant stored as UTC (SQLite keeps no offset, so add it back)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTCDateTime column")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map: ClassVar[dict[Any, Any]] = {datetime: UTCDateTime(), uuid.UUID: Uuid()}


def new_id() -> uuid.UUID:
    return uuid.uuid4()


class IdMixin:
    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)


class TimestampMixin:
    created_at: Mapped[datetime] = mapped_column(default=clock.now)
    updated_at: Mapped[datetime] = mapped_column(default=clock.now, onupdate=clock.now)


def _configure_sqlite(engine: AsyncEngine) -> None:
    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Let SQLAlchemy, not the driver, open transactions, so BEGIN IMMEDIATE sticks.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=10000")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(conn: Any) -> None:
        conn.exec_driver_sql("BEGIN IMMEDIATE")


def dialect_insert(dialect: str) -> Any:
    """`insert` of the dialect named, for its `ON CONFLICT` clauses (upserts, claims)."""
    return postgresql.insert if dialect == "postgresql" else sqlite.insert


def rowcount(result: Any) -> int:
    """How many rows an UPDATE, DELETE or INSERT … ON CONFLICT DO NOTHING changed."""
    return int(getattr(result, "rowcount", 0) or 0)


def session_insert(session: AsyncSession) -> Any:
    """`dialect_insert` of the database the session is bound to."""
    return dialect_insert(session.get_bind().dialect.name)


@dataclass(frozen=True, slots=True)
class _Direct:
    """A statement compiled once for asyncpg: its SQL, and how to order and convert
    its parameters."""

    statement: Executable
    sql: str
    construct: Callable[..., Any]
    names: tuple[str, ...]
    processors: tuple[Callable[[Any], Any] | None, ...]

    @classmethod
    def compile(cls, statement: Executable, dialect: Dialect, keys: tuple[str, ...]) -> _Direct:
        # An INSERT names the columns given, as `session.execute` would compile it; a
        # column left out whose default Python computes makes `arguments` fail loudly.
        clause = cast(ClauseElement, statement)
        compiled = cast(SQLCompiler, clause.compile(dialect=dialect, column_keys=list(keys)))
        names = tuple(compiled.positiontup or ())
        processors = tuple(
            compiled.binds[name].type.dialect_impl(dialect).bind_processor(dialect)
            for name in names
        )
        return cls(statement, compiled.string, compiled.construct_params, names, processors)

    def arguments(self, params: Mapping[str, Any]) -> list[Any]:
        values = self.construct(params)
        return [
            value if process is None else process(value)
            for value, process in zip(
                (values[name] for name in self.names), self.processors, strict=True
            )
        ]


_DIRECT: dict[tuple[int, tuple[str, ...]], _Direct] = {}


async def fetch_rows(
    session: AsyncSession, statement: Executable, params: Mapping[str, Any]
) -> Sequence[Sequence[Any]]:
    """The rows of one core statement, run in the session's transaction.

    On PostgreSQL the statement (compiled once per process) runs on the session's own
    asyncpg connection, in its transaction (begun here, as SQLAlchemy would begin it,
    when this is its first statement): a hot path's statement costs the driver's round
    trip and not SQLAlchemy's per-execution work, about half the client CPU of a short
    statement. Failures are raised as SQLAlchemy's (`IntegrityError`, `DBAPIError`),
    with the SQLSTATE readable by `sqlstate`, so callers and the request retry treat
    them alike. Otherwise: `session.execute`. Only for statements built once (module
    constants): the cache is by identity and parameter names. Rows are the driver's,
    with no result processing (a JSON column would come back as text on PostgreSQL):
    hot paths read plain columns.
    """
    found = await _driver_of(session)
    if found is not None:
        connection, driver = found
        cache_key = (id(statement), tuple(params))
        direct = _DIRECT.get(cache_key)
        if direct is None or direct.statement is not statement:
            direct = _Direct.compile(statement, connection.dialect, cache_key[1])
            _DIRECT[cache_key] = direct
        arguments = direct.arguments(params)
        try:
            rows: Sequence[Sequence[Any]] = await driver.fetch(direct.sql, *arguments)
        except Exception as error:
            raise await _translated(connection, driver, direct.sql, error) from error
        return rows
    result = await session.execute(statement, params)
    try:
        return list(result.all())
    except ResourceClosedError:  # a statement without rows to return
        return []


_DRIVER = "liangpiao.driver"


async def _driver_of(session: AsyncSession) -> tuple[AsyncConnection, Any] | None:
    """The session's connection and its asyncpg connection, in a PostgreSQL transaction
    (begun here when the statement is the session's first); looked up once per
    transaction and savepoint.

    `session.connection()` is what makes SQLAlchemy emit a pending SAVEPOINT
    (`begin_nested` defers it), so it runs again whenever the innermost transaction
    changes: a statement sent past SQLAlchemy must not run before its savepoint.
    """
    sync = session.sync_session
    current = (sync.get_transaction(), sync.get_nested_transaction())
    cached = session.info.get(_DRIVER)
    # A cached entry is of a begun transaction: before one begins, (None, None) misses.
    if cached is None or cached[0] != current:
        connection = await session.connection()
        adapter = driver = None
        if connection.dialect.name == "postgresql":
            raw = await connection.get_raw_connection()
            adapter, driver = raw.dbapi_connection, raw.driver_connection
        current = (sync.get_transaction(), sync.get_nested_transaction())
        cached = session.info[_DRIVER] = (current, connection, adapter, driver)
    _, connection, adapter, driver = cached
    if driver is None:
        return None
    if not driver.is_in_transaction():
        # The session has begun but the adapter sends BEGIN lazily, with its first
        # statement: send it the adapter's way, so that it commits and rolls back
        # this transaction as its own.
        begin = getattr(adapter, "_start_transaction", None)
        if begin is None:
            return None
        try:
            await begin()
        except Exception as error:
            raise await _translated(connection, driver, "BEGIN", error) from error
    return connection, driver


async def _translated(
    connection: AsyncConnection, driver: Any, sql: str, error: Exception
) -> DBAPIError:
    """An asyncpg failure as the SQLAlchemy error `session.execute` would have raised."""
    state = str(getattr(error, "sqlstate", "") or "")
    if state.startswith("23"):
        return IntegrityError(sql, None, error)
    if state.startswith("08") or state in _SERVER_GONE or driver.is_closed():
        # The connection itself failed: the pool must not hand it out again.
        await connection.invalidate(error)
        return DBAPIError(sql, None, error, connection_invalidated=True)
    return DBAPIError(sql, None, error)


# Administrator or crash shutdown, or a server still starting: the connection is gone.
_SERVER_GONE = ("57P01", "57P02", "57P03")


def make_engine(settings: Settings, *, pool_size: int | None = None) -> AsyncEngine:
    # Parameters may carry personal data: keep them out of error messages and logs.
    if settings.is_sqlite:
        engine = create_async_engine(settings.database_url, hide_parameters=True)
        _configure_sqlite(engine)
        return engine
    connect_args: dict[str, Any] = {}
    if settings.database_role is not None:
        # A startup parameter, not a SET after connecting: the role holds from the
        # connection's first statement, and RESET ROLE returns to it, not to the login.
        connect_args["server_settings"] = {"role": settings.database_role}
    return create_async_engine(
        settings.database_url,
        connect_args=connect_args,
        pool_size=pool_size or settings.db_pool_size,
        max_overflow=settings.db_max_overflow if pool_size is None else pool_size,
        pool_recycle=1800,
        hide_parameters=True,
    )


class Database:
    """The engine and session factory of one running app (kept on `app.state.db`)."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.engine = make_engine(settings)
        self.sessions = async_sessionmaker(self.engine, expire_on_commit=False, autoflush=False)
        self._watch_engine: AsyncEngine | None = None
        self._watch_sessions: async_sessionmaker[AsyncSession] | None = None

    @property
    def watch_sessions(self) -> async_sessionmaker[AsyncSession]:
        """Sessions for long-lived watchers (the muster board's stream), on PostgreSQL from
        a small pool of their own: a burst of requests queueing for the main pool would
        otherwise hold up every stream's next poll behind it. SQLite has one writer and
        no pool to starve: there it is the main engine."""
        if self.engine.dialect.name != "postgresql":
            return self.sessions
        if self._watch_sessions is None:
            self._watch_engine = make_engine(
                self.settings, pool_size=self.settings.db_watch_pool_size
            )
            self._watch_sessions = async_sessionmaker(
                self._watch_engine, expire_on_commit=False, autoflush=False
            )
        return self._watch_sessions

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    async def dispose(self) -> None:
        await self.engine.dispose()
        if self._watch_engine is not None:
            await self._watch_engine.dispose()


_RETRYABLE_PG_CODES = {"40001", "40P01"}  # serialization_failure, deadlock_detected


def sqlstate(exc: DBAPIError) -> str:
    """The SQLSTATE of a driver error: the adapted error's own, or the asyncpg error
    it wraps; empty when the driver gives none (SQLite)."""
    orig = exc.orig
    state = getattr(orig, "sqlstate", None) or getattr(orig, "pgcode", None)
    if not state and orig is not None and orig.__cause__ is not None:
        state = getattr(orig.__cause__, "sqlstate", None)
    return str(state or "")


def is_retryable(exc: BaseException) -> bool:
    """A failure that running the whole unit of work again may cure."""
    if not isinstance(exc, DBAPIError):
        return False
    if sqlstate(exc) in _RETRYABLE_PG_CODES:
        return True
    message = str(exc.orig).lower()
    if "database is locked" in message or "deadlock detected" in message:
        return True
    # Two first uses of one idempotency key raced past the look-up; run again to replay.
    return "uq_idempotency_keys_scope_key" in message


def is_disconnect(exc: BaseException) -> bool:
    """The connection was lost (the database restarted); the pool has discarded it."""
    return isinstance(exc, DBAPIError) and bool(exc.connection_invalidated)


async def get_session(request: Request) -> AsyncIterator[AsyncSession]:
    db: Database = request.app.state.db
    async with db.sessions() as session:
        try:
            yield session
        except AppError as exc:
            if exc.commit:
                await session.commit()
            else:
                await session.rollback()
            raise
        except BaseException:
            await session.rollback()
            raise
        else:
            await session.commit()


SessionDep = Annotated[AsyncSession, Depends(get_session, scope="function")]
