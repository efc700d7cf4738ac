"""`python -m app verify-ledger`: the ledger's own checks, the cause behind each of its
transactions, and, when pinned, the evidence kept outside the database.

The ledger does not know why value moved (`app.ledger.verify` checks that it moved
soundly); the features that move it do. Here each `issue` transaction is checked
against the reward issuance that made it, and each `redeem` against the terminal's
redemption, so a balanced transaction written straight into the tables, with no
approved hours or redemption behind it, is a problem like an unbalanced one.
"""

from __future__ import annotations

import asyncio

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.config import Settings
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


async def verify_all(session: AsyncSession) -> Report:
    """The ledger's own checks, then the causes of its transactions."""
    report = await verify(session)
    report.problems.extend(await verify_causes(session))
    return report


async def _run(settings: Settings) -> Report:
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
            return await verify_all(session)
    finally:
        await db.dispose()


def run_cli(settings: Settings) -> int:
    """Print the summary; exit status 1 when the ledger has any problem."""
    report = asyncio.run(_run(settings))
    print(report.summary())
    return 0 if report.ok else 1
