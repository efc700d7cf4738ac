"""Tampering as someone holding the database's superuser password would: the ledger's
triggers and foreign keys out of the way, any row written, changed or removed."""

from __future__ import annotations

from typing import Any

from sqlalchemy import text

# Every table the ledger's evidence and its causes live in.
EVIDENCE_TABLES = (
    "ledger_accounts",
    "ledger_transactions",
    "ledger_postings",
    "ledger_lots",
    "ledger_lot_entries",
    "ledger_holds",
    "ledger_hold_lots",
    "ledger_hold_resolutions",
    "ledger_blocks",
    "ledger_sealed_transactions",
    "ledger_signing_keys",
    "ledger_seal_states",
    "reward_issuances",
    "redemptions",
)


async def tamper(app: Any, *statements: Any) -> None:
    """Run `statements` in one transaction with every trigger off.

    PostgreSQL: the superuser disables the tables' triggers (foreign keys and the
    append-only, balance and TRUNCATE guards) and enables them again before the
    commit, so other tests find them in place. SQLite: the triggers are dropped for
    good (each test has its own copy of the database) and foreign keys are off for
    this connection while it runs."""
    engine = app.state.db.engine
    async with engine.connect() as conn:
        if app.state.db.dialect == "postgresql":
            async with conn.begin():
                for table in EVIDENCE_TABLES:
                    await conn.execute(text(f"ALTER TABLE {table} DISABLE TRIGGER ALL"))
                for statement in statements:
                    await conn.execute(text(statement) if isinstance(statement, str) else statement)
                for table in EVIDENCE_TABLES:
                    await conn.execute(text(f"ALTER TABLE {table} ENABLE TRIGGER ALL"))
            return
        raw = await conn.get_raw_connection()
        driver: Any = raw.driver_connection
        await driver.execute("PRAGMA foreign_keys=OFF")
        try:
            async with conn.begin():
                names = await conn.scalars(
                    text("SELECT name FROM sqlite_master WHERE type = 'trigger'")
                )
                for name in list(names):
                    await conn.execute(text(f'DROP TRIGGER "{name}"'))
                for statement in statements:
                    await conn.execute(text(statement) if isinstance(statement, str) else statement)
        finally:
            await driver.execute("PRAGMA foreign_keys=ON")
