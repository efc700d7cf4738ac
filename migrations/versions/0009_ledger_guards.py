"""ledger guards: the database refuses what breaks an invariant

The application checks each of these before it writes; this revision makes the
database refuse the same rows when a bug, or anyone holding the database
credentials, gets past the application (DESIGN.md §2, invariants 1-3 and 6).

- Balance (invariant 1). PostgreSQL: deferred constraint triggers on
  `ledger_postings` and `ledger_transactions` check at commit that the postings
  of each transaction written are two or more and sum to zero (the ledger has one
  asset, 良票). The check is one indexed sum over the transaction's postings per
  row written: a spend commits one transaction and two postings. SQLite has no
  deferred triggers, and a row-by-row check would refuse every transaction at
  its first posting, so there the application's check (`_transaction_rows` and
  `transfer` in `app.ledger.service`) is what guards it, and `verify-ledger`
  reports any unbalanced transaction that is there anyway.
- What one row can hold (invariant 3 and the lots behind it): CHECK constraints on
  PostgreSQL, declared beside the models; on SQLite, where adding a CHECK means
  rebuilding the table (which would drop migration 0006's triggers), BEFORE INSERT
  and BEFORE UPDATE triggers that refuse the same rows with RAISE(ABORT).
- Facts of the sealed history: `ledger_blocks` and `ledger_sealed_transactions`
  are append-only like the ledger's own facts (UPDATE and DELETE refused, both
  databases).
- TRUNCATE (PostgreSQL, which fires no row trigger for it) is refused on every
  ledger, lot, hold and seal table and on `reward_issuances`. The test harness
  cleans with DELETE under `session_replication_role = replica`, which skips
  these triggers like the others.

Revision ID: 0009
Revises: 0008
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# (table, constraint, condition a row must meet). `{row}` is nothing in a PostgreSQL
# CHECK and `NEW.` in a SQLite trigger. The models declare the same constraints.
ROW_CHECKS: tuple[tuple[str, str, str], ...] = (
    (
        "ledger_accounts",
        "ck_ledger_accounts_no_overdraft",
        "{row}allow_negative OR {row}posted - {row}pending >= 0",
    ),
    ("ledger_accounts", "ck_ledger_accounts_pending_not_negative", "{row}pending >= 0"),
    # Only the region's issuance account goes negative (it is where 良票 come from).
    (
        "ledger_accounts",
        "ck_ledger_accounts_overdraft_only_issuance",
        "NOT {row}allow_negative OR {row}kind = 'issuance'",
    ),
    (
        "ledger_transactions",
        "ck_ledger_transactions_one_link",
        "{row}reverses_id IS NULL OR {row}refunds_id IS NULL",
    ),
    (
        "ledger_transactions",
        "ck_ledger_transactions_reversal_linked",
        "({row}kind = 'reverse') = ({row}reverses_id IS NOT NULL)",
    ),
    ("ledger_postings", "ck_ledger_postings_amount_not_zero", "{row}amount <> 0"),
    ("ledger_lots", "ck_ledger_lots_amount_positive", "{row}amount > 0"),
    (
        "ledger_lots",
        "ck_ledger_lots_bounds",
        "0 <= {row}reserved AND {row}reserved <= {row}remaining AND {row}remaining <= {row}amount",
    ),
    (
        "ledger_lot_entries",
        "ck_ledger_lot_entries_signed",
        "({row}kind IN ('draw', 'expire') AND {row}amount < 0) "
        "OR ({row}kind IN ('restore', 'restore_expired') AND {row}amount > 0)",
    ),
    ("ledger_holds", "ck_ledger_holds_amount_positive", "{row}amount > 0"),
    ("ledger_hold_lots", "ck_ledger_hold_lots_amount_positive", "{row}amount > 0"),
    (
        "ledger_hold_resolutions",
        "ck_ledger_hold_resolutions_outcome",
        "({row}status = 'posted' AND {row}posted_amount > 0 AND {row}transaction_id IS NOT NULL) "
        "OR ({row}status IN ('voided', 'expired') AND {row}posted_amount = 0 "
        "AND {row}transaction_id IS NULL)",
    ),
)

# The columns an UPDATE may change (the cached balances); migration 0006 refuses any
# other UPDATE of a ledger row, so on SQLite only these need checking on UPDATE.
CACHED_COLUMNS = {
    "ledger_accounts": ("posted", "pending"),
    "ledger_lots": ("remaining", "reserved"),
}

# Facts of the sealed history: rows never change once written.
SEALED_FACTS = ("ledger_blocks", "ledger_sealed_transactions")

# Tables whose rows TRUNCATE may not remove. The seal state is a moving cursor and
# the signing keys are replaced by newer generations, but neither is emptied.
NO_TRUNCATE = (
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
)


def _tables_checked() -> list[str]:
    return list(dict.fromkeys(table for table, _, _ in ROW_CHECKS))


# --- PostgreSQL -------------------------------------------------------------------------


def _upgrade_postgresql() -> None:
    for table, name, condition in ROW_CHECKS:
        op.create_check_constraint(op.f(name), table, condition.format(row=""))

    op.execute(
        """
        CREATE FUNCTION ledger_check_balanced() RETURNS trigger LANGUAGE plpgsql AS $$
        DECLARE
            tx_id uuid;
            n bigint;
            total numeric;
        BEGIN
            IF TG_TABLE_NAME = 'ledger_postings' THEN
                tx_id := NEW.transaction_id;
            ELSE
                tx_id := NEW.id;
            END IF;
            SELECT count(*), COALESCE(sum(amount), 0) INTO n, total
            FROM ledger_postings WHERE transaction_id = tx_id;
            IF n < 2 OR total <> 0 THEN
                RAISE EXCEPTION
                    'ledger transaction % is unbalanced: % postings summing to %', tx_id, n, total
                    USING ERRCODE = 'check_violation', CONSTRAINT = 'ledger_transactions_balanced';
            END IF;
            RETURN NULL;
        END
        $$
        """
    )
    # Deferred to the commit: a transaction's rows are written one statement at a time.
    for table in ("ledger_transactions", "ledger_postings"):
        op.execute(
            f"CREATE CONSTRAINT TRIGGER {table}_balanced AFTER INSERT ON {table} "
            "DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION ledger_check_balanced()"
        )

    for table in SEALED_FACTS:
        # ledger_refuse_change() is migration 0006's.
        op.execute(
            f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table} "
            "FOR EACH ROW EXECUTE FUNCTION ledger_refuse_change()"
        )

    op.execute(
        """
        CREATE FUNCTION ledger_refuse_truncate() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            RAISE EXCEPTION 'ledger history is kept: TRUNCATE on % refused', TG_TABLE_NAME;
        END
        $$
        """
    )
    for table in NO_TRUNCATE:
        op.execute(
            f"CREATE TRIGGER {table}_no_truncate BEFORE TRUNCATE ON {table} "
            "FOR EACH STATEMENT EXECUTE FUNCTION ledger_refuse_truncate()"
        )


def _downgrade_postgresql() -> None:
    for table in NO_TRUNCATE:
        op.execute(f"DROP TRIGGER {table}_no_truncate ON {table}")
    op.execute("DROP FUNCTION ledger_refuse_truncate()")
    for table in SEALED_FACTS:
        op.execute(f"DROP TRIGGER {table}_append_only ON {table}")
    for table in ("ledger_transactions", "ledger_postings"):
        op.execute(f"DROP TRIGGER {table}_balanced ON {table}")
    op.execute("DROP FUNCTION ledger_check_balanced()")
    for table, name, _ in reversed(ROW_CHECKS):
        op.drop_constraint(op.f(name), table, type_="check")


# --- SQLite -----------------------------------------------------------------------------


def _upgrade_sqlite() -> None:
    # One trigger per table and event; each check raises with its constraint's name,
    # as PostgreSQL's CHECK would.
    for table in _tables_checked():
        refusals = " ".join(
            f"SELECT RAISE(ABORT, 'ledger check {name} refused the row') "
            f"WHERE NOT ({condition.format(row='NEW.')});"
            for checked, name, condition in ROW_CHECKS
            if checked == table
        )
        op.execute(
            f"CREATE TRIGGER {table}_checks_insert BEFORE INSERT ON {table} BEGIN {refusals} END"
        )
        if table in CACHED_COLUMNS:
            op.execute(
                f"CREATE TRIGGER {table}_checks_update "
                f"BEFORE UPDATE OF {', '.join(CACHED_COLUMNS[table])} ON {table} "
                f"BEGIN {refusals} END"
            )
    for table in SEALED_FACTS:
        for event in ("UPDATE", "DELETE"):
            op.execute(
                f"CREATE TRIGGER {table}_no_{event.lower()} BEFORE {event} ON {table} BEGIN "
                f"SELECT RAISE(ABORT, 'ledger rows are append-only: {event} on {table} refused'); "
                "END"
            )


def _downgrade_sqlite() -> None:
    for table in SEALED_FACTS:
        for event in ("update", "delete"):
            op.execute(f"DROP TRIGGER {table}_no_{event}")
    for table in _tables_checked():
        op.execute(f"DROP TRIGGER {table}_checks_insert")
        if table in CACHED_COLUMNS:
            op.execute(f"DROP TRIGGER {table}_checks_update")


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        _upgrade_postgresql()
    else:
        _upgrade_sqlite()


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        _downgrade_postgresql()
    else:
        _downgrade_sqlite()
