"""merchants: a volunteer reserves an offer for pick-up, its price held in the wallet

Revision ID: 0022
Revises: 0021
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0022"
down_revision: str | None = "0021"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

OPEN = sa.text("status = 'held'")


def upgrade() -> None:
    op.create_table(
        "offer_reservations",
        sa.Column("region_id", sa.Uuid(), nullable=False),
        sa.Column("merchant_id", sa.Uuid(), nullable=False),
        sa.Column("offer_id", sa.Uuid(), nullable=False),
        sa.Column("volunteer_id", sa.Uuid(), nullable=False),
        sa.Column("hold_id", sa.Uuid(), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("pickup_code", sa.String(length=8), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("usage_period_key", sa.String(length=16), nullable=True),
        sa.Column("volunteer_display", sa.String(length=60), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("resolved_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("resolved_by", sa.String(length=80), nullable=True),
        sa.Column("redemption_id", sa.Uuid(), nullable=True),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.CheckConstraint("amount > 0", name=op.f("ck_offer_reservations_amount_positive")),
        sa.ForeignKeyConstraint(
            ["hold_id"],
            ["ledger_holds.id"],
            name=op.f("fk_offer_reservations_hold_id_ledger_holds"),
        ),
        sa.ForeignKeyConstraint(
            ["merchant_id"],
            ["merchants.id"],
            name=op.f("fk_offer_reservations_merchant_id_merchants"),
        ),
        sa.ForeignKeyConstraint(
            ["offer_id"], ["offers.id"], name=op.f("fk_offer_reservations_offer_id_offers")
        ),
        sa.ForeignKeyConstraint(
            ["redemption_id"],
            ["redemptions.id"],
            name=op.f("fk_offer_reservations_redemption_id_redemptions"),
        ),
        sa.ForeignKeyConstraint(
            ["region_id"], ["regions.id"], name=op.f("fk_offer_reservations_region_id_regions")
        ),
        sa.ForeignKeyConstraint(
            ["volunteer_id"],
            ["volunteers.id"],
            name=op.f("fk_offer_reservations_volunteer_id_volunteers"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_offer_reservations")),
        sa.UniqueConstraint("hold_id", name=op.f("uq_offer_reservations_hold_id")),
    )
    with op.batch_alter_table("offer_reservations") as batch_op:
        batch_op.create_index(
            "ix_offer_reservations_merchant_created", ["merchant_id", "created_at"]
        )
        batch_op.create_index("ix_offer_reservations_status_expires", ["status", "expires_at"])
        batch_op.create_index(
            "ix_offer_reservations_volunteer_created", ["volunteer_id", "created_at"]
        )
        batch_op.create_index(
            "uq_offer_reservations_open_pickup_code",
            ["merchant_id", "pickup_code"],
            unique=True,
            sqlite_where=OPEN,
            postgresql_where=OPEN,
        )


def downgrade() -> None:
    op.drop_table("offer_reservations")
