"""identity hardening: login throttles per address, revoked access tokens, refresh family
lifetime, removed merchant staff

Revision ID: 0019
Revises: 0018
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0019"
down_revision: str | None = "0018"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "login_throttles",
        sa.Column("username_key", sa.String(length=32), nullable=False),
        sa.Column("address_key", sa.String(length=32), nullable=False),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.Column("blocked_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_failure_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("username_key", "address_key", name=op.f("pk_login_throttles")),
    )
    op.create_index(
        op.f("ix_login_throttles_last_failure_at"), "login_throttles", ["last_failure_at"]
    )
    op.create_table(
        "revoked_access_tokens",
        sa.Column("jti", sa.String(length=64), nullable=False),
        sa.Column("region_id", sa.Uuid(), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["region_id"], ["regions.id"], name=op.f("fk_revoked_access_tokens_region_id_regions")
        ),
        sa.PrimaryKeyConstraint("jti", name=op.f("pk_revoked_access_tokens")),
    )
    op.create_index(
        op.f("ix_revoked_access_tokens_expires_at"), "revoked_access_tokens", ["expires_at"]
    )

    with op.batch_alter_table("refresh_tokens") as batch:
        batch.add_column(sa.Column("family_started_at", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("access_jti", sa.String(length=64), nullable=True))
        batch.add_column(sa.Column("access_expires_at", sa.DateTime(timezone=True), nullable=True))
    # A family began with its first token: existing logins keep their true age.
    op.execute(
        "UPDATE refresh_tokens SET family_started_at = "
        "(SELECT MIN(earliest.created_at) FROM refresh_tokens AS earliest "
        "WHERE earliest.family_id = refresh_tokens.family_id)"
    )
    with op.batch_alter_table("refresh_tokens") as batch:
        batch.alter_column(
            "family_started_at", existing_type=sa.DateTime(timezone=True), nullable=False
        )

    # Failures are counted per username and address now: an account is never locked.
    with op.batch_alter_table("staff_users") as batch:
        batch.drop_column("locked_until")
        batch.drop_column("failed_logins")

    with op.batch_alter_table("merchant_members") as batch:
        batch.add_column(sa.Column("removed_at", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("removed_by_id", sa.Uuid(), nullable=True))
        batch.create_foreign_key(
            op.f("fk_merchant_members_removed_by_id_staff_users"),
            "staff_users",
            ["removed_by_id"],
            ["id"],
        )


def downgrade() -> None:
    with op.batch_alter_table("merchant_members") as batch:
        batch.drop_constraint(
            op.f("fk_merchant_members_removed_by_id_staff_users"), type_="foreignkey"
        )
        batch.drop_column("removed_by_id")
        batch.drop_column("removed_at")
    with op.batch_alter_table("staff_users") as batch:
        batch.add_column(
            sa.Column("failed_logins", sa.Integer(), nullable=False, server_default="0")
        )
        batch.add_column(sa.Column("locked_until", sa.DateTime(timezone=True), nullable=True))
    with op.batch_alter_table("refresh_tokens") as batch:
        batch.drop_column("access_expires_at")
        batch.drop_column("access_jti")
        batch.drop_column("family_started_at")
    op.drop_index(op.f("ix_revoked_access_tokens_expires_at"), table_name="revoked_access_tokens")
    op.drop_table("revoked_access_tokens")
    op.drop_index(op.f("ix_login_throttles_last_failure_at"), table_name="login_throttles")
    op.drop_table("login_throttles")
