"""`python -m app verify-ledger`: the ledger's own checks, the cause behind each of its
transactions, and, when pinned, the evidence kept outside the database.

Pinned (`--pin HEADS_FILE --key PUBLIC_KEY`), nothing the database says about keys
is believed: every block's signature is checked against the given public keys, a
key row that differs from them is reported, and each head of the file (the head
log, or heads a subscriber kept from `ledger.block_sealed` events) must be in the
chain with the same hash. Re-signing edited blocks needs the signer's key; cutting,
emptying or rewriting the chain leaves a pinned head missing or different.

The ledger does not know why value moved (`app.ledger.verify` checks that it moved
soundly); the features that move it do. Here each `issue` transaction is checked
against the reward issuance that made it, and each `redeem` against the terminal's
redemption, so a balanced transaction written straight into the tables, with no
approved hours or redemption behind it, is a problem like an unbalanced one.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.config import Settings
from app.ledger import sealing
from app.ledger.standalone_verify import check_pins, load_keys, read_heads
from app.ledger.verify import Report, format_row, verify

# Each check: a query returning the offending rows, and how to name one.
CAUSE_CHECKS: list[tuple[str, str]] = [
    (
        """
        SELECT t.id, t.seq FROM ledger_transactions t
        WHERE t.kind = 'issue'
            AND NOT EXISTS (SELECT 1 FROM reward_issuances r WHERE r.transaction_id = t.id)
        """,
        "transaction {0} (seq {1}): an issue no reward issuance made",
    ),
    (
        """
        SELECT t.id, t.seq, r.id, r.issued, p.amount
        FROM ledger_transactions t
        JOIN reward_issuances r ON r.transaction_id = t.id
        JOIN ledger_postings p ON p.transaction_id = t.id
        JOIN ledger_accounts a ON a.id = p.account_id AND a.kind = 'wallet'
        WHERE t.kind = 'issue'
            AND (p.amount <> r.issued OR a.owner_id <> r.volunteer_id
                 OR r.region_id <> t.region_id)
        """,
        "transaction {0} (seq {1}): issuance {2} issued {3}, but the transaction credits "
        "{4} to a wallet, or to another volunteer's",
    ),
    (
        """
        SELECT r.id, r.transaction_id FROM reward_issuances r
        WHERE r.transaction_id IS NOT NULL
            AND NOT EXISTS (SELECT 1 FROM ledger_transactions t WHERE t.id = r.transaction_id)
        """,
        "reward issuance {0}: its transaction {1} does not exist",
    ),
    (
        """
        SELECT t.id, t.seq FROM ledger_transactions t
        WHERE t.kind = 'redeem'
            AND NOT EXISTS (
                SELECT 1 FROM redemptions r
                WHERE r.transaction_id = t.id AND r.status IN ('succeeded', 'voided')
            )
        """,
        "transaction {0} (seq {1}): a redemption debit no terminal's redemption made",
    ),
    (
        """
        SELECT t.id, t.seq, r.id, r.amount, -p.amount
        FROM ledger_transactions t
        JOIN redemptions r ON r.transaction_id = t.id
        JOIN ledger_postings p ON p.transaction_id = t.id
        JOIN ledger_accounts a ON a.id = p.account_id AND a.kind = 'wallet'
        WHERE t.kind = 'redeem'
            AND (r.amount IS NULL OR p.amount <> -r.amount OR a.owner_id <> r.volunteer_id
                 OR r.region_id <> t.region_id)
        """,
        "transaction {0} (seq {1}): redemption {2} is for {3}, but the transaction takes "
        "{4} from a wallet, or from another volunteer's",
    ),
    (
        """
        SELECT r.id, r.transaction_id FROM redemptions r
        WHERE r.transaction_id IS NOT NULL
            AND NOT EXISTS (SELECT 1 FROM ledger_transactions t WHERE t.id = r.transaction_id)
        """,
        "redemption {0}: its transaction {1} does not exist",
    ),
]


async def verify_causes(session: AsyncSession) -> list[str]:
    """Each issue and redemption debit against the row of the feature that caused it."""
    problems: list[str] = []
    for query, message in CAUSE_CHECKS:
        for row in await session.execute(text(query)):
            problems.append(format_row(message, row))
    return problems


@dataclass(frozen=True)
class Pins:
    """Evidence held outside the database: public keys by `kid`, and signed heads."""

    keys: dict[str, str]
    heads: list[dict[str, Any]]

    @classmethod
    def load(cls, *, key_specs: Sequence[str], heads_file: str | None) -> Pins:
        """Keys from files (PEM, JWK, JWK set) or base64url values; heads from a JSON-lines
        file. Raises ValueError or OSError with the file's problem."""
        keys: dict[str, str] = {}
        for spec in key_specs:
            keys.update(load_keys(spec))
        return cls(keys=keys, heads=read_heads(heads_file) if heads_file else [])


async def verify_all(session: AsyncSession, pins: Pins | None = None) -> Report:
    """The ledger's own checks, then the causes of its transactions, then the pins."""
    report = await verify(session, pinned_keys=pins.keys if pins else None)
    report.problems.extend(await verify_causes(session))
    if pins is not None:
        hashes = await sealing.block_hashes(session)
        report.problems.extend(check_pins(hashes, pins.heads, pins.keys))
    return report


async def _run(settings: Settings, pins: Pins | None) -> Report:
    from app.core.db import Database

    db = Database(settings)
    try:
        async with db.sessions() as session:
            if db.dialect == "postgresql":
                # One snapshot for every check, so concurrent writes cannot look like errors.
                await session.connection(
                    execution_options={
                        "isolation_level": "REPEATABLE READ",
                        "postgresql_readonly": True,
                    }
                )
            return await verify_all(session, pins)
    finally:
        await db.dispose()


def run_cli(
    settings: Settings, *, key_specs: Sequence[str] = (), heads_file: str | None = None
) -> int:
    """Print the summary; exit status 1 when the ledger has any problem, 2 when the
    pinned keys or heads cannot be read."""
    pins = None
    if key_specs:
        try:
            pins = Pins.load(key_specs=key_specs, heads_file=heads_file)
        except (OSError, ValueError, KeyError) as exc:
            print(f"cannot read the pins: {exc}")
            return 2
    report = asyncio.run(_run(settings, pins))
    print(report.summary())
    if pins is not None:
        print(f"pinned: {len(pins.keys)} key(s), {len(pins.heads)} head(s)")
    return 0 if report.ok else 1
