"""oauth clients: the registry of a region's third-party clients, their hashed secrets,
and the client assertions already spent

Revision ID: 0026
Revises: 0025
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0026"
down_revision: str | None = "0025"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


APP_ROLE = "liangpiao_app"


def upgrade() -> None:
    op.create_table(
        "oauth_clients",
        sa.Column("region_id", sa.Uuid(), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("contact", sa.String(length=200), nullable=False),
        sa.Column("scopes", sa.JSON(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("jwk", sa.JSON(), nullable=True),
        sa.Column("created_by_id", sa.Uuid(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["created_by_id"],
            ["staff_users.id"],
            name=op.f("fk_oauth_clients_created_by_id_staff_users"),
        ),
        sa.ForeignKeyConstraint(
            ["region_id"], ["regions.id"], name=op.f("fk_oauth_clients_region_id_regions")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_oauth_clients")),
    )
    op.create_index(op.f("ix_oauth_clients_region_id"), "oauth_clients", ["region_id"])
    op.create_table(
        "oauth_client_secrets",
        sa.Column("client_id", sa.Uuid(), nullable=False),
        sa.Column("region_id", sa.Uuid(), nullable=False),
        sa.Column("secret_hash", sa.String(length=64), nullable=False),
        sa.Column("hint", sa.String(length=8), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("retired_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["client_id"],
            ["oauth_clients.id"],
            name=op.f("fk_oauth_client_secrets_client_id_oauth_clients"),
        ),
        sa.ForeignKeyConstraint(
            ["region_id"], ["regions.id"], name=op.f("fk_oauth_client_secrets_region_id_regions")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_oauth_client_secrets")),
        sa.UniqueConstraint("secret_hash", name=op.f("uq_oauth_client_secrets_secret_hash")),
    )
    op.create_index(
        op.f("ix_oauth_client_secrets_client_id"), "oauth_client_secrets", ["client_id"]
    )
    op.create_table(
        "oauth_spent_assertions",
        sa.Column("client_id", sa.Uuid(), nullable=False),
        sa.Column("jti", sa.String(length=128), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["client_id"],
            ["oauth_clients.id"],
            name=op.f("fk_oauth_spent_assertions_client_id_oauth_clients"),
        ),
        sa.PrimaryKeyConstraint("client_id", "jti", name=op.f("pk_oauth_spent_assertions")),
    )
    op.create_index(
        op.f("ix_oauth_spent_assertions_expires_at"), "oauth_spent_assertions", ["expires_at"]
    )

    if op.get_bind().dialect.name == "postgresql":
        # The application role (0025) reads and inserts every new table by default; a
        # client's status and a secret's retirement change, spent assertions are purged.
        op.execute(f"GRANT UPDATE ON oauth_clients, oauth_client_secrets TO {APP_ROLE}")
        op.execute(f"GRANT DELETE ON oauth_spent_assertions TO {APP_ROLE}")


def downgrade() -> None:
    op.drop_index(op.f("ix_oauth_spent_assertions_expires_at"), table_name="oauth_spent_assertions")
    op.drop_table("oauth_spent_assertions")
    op.drop_index(op.f("ix_oauth_client_secrets_client_id"), table_name="oauth_client_secrets")
    op.drop_table("oauth_client_secrets")
    op.drop_index(op.f("ix_oauth_clients_region_id"), table_name="oauth_clients")
    op.drop_table("oauth_clients")
