"""The ledger's own checks: replay its facts and compare with what it claims.

Checks that every transaction has two or more postings summing to zero, that no
posting, lot entry or hold points at nothing, that every cached balance (posted,
pending) equals the replay of its postings and open holds, that no no-overdraft
account is below zero, that every lot's remainder is its credit plus its entries
and its reservation the sum of its open holds, that a wallet's lots add up to its
balance and each wallet posting is matched by the lot movements of its
transaction, that no refund or reversal gives back more than its spend took, and
that the sealed blocks still match (`app.ledger.sealing.verify_blocks`).

Each problem names the row. Sequence numbers may skip (PostgreSQL spends one on a
transaction that rolls back): the summary counts them, and the blocks attest which
are unused once settled, so a missing number they do not account for (a deleted
transaction, sealed or not) is a problem. `python -m app verify-ledger` runs these
checks with the features' (`app.verification`).
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Row, text
from sqlalchemy.ext.asyncio import AsyncSession

from app.ledger import sealing


@dataclass
class Report:
    transactions: int = 0
    postings: int = 0
    accounts: int = 0
    lots: int = 0
    holds: int = 0
    sequence_gaps: int = 0
    postings_total: int = 0
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    def summary(self) -> str:
        lines = [
            f"transactions: {self.transactions}, postings: {self.postings} "
            f"(sum {self.postings_total}), accounts: {self.accounts}, lots: {self.lots}, "
            f"holds: {self.holds}, unused sequence numbers: {self.sequence_gaps}",
        ]
        if self.ok:
            lines.append("ledger OK")
        else:
            lines.append(f"ledger has {len(self.problems)} problem(s):")
            lines.extend(f"  {p}" for p in self.problems)
        return "\n".join(lines)


def _id(value: Any) -> str:
    try:
        return str(uuid.UUID(str(value)))
    except ValueError:
        return str(value)


def format_row(message: str, row: Row[Any]) -> str:
    """A check's message for one offending row: ids spelled as UUIDs on both databases."""
    return message.format(*(_id(v) if not isinstance(v, int) else v for v in row))


# Each check: a query returning the offending rows, and how to name one.
_CHECKS: list[tuple[str, str]] = [
    (
        """
        SELECT t.id, t.seq, COUNT(p.id), COALESCE(SUM(p.amount), 0)
        FROM ledger_transactions t LEFT JOIN ledger_postings p ON p.transaction_id = t.id
        GROUP BY t.id, t.seq
        HAVING COUNT(p.id) < 2 OR COALESCE(SUM(p.amount), 0) <> 0
            OR SUM(CASE WHEN p.amount = 0 THEN 1 ELSE 0 END) > 0
        """,
        "transaction {0} (seq {1}): {2} postings summing to {3}; "
        "a transaction has two or more non-zero postings that sum to zero",
    ),
    (
        """
        SELECT p.id, p.transaction_id FROM ledger_postings p
        LEFT JOIN ledger_transactions t ON t.id = p.transaction_id
        WHERE t.id IS NULL OR t.region_id <> p.region_id
        """,
        "posting {0}: its transaction {1} does not exist in its region",
    ),
    (
        """
        SELECT p.id, p.account_id FROM ledger_postings p
        LEFT JOIN ledger_accounts a ON a.id = p.account_id
        WHERE a.id IS NULL OR a.region_id <> p.region_id
        """,
        "posting {0}: its account {1} does not exist in its region",
    ),
    (
        """
        SELECT a.id, a.kind, a.posted, COALESCE(SUM(p.amount), 0)
        FROM ledger_accounts a LEFT JOIN ledger_postings p ON p.account_id = a.id
        GROUP BY a.id, a.kind, a.posted
        HAVING a.posted <> COALESCE(SUM(p.amount), 0)
        """,
        "account {0} ({1}): cached posted balance {2}, but its postings sum to {3}",
    ),
    (
        """
        SELECT a.id, a.kind, a.pending, COALESCE(SUM(h.amount), 0)
        FROM ledger_accounts a
        LEFT JOIN ledger_holds h ON h.account_id = a.id
            AND NOT EXISTS (SELECT 1 FROM ledger_hold_resolutions r WHERE r.hold_id = h.id)
        GROUP BY a.id, a.kind, a.pending
        HAVING a.pending <> COALESCE(SUM(h.amount), 0)
        """,
        "account {0} ({1}): cached pending {2}, but its open holds sum to {3}",
    ),
    (
        """
        SELECT id, kind, posted, pending FROM ledger_accounts
        WHERE allow_negative = false AND posted - pending < 0
        """,
        "account {0} ({1}) may not go negative but has posted {2}, pending {3}",
    ),
    (
        """
        SELECT l.id, l.remaining, l.amount + COALESCE(SUM(e.amount), 0)
        FROM ledger_lots l
        LEFT JOIN ledger_lot_entries e ON e.lot_id = l.id AND e.kind <> 'restore_expired'
        GROUP BY l.id, l.remaining, l.amount
        HAVING l.remaining <> l.amount + COALESCE(SUM(e.amount), 0)
        """,
        "lot {0}: cached remainder {1}, but its credit and entries give {2}",
    ),
    (
        """
        SELECT l.id, l.reserved, COALESCE(SUM(hl.amount), 0)
        FROM ledger_lots l
        LEFT JOIN ledger_hold_lots hl ON hl.lot_id = l.id
            AND NOT EXISTS (SELECT 1 FROM ledger_hold_resolutions r WHERE r.hold_id = hl.hold_id)
        GROUP BY l.id, l.reserved
        HAVING l.reserved <> COALESCE(SUM(hl.amount), 0)
        """,
        "lot {0}: cached reservation {1}, but its open holds reserve {2}",
    ),
    (
        """
        SELECT id, amount, remaining, reserved FROM ledger_lots
        WHERE amount <= 0 OR remaining < 0 OR reserved < 0 OR reserved > remaining
            OR remaining > amount
        """,
        "lot {0}: credit {1}, remainder {2}, reservation {3} are out of bounds",
    ),
    (
        """
        SELECT a.id, a.posted, COALESCE(SUM(l.remaining), 0)
        FROM ledger_accounts a LEFT JOIN ledger_lots l ON l.account_id = a.id
        WHERE a.kind = 'wallet'
        GROUP BY a.id, a.posted
        HAVING a.posted <> COALESCE(SUM(l.remaining), 0)
        """,
        "wallet {0}: balance {1}, but its lots hold {2}",
    ),
    (
        """
        SELECT x.transaction_id, x.account_id, SUM(x.amount) FROM (
            SELECT p.transaction_id, p.account_id, p.amount
            FROM ledger_postings p JOIN ledger_accounts a ON a.id = p.account_id
            WHERE a.kind = 'wallet'
            UNION ALL
            SELECT l.transaction_id, l.account_id, -l.amount FROM ledger_lots l
            UNION ALL
            SELECT e.transaction_id, l.account_id, -e.amount
            FROM ledger_lot_entries e JOIN ledger_lots l ON l.id = e.lot_id
            WHERE e.kind <> 'restore_expired'
        ) x
        GROUP BY x.transaction_id, x.account_id
        HAVING SUM(x.amount) <> 0
        """,
        "transaction {0}: its posting to wallet {1} differs by {2} "
        "from the lots it created, drew on or gave back to",
    ),
    (
        """
        SELECT e.id, e.transaction_id FROM ledger_lot_entries e
        LEFT JOIN ledger_transactions t ON t.id = e.transaction_id
        WHERE t.id IS NULL
        """,
        "lot entry {0}: its transaction {1} does not exist",
    ),
    (
        """
        SELECT g.spend_id, g.lot_id, g.given, COALESCE(-SUM(d.amount), 0)
        FROM (
            SELECT COALESCE(t.refunds_id, t.reverses_id) AS spend_id, e.lot_id,
                   SUM(e.amount) AS given
            FROM ledger_lot_entries e JOIN ledger_transactions t ON t.id = e.transaction_id
            WHERE e.kind IN ('restore', 'restore_expired')
            GROUP BY COALESCE(t.refunds_id, t.reverses_id), e.lot_id
        ) g
        LEFT JOIN ledger_lot_entries d
            ON d.transaction_id = g.spend_id AND d.lot_id = g.lot_id AND d.kind = 'draw'
        GROUP BY g.spend_id, g.lot_id, g.given
        HAVING g.given > COALESCE(-SUM(d.amount), 0)
        """,
        "spend {0}: refunds and reversals gave {2} back to lot {1}, which it drew {3} from",
    ),
    (
        """
        SELECT h.id, h.amount, COALESCE(SUM(hl.amount), 0)
        FROM ledger_holds h LEFT JOIN ledger_hold_lots hl ON hl.hold_id = h.id
        GROUP BY h.id, h.amount
        HAVING h.amount <> COALESCE(SUM(hl.amount), 0)
        """,
        "hold {0}: holds {1}, but reserves {2} of its wallet's lots",
    ),
    (
        """
        SELECT h.id, h.amount, r.posted_amount FROM ledger_holds h
        JOIN ledger_hold_resolutions r ON r.hold_id = h.id
        WHERE r.posted_amount < 0 OR r.posted_amount > h.amount
            OR (r.status = 'posted' AND r.transaction_id IS NULL)
            OR (r.status <> 'posted' AND r.posted_amount <> 0)
        """,
        "hold {0}: holds {1}, but its resolution posted {2}",
    ),
]


async def _count(session: AsyncSession, table: str) -> int:
    return int(await session.scalar(text(f"SELECT COUNT(*) FROM {table}")) or 0)  # noqa: S608


async def verify(session: AsyncSession, *, pinned_keys: Mapping[str, str] | None = None) -> Report:
    """Check the whole ledger as the session sees it; the report lists each problem.

    With `pinned_keys` (public keys by `kid`, not read from the database) the blocks'
    signatures are checked against those alone."""
    report = Report(
        transactions=await _count(session, "ledger_transactions"),
        postings=await _count(session, "ledger_postings"),
        accounts=await _count(session, "ledger_accounts"),
        lots=await _count(session, "ledger_lots"),
        holds=await _count(session, "ledger_holds"),
    )
    total = await session.scalar(text("SELECT COALESCE(SUM(amount), 0) FROM ledger_postings"))
    report.postings_total = int(total or 0)
    if report.postings_total != 0:
        report.problems.append(f"all postings sum to {report.postings_total}, not 0")
    first, last = (
        await session.execute(text("SELECT MIN(seq), MAX(seq) FROM ledger_transactions"))
    ).one()
    if first is not None:
        report.sequence_gaps = int(last) - int(first) + 1 - report.transactions
    for query, message in _CHECKS:
        for row in await session.execute(text(query)):
            report.problems.append(format_row(message, row))
    report.problems.extend(await sealing.verify_blocks(session, pinned_keys=pinned_keys))
    return report
