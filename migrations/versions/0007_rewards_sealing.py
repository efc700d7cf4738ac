"""rewards and ledger sealing: reward policies, issuances, signing keys, blocks

Revision ID: 0007
Revises: 0006
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "reward_policies",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("region_id", sa.Uuid(), nullable=False),
        sa.Column("rate_per_hour", sa.Integer(), nullable=False),
        sa.Column("earning_sources", sa.JSON(), nullable=False),
        sa.Column("activity_cap", sa.Integer(), nullable=True),
        sa.Column("daily_cap", sa.Integer(), nullable=True),
        sa.Column("yearly_cap", sa.Integer(), nullable=True),
        sa.Column("yearly_budget", sa.BigInteger(), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_by_id", sa.Uuid(), nullable=True),
        sa.ForeignKeyConstraint(
            ["region_id"], ["regions.id"], name=op.f("fk_reward_policies_region_id_regions")
        ),
        sa.ForeignKeyConstraint(
            ["updated_by_id"],
            ["staff_users.id"],
            name=op.f("fk_reward_policies_updated_by_id_staff_users"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_reward_policies")),
        sa.UniqueConstraint("region_id", name=op.f("uq_reward_policies_region_id")),
    )
    op.create_table(
        "reward_issuances",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("region_id", sa.Uuid(), nullable=False),
        sa.Column("hours_record_id", sa.Uuid(), nullable=False),
        sa.Column("supersedes_hours_record_id", sa.Uuid(), nullable=True),
        sa.Column("superseded_by_id", sa.Uuid(), nullable=True),
        sa.Column("volunteer_id", sa.Uuid(), nullable=False),
        sa.Column("activity_id", sa.Uuid(), nullable=True),
        sa.Column("source", sa.String(length=16), nullable=False),
        sa.Column("minutes", sa.Integer(), nullable=False),
        sa.Column("service_date", sa.Date(), nullable=False),
        sa.Column("service_year", sa.Integer(), nullable=False),
        sa.Column("budget_year", sa.Integer(), nullable=False),
        sa.Column("rate_per_hour", sa.Integer(), nullable=False),
        sa.Column("entitled", sa.Integer(), nullable=False),
        sa.Column("granted", sa.Integer(), nullable=False),
        sa.Column("issued", sa.Integer(), nullable=False),
        sa.Column("clawed_back", sa.Integer(), nullable=False),
        sa.Column("shortfall", sa.Integer(), nullable=False),
        sa.Column("reasons", sa.JSON(), nullable=False),
        sa.Column("transaction_id", sa.Uuid(), nullable=True),
        sa.Column("approved_by", sa.String(length=64), nullable=True),
        sa.Column("approved_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["region_id"], ["regions.id"], name=op.f("fk_reward_issuances_region_id_regions")
        ),
        sa.ForeignKeyConstraint(
            ["superseded_by_id"],
            ["reward_issuances.id"],
            name=op.f("fk_reward_issuances_superseded_by_id_reward_issuances"),
        ),
        sa.ForeignKeyConstraint(
            ["transaction_id"],
            ["ledger_transactions.id"],
            name=op.f("fk_reward_issuances_transaction_id_ledger_transactions"),
        ),
        sa.ForeignKeyConstraint(
            ["volunteer_id"],
            ["volunteers.id"],
            name=op.f("fk_reward_issuances_volunteer_id_volunteers"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_reward_issuances")),
        sa.UniqueConstraint("hours_record_id", name=op.f("uq_reward_issuances_hours_record_id")),
        sa.UniqueConstraint(
            "supersedes_hours_record_id",
            name=op.f("uq_reward_issuances_supersedes_hours_record_id"),
        ),
    )
    with op.batch_alter_table("reward_issuances") as batch_op:
        batch_op.create_index("ix_reward_issuances_budget_year", ["region_id", "budget_year"])
        batch_op.create_index(
            "ix_reward_issuances_volunteer_activity", ["region_id", "volunteer_id", "activity_id"]
        )
        batch_op.create_index(
            "ix_reward_issuances_volunteer_date", ["region_id", "volunteer_id", "service_date"]
        )
        batch_op.create_index(
            "ix_reward_issuances_volunteer_year", ["region_id", "volunteer_id", "service_year"]
        )

    op.create_table(
        "ledger_signing_keys",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("region_id", sa.Uuid(), nullable=False),
        sa.Column("generation", sa.Integer(), nullable=False),
        sa.Column("kid", sa.String(length=64), nullable=False),
        sa.Column("public_key", sa.String(length=64), nullable=False),
        sa.Column("private_key", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["region_id"], ["regions.id"], name=op.f("fk_ledger_signing_keys_region_id_regions")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ledger_signing_keys")),
        sa.UniqueConstraint("kid", name=op.f("uq_ledger_signing_keys_kid")),
        sa.UniqueConstraint(
            "region_id", "generation", name=op.f("uq_ledger_signing_keys_region_id_generation")
        ),
    )
    op.create_table(
        "ledger_seal_states",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("region_id", sa.Uuid(), nullable=False),
        sa.Column("sealed_through_seq", sa.BigInteger(), nullable=False),
        sa.Column("swept_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["region_id"], ["regions.id"], name=op.f("fk_ledger_seal_states_region_id_regions")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ledger_seal_states")),
        sa.UniqueConstraint("region_id", name=op.f("uq_ledger_seal_states_region_id")),
    )
    op.create_table(
        "ledger_blocks",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("region_id", sa.Uuid(), nullable=False),
        sa.Column("height", sa.Integer(), nullable=False),
        sa.Column("prev_hash", sa.String(length=64), nullable=False),
        sa.Column("merkle_root", sa.String(length=64), nullable=False),
        sa.Column("tx_count", sa.Integer(), nullable=False),
        sa.Column("sealed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("kid", sa.String(length=64), nullable=False),
        sa.Column("block_hash", sa.String(length=64), nullable=False),
        sa.Column("signature", sa.String(length=128), nullable=False),
        sa.ForeignKeyConstraint(
            ["region_id"], ["regions.id"], name=op.f("fk_ledger_blocks_region_id_regions")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ledger_blocks")),
        sa.UniqueConstraint("block_hash", name=op.f("uq_ledger_blocks_block_hash")),
        sa.UniqueConstraint("region_id", "height", name=op.f("uq_ledger_blocks_region_id_height")),
    )
    op.create_table(
        "ledger_sealed_transactions",
        sa.Column("transaction_id", sa.Uuid(), nullable=False),
        sa.Column("region_id", sa.Uuid(), nullable=False),
        sa.Column("block_id", sa.Uuid(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("leaf_hash", sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(
            ["block_id"],
            ["ledger_blocks.id"],
            name=op.f("fk_ledger_sealed_transactions_block_id_ledger_blocks"),
        ),
        sa.ForeignKeyConstraint(
            ["region_id"],
            ["regions.id"],
            name=op.f("fk_ledger_sealed_transactions_region_id_regions"),
        ),
        sa.ForeignKeyConstraint(
            ["transaction_id"],
            ["ledger_transactions.id"],
            name=op.f("fk_ledger_sealed_transactions_transaction_id_ledger_transactions"),
        ),
        sa.PrimaryKeyConstraint("transaction_id", name=op.f("pk_ledger_sealed_transactions")),
        sa.UniqueConstraint(
            "block_id", "position", name=op.f("uq_ledger_sealed_transactions_block_id_position")
        ),
    )


def downgrade() -> None:
    op.drop_table("ledger_sealed_transactions")
    op.drop_table("ledger_blocks")
    op.drop_table("ledger_seal_states")
    op.drop_table("ledger_signing_keys")
    with op.batch_alter_table("reward_issuances") as batch_op:
        batch_op.drop_index("ix_reward_issuances_volunteer_year")
        batch_op.drop_index("ix_reward_issuances_volunteer_date")
        batch_op.drop_index("ix_reward_issuances_volunteer_activity")
        batch_op.drop_index("ix_reward_issuances_budget_year")
    op.drop_table("reward_issuances")
    op.drop_table("reward_policies")
