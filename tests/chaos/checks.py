"""After the run: what the database holds, held against what the clients were told.

Every acknowledged effect (a 2xx) must be in the database exactly once; nothing may be
there that no client asked for; a refused key left nothing behind; the ledger
balances (`python -m app verify-ledger`, the sum of all postings, no wallet below
zero); every approved hours record was issued exactly once; and every wallet holds
exactly what its issuances minus its redemptions say.
"""

from __future__ import annotations

import os
import subprocess
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from typing import Any

import asyncpg

from bench.harness import PY, ROOT, plain_dsn
from tests.chaos.workload import Journal, Op


@dataclass
class Findings:
    effects: dict[str, int] = field(default_factory=dict)
    violations: list[str] = field(default_factory=list)
    verify_ledger: str = ""

    def fail(self, text: str) -> None:
        self.violations.append(text)


def _ops(journal: Journal, kind: str, outcome: str | None = None) -> list[Op]:
    return [
        op for op in journal.ops if op.kind == kind and (outcome is None or op.outcome == outcome)
    ]


async def check(database_url: str, journal: Journal) -> Findings:
    found = Findings()
    conn = await asyncpg.connect(plain_dsn(database_url))
    try:
        await _attendance(conn, journal, found)
        await _hours(conn, journal, found)
        await _issuance(conn, found)
        await _redemptions(conn, journal, found)
        await _ledger(conn, found)
        await _wallets(conn, found)
    finally:
        await conn.close()
    _verify_ledger_cli(database_url, found)
    return found


async def _attendance(conn: asyncpg.Connection, journal: Journal, found: Findings) -> None:
    rows = {
        str(r["id"]): r
        for r in await conn.fetch(
            "SELECT id, volunteer_id, activity_id, checked_out_at FROM attendances"
        )
    }
    keys = {
        (r["scope"], r["key"]): r
        for r in await conn.fetch("SELECT scope, key, response_body FROM idempotency_keys")
    }
    acknowledged: set[str] = set()
    for op in _ops(journal, "check_in", "ok"):
        attendance_id = op.body["id"]
        acknowledged.add(attendance_id)
        row = rows.get(attendance_id)
        if row is None:
            found.fail(f"check-in {op.key} answered {op.status} but attendance is missing")
        elif str(row["volunteer_id"]) != op.volunteer_id or str(row["activity_id"]) != op.target:
            found.fail(f"check-in {op.key}: attendance {attendance_id} is someone else's")
    for kind in ("check_in", "check_out"):
        for op in _ops(journal, kind, "ok"):
            stored = keys.get((f"volunteer:{op.volunteer_id}", op.key))
            if stored is None:
                found.fail(f"{kind} {op.key} answered {op.status} but its key is not stored")
        for op in _ops(journal, kind, "refused"):
            if (f"volunteer:{op.volunteer_id}", op.key) in keys:
                found.fail(f"{kind} {op.key} was refused ({op.code}) yet its key holds a success")
    in_doubt = {(op.volunteer_id, op.target) for op in _ops(journal, "check_in", "abandoned")}
    for attendance_id, row in rows.items():
        if (
            attendance_id not in acknowledged
            and (
                str(row["volunteer_id"]),
                str(row["activity_id"]),
            )
            not in in_doubt
        ):
            found.fail(f"attendance {attendance_id} exists but no client was told of it")
    for op in _ops(journal, "check_out", "ok"):
        row = rows.get(op.body["id"])
        if row is None or row["checked_out_at"] is None:
            found.fail(f"check-out {op.key} answered {op.status} but the attendance is open")
    found.effects["attendances"] = len(rows)
    found.effects["check_outs"] = sum(1 for r in rows.values() if r["checked_out_at"] is not None)


async def _hours(conn: asyncpg.Connection, journal: Journal, found: Findings) -> None:
    records = {
        str(r["id"]): r
        for r in await conn.fetch(
            "SELECT id, volunteer_id, attendance_id, source, status, reason FROM hours_records"
        )
    }
    per_attendance = Counter(
        str(r["attendance_id"]) for r in records.values() if r["attendance_id"] is not None
    )
    for attendance_id, n in per_attendance.items():
        if n != 1:
            found.fail(f"attendance {attendance_id} has {n} hours records")
    for op in _ops(journal, "check_out", "ok"):
        record = records.get(op.body["hours_record_id"])
        if record is None or str(record["attendance_id"]) != op.body["id"]:
            found.fail(f"check-out {op.key}: hours record {op.body['hours_record_id']} missing")
    by_reason = Counter(r["reason"] for r in records.values() if r["source"] == "makeup")
    for op in _ops(journal, "makeup", "ok"):
        assert op.payload is not None
        record = records.get(op.body["id"])
        if record is None or record["source"] != "makeup":
            found.fail(f"make-up {op.key} answered {op.status} but record {op.body['id']} missing")
        if by_reason[op.payload["reason"]] != 1:
            found.fail(f"make-up {op.key} made {by_reason[op.payload['reason']]} records")
    asked = {op.payload["reason"] for op in _ops(journal, "makeup") if op.payload}
    for reason, n in by_reason.items():
        if reason not in asked:
            found.fail(f"{n} make-up record(s) that no client asked for: {reason!r}")
    for op in _ops(journal, "makeup", "refused"):
        assert op.payload is not None
        if by_reason[op.payload["reason"]]:
            found.fail(f"make-up {op.key} was refused ({op.code}) yet its record exists")

    approved_ok = {op.target for op in _ops(journal, "approve", "ok")}
    # A retry that found the record decided: the first attempt's effect stood.
    approved_ok |= {
        op.target
        for op in _ops(journal, "approve", "refused")
        if op.code == "hours_already_decided"
    }
    approved_maybe = {op.target for op in _ops(journal, "approve", "abandoned")}
    for record_id in approved_ok:
        record = records.get(record_id or "")
        if record is None or record["status"] != "approved":
            found.fail(f"approval of {record_id} was acknowledged but the record is not approved")
    for record_id, record in records.items():
        if record["status"] == "approved" and record_id not in approved_ok | approved_maybe:
            found.fail(f"hours record {record_id} is approved but no approval was acknowledged")
    found.effects["hours_records"] = len(records)
    found.effects["hours_approved"] = sum(1 for r in records.values() if r["status"] == "approved")


async def _issuance(conn: asyncpg.Connection, found: Findings) -> None:
    missing = await conn.fetch(
        "SELECT h.id FROM hours_records h LEFT JOIN reward_issuances i "
        "ON i.hours_record_id = h.id WHERE h.status = 'approved' AND i.id IS NULL"
    )
    for row in missing:
        found.fail(f"approved hours record {row['id']} was never issued")
    stray = await conn.fetch(
        "SELECT i.hours_record_id, h.status FROM reward_issuances i "
        "LEFT JOIN hours_records h ON h.id = i.hours_record_id "
        "WHERE h.status IS DISTINCT FROM 'approved'"
    )
    for row in stray:
        found.fail(f"issuance for hours record {row['hours_record_id']} ({row['status']})")
    # One ledger transaction per issued record, and the amount the issuance row says.
    mismatched = await conn.fetch(
        "SELECT i.hours_record_id, i.issued, count(t.id) AS txs, "
        "coalesce(sum(p.amount), 0) AS credited "
        "FROM reward_issuances i "
        "LEFT JOIN ledger_transactions t ON t.reference_type = 'hours_record' "
        "  AND t.reference_id = i.hours_record_id::text "
        "LEFT JOIN ledger_postings p ON p.transaction_id = t.id AND p.amount > 0 "
        "GROUP BY i.hours_record_id, i.issued "
        "HAVING count(t.id) != (CASE WHEN i.issued > 0 THEN 1 ELSE 0 END) "
        "   OR coalesce(sum(p.amount), 0) != i.issued"
    )
    for row in mismatched:
        found.fail(
            f"hours record {row['hours_record_id']}: issued {row['issued']} in "
            f"{row['txs']} transaction(s) crediting {row['credited']}"
        )
    totals = await conn.fetchrow(
        "SELECT count(*) AS n, coalesce(sum(issued), 0) AS issued FROM reward_issuances"
    )
    found.effects["issuances"] = int(totals["n"])
    found.effects["liangpiao_issued"] = int(totals["issued"])


async def _redemptions(conn: asyncpg.Connection, journal: Journal, found: Findings) -> None:
    rows = {
        (str(r["terminal_id"]), r["request_no"]): r
        for r in await conn.fetch(
            "SELECT id, terminal_id, request_no, status, amount, volunteer_id, transaction_id, "
            "refusal_code FROM redemptions"
        )
    }
    spends = Counter(
        r["reference_id"]
        for r in await conn.fetch(
            "SELECT reference_id FROM ledger_transactions WHERE reference_type = 'redemption'"
        )
    )
    sent = {(op.target or "", op.key or ""): op for op in _ops(journal, "redeem")}
    for (terminal_id, request_no), row in rows.items():
        op = sent.get((terminal_id, request_no))
        if op is None:
            found.fail(f"redemption {request_no} exists but no terminal sent it")
            continue
        txs = spends[str(row["id"])]
        if row["status"] == "succeeded" and txs != 1:
            found.fail(f"redemption {request_no} succeeded with {txs} ledger transactions")
        if row["status"] == "refused" and txs != 0:
            found.fail(f"redemption {request_no} was refused yet moved 良票 ({txs} transactions)")
        if op.outcome == "ok":
            receipt = op.body
            if row["status"] != "succeeded" or str(row["id"]) != receipt["id"]:
                found.fail(f"redemption {request_no} answered success, row says {row['status']}")
            elif str(row["transaction_id"]) != receipt["transaction_id"]:
                found.fail(f"redemption {request_no}: another transaction than the receipt's")
        elif op.outcome == "refused" and (
            row["status"] != "refused" or row["refusal_code"] != op.code
        ):
            found.fail(
                f"redemption {request_no} answered {op.code}, row says {row['status']} "
                f"{row['refusal_code']}"
            )
    for (terminal_id, request_no), op in sent.items():
        if op.outcome in ("ok", "refused") and (terminal_id, request_no) not in rows:
            found.fail(f"redemption {request_no} answered {op.status} but has no row")
    # A code serves one resolved attempt, success or refusal, and no attempt goes uncounted.
    used_codes = await conn.fetchval("SELECT count(*) FROM redemption_codes WHERE status = 'used'")
    attempts = await conn.fetchval(
        "SELECT count(*) FROM redemptions WHERE code_kind = 'online' AND status <> 'pending'"
    )
    if used_codes != attempts:
        found.fail(f"{used_codes} codes used by {attempts} resolved redemption attempts")
    found.effects["redemptions_succeeded"] = sum(
        1 for r in rows.values() if r["status"] == "succeeded"
    )
    found.effects["redemptions_refused"] = sum(1 for r in rows.values() if r["status"] == "refused")
    found.effects["liangpiao_redeemed"] = sum(
        int(r["amount"] or 0) for r in rows.values() if r["status"] == "succeeded"
    )


async def _ledger(conn: asyncpg.Connection, found: Findings) -> None:
    total = await conn.fetchval("SELECT coalesce(sum(amount), 0) FROM ledger_postings")
    if total != 0:
        found.fail(f"the postings sum to {total}, not zero")
    unbalanced = await conn.fetchval(
        "SELECT count(*) FROM (SELECT transaction_id FROM ledger_postings "
        "GROUP BY transaction_id HAVING sum(amount) != 0) t"
    )
    if unbalanced:
        found.fail(f"{unbalanced} ledger transactions do not balance")
    doubled = await conn.fetch(
        "SELECT kind, reference_type, reference_id, count(*) AS n FROM ledger_transactions "
        "WHERE kind IN ('issue', 'redeem') "
        "GROUP BY kind, reference_type, reference_id HAVING count(*) > 1"
    )
    for row in doubled:
        found.fail(
            f"{row['n']} {row['kind']} transactions for {row['reference_type']} "
            f"{row['reference_id']}"
        )
    below = await conn.fetch(
        "SELECT a.id, a.posted, a.pending, coalesce(sum(p.amount), 0) AS replayed "
        "FROM ledger_accounts a LEFT JOIN ledger_postings p ON p.account_id = a.id "
        "WHERE a.kind = 'wallet' GROUP BY a.id "
        "HAVING a.posted - a.pending < 0 OR coalesce(sum(p.amount), 0) < 0"
    )
    for row in below:
        found.fail(f"wallet {row['id']} is below zero: {dict(row)}")
    found.effects["ledger_transactions"] = int(
        await conn.fetchval("SELECT count(*) FROM ledger_transactions")
    )
    found.effects["postings_sum"] = int(total)


async def _wallets(conn: asyncpg.Connection, found: Findings) -> None:
    """Each wallet holds its issuances minus its redemptions: nothing lost, nothing doubled."""
    expected: dict[str, int] = defaultdict(int)
    for row in await conn.fetch(
        "SELECT volunteer_id, sum(issued - clawed_back) AS n FROM reward_issuances "
        "GROUP BY volunteer_id"
    ):
        expected[str(row["volunteer_id"])] += int(row["n"])
    for row in await conn.fetch(
        "SELECT volunteer_id, sum(amount) AS n FROM redemptions WHERE status = 'succeeded' "
        "GROUP BY volunteer_id"
    ):
        expected[str(row["volunteer_id"])] -= int(row["n"])
    held: dict[str, Any] = {
        str(r["owner_id"]): int(r["replayed"])
        for r in await conn.fetch(
            "SELECT a.owner_id, coalesce(sum(p.amount), 0) AS replayed FROM ledger_accounts a "
            "LEFT JOIN ledger_postings p ON p.account_id = a.id WHERE a.kind = 'wallet' "
            "GROUP BY a.owner_id"
        )
    }
    for volunteer_id in set(expected) | set(held):
        if expected.get(volunteer_id, 0) != held.get(volunteer_id, 0):
            found.fail(
                f"wallet of {volunteer_id} holds {held.get(volunteer_id, 0)}, its issuances "
                f"less redemptions say {expected.get(volunteer_id, 0)}"
            )
    found.effects["wallets"] = len(held)


def _verify_ledger_cli(database_url: str, found: Findings) -> None:
    result = subprocess.run(
        [PY, "-m", "app", "verify-ledger"],
        cwd=ROOT,
        env={
            **os.environ,
            "LIANGPIAO_ENVIRONMENT": "test",
            "LIANGPIAO_DATABASE_URL": database_url,
            "LIANGPIAO_LOG_LEVEL": "WARNING",
        },
        capture_output=True,
        text=True,
        check=False,
    )
    found.verify_ledger = result.stdout.strip().splitlines()[0] if result.stdout.strip() else ""
    if result.returncode != 0:
        found.fail(f"verify-ledger exited {result.returncode}: {result.stdout}{result.stderr}")
