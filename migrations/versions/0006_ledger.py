"""ledger

The 良票 ledger's tables, and the triggers that make its facts append-only:
UPDATE and DELETE are refused on transactions, postings, lot entries and holds,
and on the identity columns of accounts and lots (their cached balances move).
Migration 0009 refuses TRUNCATE too; the test harness cleans with DELETE as a replica.

Revision ID: 0006
Revises: 0005
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SERIAL = sa.BigInteger().with_variant(sa.Integer(), "sqlite")

# Tables whose rows never change once written.
APPEND_ONLY = (
    "ledger_transactions",
    "ledger_postings",
    "ledger_lot_entries",
    "ledger_holds",
    "ledger_hold_lots",
    "ledger_hold_resolutions",
)
# Tables whose cached columns move but whose other columns, and rows, stay.
FIXED_COLUMNS = {
    "ledger_accounts": ("id", "region_id", "kind", "owner_id", "allow_negative", "created_at"),
    "ledger_lots": (
        "id",
        "region_id",
        "account_id",
        "transaction_id",
        "amount",
        "expires_at",
        "created_at",
    ),
}


def _create_tables() -> None:
    op.create_table(
        "ledger_accounts",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("region_id", sa.Uuid(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("owner_id", sa.Uuid(), nullable=False),
        sa.Column("allow_negative", sa.Boolean(), nullable=False),
        sa.Column("posted", sa.BigInteger(), nullable=False),
        sa.Column("pending", sa.BigInteger(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["region_id"], ["regions.id"], name=op.f("fk_ledger_accounts_region_id_regions")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ledger_accounts")),
        sa.UniqueConstraint(
            "region_id", "kind", "owner_id", name=op.f("uq_ledger_accounts_region_id_kind_owner_id")
        ),
    )
    op.create_index(op.f("ix_ledger_accounts_region_id"), "ledger_accounts", ["region_id"])

    op.create_table(
        "ledger_transactions",
        sa.Column("seq", SERIAL, autoincrement=True, nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("region_id", sa.Uuid(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("reference_type", sa.String(length=40), nullable=False),
        sa.Column("reference_id", sa.String(length=100), nullable=False),
        sa.Column("actor", sa.String(length=120), nullable=False),
        sa.Column("metadata", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("reverses_id", sa.Uuid(), nullable=True),
        sa.Column("refunds_id", sa.Uuid(), nullable=True),
        sa.ForeignKeyConstraint(
            ["refunds_id"],
            ["ledger_transactions.id"],
            name=op.f("fk_ledger_transactions_refunds_id_ledger_transactions"),
        ),
        sa.ForeignKeyConstraint(
            ["region_id"], ["regions.id"], name=op.f("fk_ledger_transactions_region_id_regions")
        ),
        sa.ForeignKeyConstraint(
            ["reverses_id"],
            ["ledger_transactions.id"],
            name=op.f("fk_ledger_transactions_reverses_id_ledger_transactions"),
        ),
        sa.PrimaryKeyConstraint("seq", name=op.f("pk_ledger_transactions")),
        sa.UniqueConstraint("id", name=op.f("uq_ledger_transactions_id")),
        sa.UniqueConstraint("reverses_id", name=op.f("uq_ledger_transactions_reverses_id")),
    )
    op.create_index(
        "ix_ledger_transactions_reference",
        "ledger_transactions",
        ["region_id", "reference_type", "reference_id"],
    )
    op.create_index(
        op.f("ix_ledger_transactions_refunds_id"), "ledger_transactions", ["refunds_id"]
    )
    op.create_index(op.f("ix_ledger_transactions_region_id"), "ledger_transactions", ["region_id"])

    op.create_table(
        "ledger_postings",
        sa.Column("id", SERIAL, autoincrement=True, nullable=False),
        sa.Column("region_id", sa.Uuid(), nullable=False),
        sa.Column("transaction_id", sa.Uuid(), nullable=False),
        sa.Column("account_id", sa.Uuid(), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["ledger_accounts.id"],
            name=op.f("fk_ledger_postings_account_id_ledger_accounts"),
        ),
        sa.ForeignKeyConstraint(
            ["region_id"], ["regions.id"], name=op.f("fk_ledger_postings_region_id_regions")
        ),
        sa.ForeignKeyConstraint(
            ["transaction_id"],
            ["ledger_transactions.id"],
            name=op.f("fk_ledger_postings_transaction_id_ledger_transactions"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ledger_postings")),
    )
    op.create_index("ix_ledger_postings_account_id_id", "ledger_postings", ["account_id", "id"])
    op.create_index(
        op.f("ix_ledger_postings_transaction_id"), "ledger_postings", ["transaction_id"]
    )

    op.create_table(
        "ledger_lots",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("region_id", sa.Uuid(), nullable=False),
        sa.Column("account_id", sa.Uuid(), nullable=False),
        sa.Column("transaction_id", sa.Uuid(), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("remaining", sa.BigInteger(), nullable=False),
        sa.Column("reserved", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["ledger_accounts.id"],
            name=op.f("fk_ledger_lots_account_id_ledger_accounts"),
        ),
        sa.ForeignKeyConstraint(
            ["region_id"], ["regions.id"], name=op.f("fk_ledger_lots_region_id_regions")
        ),
        sa.ForeignKeyConstraint(
            ["transaction_id"],
            ["ledger_transactions.id"],
            name=op.f("fk_ledger_lots_transaction_id_ledger_transactions"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ledger_lots")),
    )
    op.create_index(
        "ix_ledger_lots_account_id_expires_at", "ledger_lots", ["account_id", "expires_at"]
    )
    op.create_index(op.f("ix_ledger_lots_expires_at"), "ledger_lots", ["expires_at"])
    op.create_index(op.f("ix_ledger_lots_region_id"), "ledger_lots", ["region_id"])
    op.create_index(op.f("ix_ledger_lots_transaction_id"), "ledger_lots", ["transaction_id"])

    op.create_table(
        "ledger_lot_entries",
        sa.Column("id", SERIAL, autoincrement=True, nullable=False),
        sa.Column("region_id", sa.Uuid(), nullable=False),
        sa.Column("lot_id", sa.Uuid(), nullable=False),
        sa.Column("transaction_id", sa.Uuid(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["lot_id"], ["ledger_lots.id"], name=op.f("fk_ledger_lot_entries_lot_id_ledger_lots")
        ),
        sa.ForeignKeyConstraint(
            ["region_id"], ["regions.id"], name=op.f("fk_ledger_lot_entries_region_id_regions")
        ),
        sa.ForeignKeyConstraint(
            ["transaction_id"],
            ["ledger_transactions.id"],
            name=op.f("fk_ledger_lot_entries_transaction_id_ledger_transactions"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ledger_lot_entries")),
    )
    op.create_index(op.f("ix_ledger_lot_entries_lot_id"), "ledger_lot_entries", ["lot_id"])
    op.create_index(
        op.f("ix_ledger_lot_entries_transaction_id"), "ledger_lot_entries", ["transaction_id"]
    )
    op.create_index(
        "uq_ledger_lot_entries_expire_lot_id",
        "ledger_lot_entries",
        ["lot_id"],
        unique=True,
        postgresql_where=sa.text("kind = 'expire'"),
        sqlite_where=sa.text("kind = 'expire'"),
    )

    op.create_table(
        "ledger_holds",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("region_id", sa.Uuid(), nullable=False),
        sa.Column("account_id", sa.Uuid(), nullable=False),
        sa.Column("to_account_id", sa.Uuid(), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("reference_type", sa.String(length=40), nullable=False),
        sa.Column("reference_id", sa.String(length=100), nullable=False),
        sa.Column("actor", sa.String(length=120), nullable=False),
        sa.Column("metadata", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["ledger_accounts.id"],
            name=op.f("fk_ledger_holds_account_id_ledger_accounts"),
        ),
        sa.ForeignKeyConstraint(
            ["region_id"], ["regions.id"], name=op.f("fk_ledger_holds_region_id_regions")
        ),
        sa.ForeignKeyConstraint(
            ["to_account_id"],
            ["ledger_accounts.id"],
            name=op.f("fk_ledger_holds_to_account_id_ledger_accounts"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ledger_holds")),
    )
    op.create_index(op.f("ix_ledger_holds_account_id"), "ledger_holds", ["account_id"])
    op.create_index(op.f("ix_ledger_holds_expires_at"), "ledger_holds", ["expires_at"])
    op.create_index(op.f("ix_ledger_holds_region_id"), "ledger_holds", ["region_id"])

    op.create_table(
        "ledger_hold_lots",
        sa.Column("id", SERIAL, autoincrement=True, nullable=False),
        sa.Column("region_id", sa.Uuid(), nullable=False),
        sa.Column("hold_id", sa.Uuid(), nullable=False),
        sa.Column("lot_id", sa.Uuid(), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["hold_id"], ["ledger_holds.id"], name=op.f("fk_ledger_hold_lots_hold_id_ledger_holds")
        ),
        sa.ForeignKeyConstraint(
            ["lot_id"], ["ledger_lots.id"], name=op.f("fk_ledger_hold_lots_lot_id_ledger_lots")
        ),
        sa.ForeignKeyConstraint(
            ["region_id"], ["regions.id"], name=op.f("fk_ledger_hold_lots_region_id_regions")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ledger_hold_lots")),
    )
    op.create_index(op.f("ix_ledger_hold_lots_hold_id"), "ledger_hold_lots", ["hold_id"])
    op.create_index(op.f("ix_ledger_hold_lots_lot_id"), "ledger_hold_lots", ["lot_id"])

    op.create_table(
        "ledger_hold_resolutions",
        sa.Column("id", SERIAL, autoincrement=True, nullable=False),
        sa.Column("region_id", sa.Uuid(), nullable=False),
        sa.Column("hold_id", sa.Uuid(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("posted_amount", sa.BigInteger(), nullable=False),
        sa.Column("transaction_id", sa.Uuid(), nullable=True),
        sa.Column("actor", sa.String(length=120), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["hold_id"],
            ["ledger_holds.id"],
            name=op.f("fk_ledger_hold_resolutions_hold_id_ledger_holds"),
        ),
        sa.ForeignKeyConstraint(
            ["region_id"], ["regions.id"], name=op.f("fk_ledger_hold_resolutions_region_id_regions")
        ),
        sa.ForeignKeyConstraint(
            ["transaction_id"],
            ["ledger_transactions.id"],
            name=op.f("fk_ledger_hold_resolutions_transaction_id_ledger_transactions"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ledger_hold_resolutions")),
        sa.UniqueConstraint("hold_id", name=op.f("uq_ledger_hold_resolutions_hold_id")),
    )


def _create_triggers_postgresql() -> None:
    op.execute(
        """
        CREATE FUNCTION ledger_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            RAISE EXCEPTION 'ledger rows are append-only: % on % refused', TG_OP, TG_TABLE_NAME;
        END
        $$
        """
    )
    for table in APPEND_ONLY:
        op.execute(
            f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table} "
            "FOR EACH ROW EXECUTE FUNCTION ledger_refuse_change()"
        )
    for table, columns in FIXED_COLUMNS.items():
        op.execute(
            f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OF {', '.join(columns)} "
            f"OR DELETE ON {table} FOR EACH ROW EXECUTE FUNCTION ledger_refuse_change()"
        )


def _sqlite_trigger(name: str, event: str, table: str) -> None:
    op.execute(
        f"CREATE TRIGGER {name} BEFORE {event} ON {table} BEGIN "
        f"SELECT RAISE(ABORT, 'ledger rows are append-only: {event.split()[0]} on {table} refused'); "
        "END"
    )


def _create_triggers_sqlite() -> None:
    for table in APPEND_ONLY:
        _sqlite_trigger(f"{table}_no_update", "UPDATE", table)
        _sqlite_trigger(f"{table}_no_delete", "DELETE", table)
    for table, columns in FIXED_COLUMNS.items():
        _sqlite_trigger(f"{table}_no_update", f"UPDATE OF {', '.join(columns)}", table)
        _sqlite_trigger(f"{table}_no_delete", "DELETE", table)


def upgrade() -> None:
    _create_tables()
    if op.get_bind().dialect.name == "postgresql":
        _create_triggers_postgresql()
    else:
        _create_triggers_sqlite()


def downgrade() -> None:
    # Dropping a table drops its triggers; PostgreSQL's trigger function goes last.
    for table in (
        "ledger_hold_resolutions",
        "ledger_hold_lots",
        "ledger_holds",
        "ledger_lot_entries",
        "ledger_lots",
        "ledger_postings",
        "ledger_transactions",
        "ledger_accounts",
    ):
        op.drop_table(table)
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP FUNCTION ledger_refuse_change()")
