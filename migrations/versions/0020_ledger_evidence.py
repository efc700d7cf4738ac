"""ledger evidence: the signing key leaves the database

The Ed25519 key that signs blocks now lives outside the database
(`app.ledger.signer`: a key file, an environment secret or a KMS), so
`ledger_signing_keys` keeps public keys only: its `private_key` column is dropped,
and with it every private key the database held (there is no way back: a
downgrade restores an empty column, and blocks are signed again only once a
signer is configured). One signer may sign for several regions, so `kid` is
unique per region rather than across them. The key rows become append-only like
the blocks they verify.

Blocks attest the ledger's sequence (`seq_through`, `unused_seqs`, signed in
headers v2): a missing sequence number is a rolled-back transaction only if a
block recorded it unused once it had settled; any other is a deleted one.

Revision ID: 0020
Revises: 0022
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0020"
down_revision: str | None = "0022"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

KEYS = "ledger_signing_keys"


def _sqlite_append_only(table: str) -> None:
    for event in ("UPDATE", "DELETE"):
        op.execute(
            f"CREATE TRIGGER {table}_no_{event.lower()} BEFORE {event} ON {table} BEGIN "
            f"SELECT RAISE(ABORT, 'ledger rows are append-only: {event} on {table} refused'); "
            "END"
        )


def _keys_upgrade() -> None:
    with op.batch_alter_table(KEYS) as batch:
        batch.drop_constraint(op.f("uq_ledger_signing_keys_kid"), type_="unique")
        batch.create_unique_constraint(
            op.f("uq_ledger_signing_keys_region_id_kid"), ["region_id", "kid"]
        )
        batch.drop_column("private_key")
    if op.get_bind().dialect.name == "postgresql":
        # ledger_refuse_change() is migration 0006's.
        op.execute(
            f"CREATE TRIGGER {KEYS}_append_only BEFORE UPDATE OR DELETE ON {KEYS} "
            "FOR EACH ROW EXECUTE FUNCTION ledger_refuse_change()"
        )
    else:
        _sqlite_append_only(KEYS)


def _keys_downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(f"DROP TRIGGER {KEYS}_append_only ON {KEYS}")
    else:
        for event in ("update", "delete"):
            op.execute(f"DROP TRIGGER {KEYS}_no_{event}")
    with op.batch_alter_table(KEYS) as batch:
        batch.add_column(
            sa.Column("private_key", sa.String(length=64), nullable=False, server_default="")
        )
        batch.drop_constraint(op.f("uq_ledger_signing_keys_region_id_kid"), type_="unique")
        batch.create_unique_constraint(op.f("uq_ledger_signing_keys_kid"), ["kid"])


def upgrade() -> None:
    _keys_upgrade()
    # Plain ADD COLUMN on both databases: SQLite keeps the table and its triggers.
    op.add_column("ledger_blocks", sa.Column("seq_through", sa.BigInteger(), nullable=True))
    op.add_column("ledger_blocks", sa.Column("unused_seqs", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("ledger_blocks") as batch:
        batch.drop_column("unused_seqs")
        batch.drop_column("seq_through")
    if op.get_bind().dialect.name == "sqlite":
        # The batch rebuilt the table without migration 0009's triggers.
        _sqlite_append_only("ledger_blocks")
    _keys_downgrade()
