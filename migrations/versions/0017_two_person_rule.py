"""two people for value: pending ledger adjustments and their approvals

The reward policy's `adjustment_threshold`; the `adjustments` table (every manual
adjustment, posted at once or waiting for a second admin, and its decision) with
triggers that keep its rows: DELETE is refused, the request's own columns never
change, and a decided adjustment does not change at all. `adjustment_tallies`
holds what one admin adjusted alone per account and day.

Revision ID: 0017
Revises: 0016
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0017"
down_revision: str | None = "0016"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# What the request said: fixed from the insert on.
REQUEST_COLUMNS = (
    "id",
    "region_id",
    "debit_account_id",
    "credit_account_id",
    "amount",
    "reason",
    "reference",
    "threshold",
    "approval_cause",
    "issuance_delta",
    "requested_by_id",
    "requested_at",
)


def _create_tables() -> None:
    op.create_table(
        "adjustments",
        sa.Column("region_id", sa.Uuid(), nullable=False),
        sa.Column("debit_account_id", sa.Uuid(), nullable=False),
        sa.Column("credit_account_id", sa.Uuid(), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("reason", sa.String(length=500), nullable=False),
        sa.Column("reference", sa.String(length=100), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("threshold", sa.Integer(), nullable=False),
        sa.Column("approval_cause", sa.String(length=16), nullable=True),
        sa.Column("issuance_delta", sa.BigInteger(), nullable=False),
        sa.Column("budget_year", sa.Integer(), nullable=True),
        sa.Column("requested_by_id", sa.Uuid(), nullable=False),
        sa.Column("requested_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("decided_by_id", sa.Uuid(), nullable=True),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("decision_reason", sa.String(length=500), nullable=True),
        sa.Column("transaction_id", sa.Uuid(), nullable=True),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["credit_account_id"],
            ["ledger_accounts.id"],
            name=op.f("fk_adjustments_credit_account_id_ledger_accounts"),
        ),
        sa.ForeignKeyConstraint(
            ["debit_account_id"],
            ["ledger_accounts.id"],
            name=op.f("fk_adjustments_debit_account_id_ledger_accounts"),
        ),
        sa.ForeignKeyConstraint(
            ["decided_by_id"],
            ["staff_users.id"],
            name=op.f("fk_adjustments_decided_by_id_staff_users"),
        ),
        sa.ForeignKeyConstraint(
            ["region_id"], ["regions.id"], name=op.f("fk_adjustments_region_id_regions")
        ),
        sa.ForeignKeyConstraint(
            ["requested_by_id"],
            ["staff_users.id"],
            name=op.f("fk_adjustments_requested_by_id_staff_users"),
        ),
        sa.ForeignKeyConstraint(
            ["transaction_id"],
            ["ledger_transactions.id"],
            name=op.f("fk_adjustments_transaction_id_ledger_transactions"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_adjustments")),
        sa.UniqueConstraint("transaction_id", name=op.f("uq_adjustments_transaction_id")),
    )
    with op.batch_alter_table("adjustments") as batch_op:
        batch_op.create_index("ix_adjustments_region_budget_year", ["region_id", "budget_year"])
        batch_op.create_index("ix_adjustments_region_requested", ["region_id", "requested_at"])
        batch_op.create_index(
            "ix_adjustments_region_status_requested", ["region_id", "status", "requested_at"]
        )
    op.create_table(
        "adjustment_tallies",
        sa.Column("staff_id", sa.Uuid(), nullable=False),
        sa.Column("account_id", sa.Uuid(), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("region_id", sa.Uuid(), nullable=False),
        sa.Column("total", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["ledger_accounts.id"],
            name=op.f("fk_adjustment_tallies_account_id_ledger_accounts"),
        ),
        sa.ForeignKeyConstraint(
            ["region_id"], ["regions.id"], name=op.f("fk_adjustment_tallies_region_id_regions")
        ),
        sa.ForeignKeyConstraint(
            ["staff_id"],
            ["staff_users.id"],
            name=op.f("fk_adjustment_tallies_staff_id_staff_users"),
        ),
        sa.PrimaryKeyConstraint(
            "staff_id", "account_id", "day", name=op.f("pk_adjustment_tallies")
        ),
    )


def _create_triggers_postgresql() -> None:
    # Used by 0021 too, for the other tables whose rows are kept.
    op.execute(
        """
        CREATE FUNCTION audit_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            RAISE EXCEPTION '% rows are kept as written: % refused', TG_TABLE_NAME, TG_OP;
        END
        $$
        """
    )
    op.execute(
        """
        CREATE FUNCTION adjustments_keep_decided() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            IF OLD.status <> 'pending' THEN
                RAISE EXCEPTION 'a decided adjustment does not change: % refused', TG_OP;
            END IF;
            RETURN NEW;
        END
        $$
        """
    )
    op.execute(
        "CREATE TRIGGER adjustments_no_delete BEFORE DELETE ON adjustments "
        "FOR EACH ROW EXECUTE FUNCTION audit_refuse_change()"
    )
    op.execute(
        f"CREATE TRIGGER adjustments_request_fixed BEFORE UPDATE OF {', '.join(REQUEST_COLUMNS)} "
        "ON adjustments FOR EACH ROW EXECUTE FUNCTION audit_refuse_change()"
    )
    op.execute(
        "CREATE TRIGGER adjustments_decided_fixed BEFORE UPDATE ON adjustments "
        "FOR EACH ROW EXECUTE FUNCTION adjustments_keep_decided()"
    )


def _create_triggers_sqlite() -> None:
    def refuse(name: str, event: str, message: str, when: str = "") -> None:
        op.execute(
            f"CREATE TRIGGER {name} BEFORE {event} ON adjustments {when} BEGIN "
            f"SELECT RAISE(ABORT, '{message}'); END"
        )

    kept = "adjustments rows are kept as written: {} refused"
    refuse("adjustments_no_delete", "DELETE", kept.format("DELETE"))
    refuse(
        "adjustments_request_fixed",
        f"UPDATE OF {', '.join(REQUEST_COLUMNS)}",
        kept.format("UPDATE"),
    )
    refuse(
        "adjustments_decided_fixed",
        "UPDATE",
        "a decided adjustment does not change: UPDATE refused",
        "FOR EACH ROW WHEN OLD.status <> 'pending'",
    )


def upgrade() -> None:
    with op.batch_alter_table("reward_policies") as batch_op:
        batch_op.add_column(
            sa.Column("adjustment_threshold", sa.Integer(), server_default="500", nullable=False)
        )
    _create_tables()
    if op.get_bind().dialect.name == "postgresql":
        _create_triggers_postgresql()
    else:
        _create_triggers_sqlite()


def downgrade() -> None:
    # Dropping a table drops its triggers; PostgreSQL's trigger functions go after.
    op.drop_table("adjustment_tallies")
    op.drop_table("adjustments")
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP FUNCTION adjustments_keep_decided()")
        op.execute("DROP FUNCTION audit_refuse_change()")
    with op.batch_alter_table("reward_policies") as batch_op:
        batch_op.drop_column("adjustment_threshold")
