"""records kept: hours, their corrections and audit trail, staff grants, merchant pairings

Nothing of these is deleted any more, and the database refuses it (DESIGN.md §1,
"hours records are never deleted"), as it does for the ledger (0006, 0009):

- `hours_records`: DELETE is refused, and so is any change to what was entered
  (volunteer, activity, minutes, day, source, author, what it supersedes...). The
  status moves only forward: pending → approved, rejected or superseded, and
  approved → superseded (a correction's replacement takes over); the decision
  (`decided_by_id`, `decided_at`, `decision_reason`) is written once, by the update
  that approves or rejects. Only `updated_at` changes freely.
- `hours_corrections`: DELETE is refused, the request never changes, and the only
  update is its decision (open → accepted or refused), once.
- `hours_audit`: append-only (UPDATE and DELETE refused).
- `staff_grants` and `merchant_stations` gain `revoked_at`, `revoked_by` and
  `revoked_reason`: revoking a grant or unpairing a station keeps the row. One live
  row per grant or pairing (a partial unique index); DELETE is refused, what a row
  granted or paired never changes, and the only update is its revocation, once.
- TRUNCATE (PostgreSQL, which fires no row trigger for it) is refused on all of
  these and on 0017's `adjustments`.

The trigger function `audit_refuse_change()` is 0017's.

Revision ID: 0021
Revises: 0017
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0021"
down_revision: str | None = "0017"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Per table: the columns no UPDATE may name.
FIXED: dict[str, tuple[str, ...]] = {
    "hours_records": (
        "id",
        "region_id",
        "volunteer_id",
        "activity_id",
        "attendance_id",
        "source",
        "minutes",
        "service_date",
        "flags",
        "reason",
        "created_by_kind",
        "created_by_id",
        "supersedes_id",
        "origin_key",
        "created_at",
    ),
    "hours_corrections": (
        "id",
        "region_id",
        "hours_record_id",
        "volunteer_id",
        "minutes",
        "reason",
        "created_at",
    ),
    "staff_grants": (
        "id",
        "region_id",
        "staff_id",
        "org_unit_id",
        "role",
        "granted_by",
        "created_at",
    ),
    "merchant_stations": ("id", "region_id", "merchant_id", "org_unit_id", "created_at"),
}

_DECISION = ("decided_by_id", "decided_at", "decision_reason")

# Per table: when an UPDATE is refused beyond the fixed columns. `{ne}` is the
# null-safe "differs" of the database.
REFUSED_UPDATES: dict[str, str] = {
    "hours_records": (
        "(NEW.status {ne} OLD.status AND NOT ("
        "(OLD.status = 'pending' AND NEW.status IN ('approved', 'rejected', 'superseded')) "
        "OR (OLD.status = 'approved' AND NEW.status = 'superseded'))) "
        "OR (("
        + " OR ".join(f"NEW.{c} {{ne}} OLD.{c}" for c in _DECISION)
        + ") AND NOT (OLD.status = 'pending' AND NEW.status IN ('approved', 'rejected')))"
    ),
    "hours_corrections": "OLD.status <> 'open' OR NEW.status NOT IN ('accepted', 'refused')",
    "staff_grants": "OLD.revoked_at IS NOT NULL OR NEW.revoked_at IS NULL",
    "merchant_stations": "OLD.revoked_at IS NOT NULL OR NEW.revoked_at IS NULL",
}

APPEND_ONLY = ("hours_audit",)
KEPT = (*FIXED, *APPEND_ONLY)
NO_TRUNCATE = (*KEPT, "adjustments")

# The revocable rows: (table, the old unique constraint, its columns, the live index).
REVOCABLE = (
    (
        "staff_grants",
        "uq_staff_grants_staff_id_org_unit_id_role",
        ["staff_id", "org_unit_id", "role"],
        "uq_staff_grants_live",
    ),
    (
        "merchant_stations",
        "uq_merchant_stations_merchant_id_org_unit_id",
        ["merchant_id", "org_unit_id"],
        "uq_merchant_stations_live",
    ),
)
_LIVE = "revoked_at IS NULL"


def _add_revocations() -> None:
    for table, unique, columns, live in REVOCABLE:
        with op.batch_alter_table(table) as batch_op:
            batch_op.add_column(sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True))
            batch_op.add_column(sa.Column("revoked_by", sa.Uuid(), nullable=True))
            batch_op.add_column(sa.Column("revoked_reason", sa.String(length=500), nullable=True))
            batch_op.create_foreign_key(
                f"fk_{table}_revoked_by_staff_users", "staff_users", ["revoked_by"], ["id"]
            )
            batch_op.drop_constraint(unique, type_="unique")
            batch_op.create_index(
                live,
                columns,
                unique=True,
                postgresql_where=sa.text(_LIVE),
                sqlite_where=sa.text(_LIVE),
            )


def _drop_revocations() -> None:
    for table, unique, columns, live in REVOCABLE:
        # Before this revision a revoked row was deleted.
        op.execute(f"DELETE FROM {table} WHERE revoked_at IS NOT NULL")  # noqa: S608 - our own names
        with op.batch_alter_table(table) as batch_op:
            batch_op.drop_index(live)
            batch_op.create_unique_constraint(unique, columns)
            batch_op.drop_constraint(f"fk_{table}_revoked_by_staff_users", type_="foreignkey")
            batch_op.drop_column("revoked_reason")
            batch_op.drop_column("revoked_by")
            batch_op.drop_column("revoked_at")


# --- PostgreSQL -------------------------------------------------------------------------


def _create_triggers_postgresql() -> None:
    refuse = "FOR EACH ROW EXECUTE FUNCTION audit_refuse_change()"
    for table in KEPT:
        op.execute(f"CREATE TRIGGER {table}_no_delete BEFORE DELETE ON {table} {refuse}")
    for table, columns in FIXED.items():
        op.execute(
            f"CREATE TRIGGER {table}_fixed BEFORE UPDATE OF {', '.join(columns)} "
            f"ON {table} {refuse}"
        )
    for table, condition in REFUSED_UPDATES.items():
        op.execute(
            f"CREATE TRIGGER {table}_forward_only BEFORE UPDATE ON {table} "
            f"FOR EACH ROW WHEN ({condition.format(ne='IS DISTINCT FROM')}) "
            "EXECUTE FUNCTION audit_refuse_change()"
        )
    for table in APPEND_ONLY:
        op.execute(f"CREATE TRIGGER {table}_no_update BEFORE UPDATE ON {table} {refuse}")
    for table in NO_TRUNCATE:
        op.execute(
            f"CREATE TRIGGER {table}_no_truncate BEFORE TRUNCATE ON {table} "
            "FOR EACH STATEMENT EXECUTE FUNCTION audit_refuse_change()"
        )


def _drop_triggers_postgresql() -> None:
    for table in NO_TRUNCATE:
        op.execute(f"DROP TRIGGER {table}_no_truncate ON {table}")
    for table in APPEND_ONLY:
        op.execute(f"DROP TRIGGER {table}_no_update ON {table}")
    for table in REFUSED_UPDATES:
        op.execute(f"DROP TRIGGER {table}_forward_only ON {table}")
    for table in FIXED:
        op.execute(f"DROP TRIGGER {table}_fixed ON {table}")
    for table in KEPT:
        op.execute(f"DROP TRIGGER {table}_no_delete ON {table}")


# --- SQLite -----------------------------------------------------------------------------


def _sqlite_refusal(name: str, event: str, table: str, when: str = "") -> None:
    op.execute(
        f"CREATE TRIGGER {name} BEFORE {event} ON {table} {when} BEGIN "
        f"SELECT RAISE(ABORT, '{table} rows are kept as written: {event.split()[0]} refused'); "
        "END"
    )


def _create_triggers_sqlite() -> None:
    for table in KEPT:
        _sqlite_refusal(f"{table}_no_delete", "DELETE", table)
    for table, columns in FIXED.items():
        _sqlite_refusal(f"{table}_fixed", f"UPDATE OF {', '.join(columns)}", table)
    for table, condition in REFUSED_UPDATES.items():
        _sqlite_refusal(
            f"{table}_forward_only",
            "UPDATE",
            table,
            f"FOR EACH ROW WHEN {condition.format(ne='IS NOT')}",
        )
    for table in APPEND_ONLY:
        _sqlite_refusal(f"{table}_no_update", "UPDATE", table)


def _drop_triggers_sqlite() -> None:
    for table in APPEND_ONLY:
        op.execute(f"DROP TRIGGER {table}_no_update")
    for table in REFUSED_UPDATES:
        op.execute(f"DROP TRIGGER {table}_forward_only")
    for table in FIXED:
        op.execute(f"DROP TRIGGER {table}_fixed")
    for table in KEPT:
        op.execute(f"DROP TRIGGER {table}_no_delete")


def upgrade() -> None:
    # The tables are rebuilt on SQLite before any trigger is made on them.
    _add_revocations()
    if op.get_bind().dialect.name == "postgresql":
        _create_triggers_postgresql()
    else:
        _create_triggers_sqlite()


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        _drop_triggers_postgresql()
    else:
        _drop_triggers_sqlite()
    _drop_revocations()
