"""merchants: merchants and their staff, offers, terminals and nonces, redemption codes,
redemptions, refunds and settlements

Revision ID: 0008
Revises: 0007
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "merchant_policies",
        sa.Column("region_id", sa.Uuid(), nullable=False),
        sa.Column("refund_window_days", sa.Integer(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_by_id", sa.Uuid(), nullable=True),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["region_id"], ["regions.id"], name=op.f("fk_merchant_policies_region_id_regions")
        ),
        sa.ForeignKeyConstraint(
            ["updated_by_id"],
            ["staff_users.id"],
            name=op.f("fk_merchant_policies_updated_by_id_staff_users"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_merchant_policies")),
        sa.UniqueConstraint("region_id", name=op.f("uq_merchant_policies_region_id")),
    )
    op.create_table(
        "merchants",
        sa.Column("region_id", sa.Uuid(), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("address", sa.String(length=200), nullable=False),
        sa.Column("latitude", sa.Double(), nullable=False),
        sa.Column("longitude", sa.Double(), nullable=False),
        sa.Column("category", sa.String(length=32), nullable=False),
        sa.Column("contact_name", sa.String(length=50), nullable=True),
        sa.Column("contact_phone", sa.String(length=20), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("created_by_id", sa.Uuid(), nullable=True),
        sa.Column("ledger_account_id", sa.Uuid(), nullable=True),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["created_by_id"],
            ["staff_users.id"],
            name=op.f("fk_merchants_created_by_id_staff_users"),
        ),
        sa.ForeignKeyConstraint(
            ["region_id"], ["regions.id"], name=op.f("fk_merchants_region_id_regions")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_merchants")),
    )
    with op.batch_alter_table("merchants", schema=None) as batch_op:
        batch_op.create_index("ix_merchants_region_status", ["region_id", "status"], unique=False)

    op.create_table(
        "offline_code_keys",
        sa.Column("region_id", sa.Uuid(), nullable=False),
        sa.Column("volunteer_id", sa.Uuid(), nullable=False),
        sa.Column("wallet_no", sa.String(length=8), nullable=False),
        sa.Column("secret", sa.String(length=64), nullable=False),
        sa.Column("last_used_step", sa.BigInteger(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("rotated_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["region_id"], ["regions.id"], name=op.f("fk_offline_code_keys_region_id_regions")
        ),
        sa.ForeignKeyConstraint(
            ["volunteer_id"],
            ["volunteers.id"],
            name=op.f("fk_offline_code_keys_volunteer_id_volunteers"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_offline_code_keys")),
        sa.UniqueConstraint("volunteer_id", name=op.f("uq_offline_code_keys_volunteer_id")),
        sa.UniqueConstraint("wallet_no", name=op.f("uq_offline_code_keys_wallet_no")),
    )
    op.create_table(
        "redemption_codes",
        sa.Column("region_id", sa.Uuid(), nullable=False),
        sa.Column("volunteer_id", sa.Uuid(), nullable=False),
        sa.Column("code_hash", sa.String(length=64), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("used_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["region_id"], ["regions.id"], name=op.f("fk_redemption_codes_region_id_regions")
        ),
        sa.ForeignKeyConstraint(
            ["volunteer_id"],
            ["volunteers.id"],
            name=op.f("fk_redemption_codes_volunteer_id_volunteers"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_redemption_codes")),
        sa.UniqueConstraint("code_hash", name=op.f("uq_redemption_codes_code_hash")),
    )
    with op.batch_alter_table("redemption_codes", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_redemption_codes_expires_at"), ["expires_at"], unique=False
        )
        batch_op.create_index(
            "ix_redemption_codes_volunteer_status", ["volunteer_id", "status"], unique=False
        )

    op.create_table(
        "merchant_members",
        sa.Column("region_id", sa.Uuid(), nullable=False),
        sa.Column("merchant_id", sa.Uuid(), nullable=False),
        sa.Column("staff_user_id", sa.Uuid(), nullable=False),
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["merchant_id"],
            ["merchants.id"],
            name=op.f("fk_merchant_members_merchant_id_merchants"),
        ),
        sa.ForeignKeyConstraint(
            ["region_id"], ["regions.id"], name=op.f("fk_merchant_members_region_id_regions")
        ),
        sa.ForeignKeyConstraint(
            ["staff_user_id"],
            ["staff_users.id"],
            name=op.f("fk_merchant_members_staff_user_id_staff_users"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_merchant_members")),
        sa.UniqueConstraint("staff_user_id", name=op.f("uq_merchant_members_staff_user_id")),
    )
    with op.batch_alter_table("merchant_members", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_merchant_members_merchant_id"), ["merchant_id"], unique=False
        )

    op.create_table(
        "merchant_settlements",
        sa.Column("region_id", sa.Uuid(), nullable=False),
        sa.Column("merchant_id", sa.Uuid(), nullable=False),
        sa.Column("period", sa.String(length=7), nullable=False),
        sa.Column("amount", sa.Integer(), nullable=False),
        sa.Column("transaction_id", sa.Uuid(), nullable=True),
        sa.Column("settled_by", sa.String(length=80), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["merchant_id"],
            ["merchants.id"],
            name=op.f("fk_merchant_settlements_merchant_id_merchants"),
        ),
        sa.ForeignKeyConstraint(
            ["region_id"], ["regions.id"], name=op.f("fk_merchant_settlements_region_id_regions")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_merchant_settlements")),
        sa.UniqueConstraint(
            "merchant_id", "period", name=op.f("uq_merchant_settlements_merchant_id_period")
        ),
    )
    with op.batch_alter_table("merchant_settlements", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_merchant_settlements_region_id"), ["region_id"], unique=False
        )

    op.create_table(
        "merchant_stations",
        sa.Column("region_id", sa.Uuid(), nullable=False),
        sa.Column("merchant_id", sa.Uuid(), nullable=False),
        sa.Column("org_unit_id", sa.Uuid(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["merchant_id"],
            ["merchants.id"],
            name=op.f("fk_merchant_stations_merchant_id_merchants"),
        ),
        sa.ForeignKeyConstraint(
            ["org_unit_id"],
            ["org_units.id"],
            name=op.f("fk_merchant_stations_org_unit_id_org_units"),
        ),
        sa.ForeignKeyConstraint(
            ["region_id"], ["regions.id"], name=op.f("fk_merchant_stations_region_id_regions")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_merchant_stations")),
        sa.UniqueConstraint(
            "merchant_id", "org_unit_id", name=op.f("uq_merchant_stations_merchant_id_org_unit_id")
        ),
    )
    with op.batch_alter_table("merchant_stations", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_merchant_stations_org_unit_id"), ["org_unit_id"], unique=False
        )

    op.create_table(
        "offers",
        sa.Column("region_id", sa.Uuid(), nullable=False),
        sa.Column("merchant_id", sa.Uuid(), nullable=False),
        sa.Column("title", sa.String(length=100), nullable=False),
        sa.Column("description", sa.String(length=1000), nullable=True),
        sa.Column("price", sa.Integer(), nullable=False),
        sa.Column("stock", sa.Integer(), nullable=True),
        sa.Column("limit_count", sa.Integer(), nullable=True),
        sa.Column("limit_period", sa.String(length=8), nullable=True),
        sa.Column("valid_from", sa.Date(), nullable=True),
        sa.Column("valid_until", sa.Date(), nullable=True),
        sa.Column("min_star_level", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("price > 0", name=op.f("ck_offers_price_positive")),
        sa.CheckConstraint(
            "stock IS NULL OR stock >= 0", name=op.f("ck_offers_stock_not_negative")
        ),
        sa.ForeignKeyConstraint(
            ["merchant_id"], ["merchants.id"], name=op.f("fk_offers_merchant_id_merchants")
        ),
        sa.ForeignKeyConstraint(
            ["region_id"], ["regions.id"], name=op.f("fk_offers_region_id_regions")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_offers")),
    )
    with op.batch_alter_table("offers", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_offers_merchant_id"), ["merchant_id"], unique=False)
        batch_op.create_index("ix_offers_region_status", ["region_id", "status"], unique=False)

    op.create_table(
        "terminals",
        sa.Column("region_id", sa.Uuid(), nullable=False),
        sa.Column("merchant_id", sa.Uuid(), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("public_key", sa.String(length=64), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_by", sa.String(length=80), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["merchant_id"], ["merchants.id"], name=op.f("fk_terminals_merchant_id_merchants")
        ),
        sa.ForeignKeyConstraint(
            ["region_id"], ["regions.id"], name=op.f("fk_terminals_region_id_regions")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_terminals")),
    )
    with op.batch_alter_table("terminals", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_terminals_merchant_id"), ["merchant_id"], unique=False)

    op.create_table(
        "offer_usages",
        sa.Column("region_id", sa.Uuid(), nullable=False),
        sa.Column("offer_id", sa.Uuid(), nullable=False),
        sa.Column("volunteer_id", sa.Uuid(), nullable=False),
        sa.Column("period_key", sa.String(length=16), nullable=False),
        sa.Column("used", sa.Integer(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["offer_id"], ["offers.id"], name=op.f("fk_offer_usages_offer_id_offers")
        ),
        sa.ForeignKeyConstraint(
            ["region_id"], ["regions.id"], name=op.f("fk_offer_usages_region_id_regions")
        ),
        sa.ForeignKeyConstraint(
            ["volunteer_id"],
            ["volunteers.id"],
            name=op.f("fk_offer_usages_volunteer_id_volunteers"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_offer_usages")),
        sa.UniqueConstraint(
            "offer_id",
            "volunteer_id",
            "period_key",
            name=op.f("uq_offer_usages_offer_id_volunteer_id_period_key"),
        ),
    )
    with op.batch_alter_table("offer_usages", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_offer_usages_volunteer_id"), ["volunteer_id"], unique=False
        )

    op.create_table(
        "redemptions",
        sa.Column("region_id", sa.Uuid(), nullable=False),
        sa.Column("merchant_id", sa.Uuid(), nullable=False),
        sa.Column("terminal_id", sa.Uuid(), nullable=False),
        sa.Column("request_no", sa.String(length=64), nullable=False),
        sa.Column("fingerprint", sa.String(length=64), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("volunteer_id", sa.Uuid(), nullable=True),
        sa.Column("offer_id", sa.Uuid(), nullable=True),
        sa.Column("code_kind", sa.String(length=8), nullable=True),
        sa.Column("amount", sa.Integer(), nullable=True),
        sa.Column("transaction_id", sa.Uuid(), nullable=True),
        sa.Column("balance_after", sa.Integer(), nullable=True),
        sa.Column("volunteer_display", sa.String(length=60), nullable=True),
        sa.Column("refusal_code", sa.String(length=64), nullable=True),
        sa.Column("refusal_status", sa.Integer(), nullable=True),
        sa.Column("refusal_detail", sa.String(length=300), nullable=True),
        sa.Column("refunded_amount", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("voided_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("void_transaction_id", sa.Uuid(), nullable=True),
        sa.Column("usage_period_key", sa.String(length=16), nullable=True),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["merchant_id"], ["merchants.id"], name=op.f("fk_redemptions_merchant_id_merchants")
        ),
        sa.ForeignKeyConstraint(
            ["offer_id"], ["offers.id"], name=op.f("fk_redemptions_offer_id_offers")
        ),
        sa.ForeignKeyConstraint(
            ["region_id"], ["regions.id"], name=op.f("fk_redemptions_region_id_regions")
        ),
        sa.ForeignKeyConstraint(
            ["terminal_id"], ["terminals.id"], name=op.f("fk_redemptions_terminal_id_terminals")
        ),
        sa.ForeignKeyConstraint(
            ["volunteer_id"], ["volunteers.id"], name=op.f("fk_redemptions_volunteer_id_volunteers")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_redemptions")),
        sa.UniqueConstraint(
            "terminal_id", "request_no", name=op.f("uq_redemptions_terminal_id_request_no")
        ),
    )
    with op.batch_alter_table("redemptions", schema=None) as batch_op:
        batch_op.create_index(
            "ix_redemptions_merchant_created", ["merchant_id", "created_at"], unique=False
        )
        batch_op.create_index(
            "ix_redemptions_merchant_voided", ["merchant_id", "voided_at"], unique=False
        )

    op.create_table(
        "terminal_nonces",
        sa.Column("terminal_id", sa.Uuid(), nullable=False),
        sa.Column("nonce", sa.String(length=64), nullable=False),
        sa.Column("region_id", sa.Uuid(), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["region_id"], ["regions.id"], name=op.f("fk_terminal_nonces_region_id_regions")
        ),
        sa.ForeignKeyConstraint(
            ["terminal_id"], ["terminals.id"], name=op.f("fk_terminal_nonces_terminal_id_terminals")
        ),
        sa.PrimaryKeyConstraint("terminal_id", "nonce", name=op.f("pk_terminal_nonces")),
    )
    with op.batch_alter_table("terminal_nonces", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_terminal_nonces_expires_at"), ["expires_at"], unique=False
        )

    op.create_table(
        "redemption_refunds",
        sa.Column("region_id", sa.Uuid(), nullable=False),
        sa.Column("merchant_id", sa.Uuid(), nullable=False),
        sa.Column("redemption_id", sa.Uuid(), nullable=False),
        sa.Column("refund_no", sa.String(length=64), nullable=False),
        sa.Column("amount", sa.Integer(), nullable=False),
        sa.Column("transaction_id", sa.Uuid(), nullable=False),
        sa.Column("refunded_by", sa.String(length=80), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["merchant_id"],
            ["merchants.id"],
            name=op.f("fk_redemption_refunds_merchant_id_merchants"),
        ),
        sa.ForeignKeyConstraint(
            ["redemption_id"],
            ["redemptions.id"],
            name=op.f("fk_redemption_refunds_redemption_id_redemptions"),
        ),
        sa.ForeignKeyConstraint(
            ["region_id"], ["regions.id"], name=op.f("fk_redemption_refunds_region_id_regions")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_redemption_refunds")),
        sa.UniqueConstraint(
            "redemption_id", "refund_no", name=op.f("uq_redemption_refunds_redemption_id_refund_no")
        ),
    )
    with op.batch_alter_table("redemption_refunds", schema=None) as batch_op:
        batch_op.create_index(
            "ix_redemption_refunds_merchant_created", ["merchant_id", "created_at"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("redemption_refunds", schema=None) as batch_op:
        batch_op.drop_index("ix_redemption_refunds_merchant_created")

    op.drop_table("redemption_refunds")
    with op.batch_alter_table("terminal_nonces", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_terminal_nonces_expires_at"))

    op.drop_table("terminal_nonces")
    with op.batch_alter_table("redemptions", schema=None) as batch_op:
        batch_op.drop_index("ix_redemptions_merchant_voided")
        batch_op.drop_index("ix_redemptions_merchant_created")

    op.drop_table("redemptions")
    with op.batch_alter_table("offer_usages", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_offer_usages_volunteer_id"))

    op.drop_table("offer_usages")
    with op.batch_alter_table("terminals", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_terminals_merchant_id"))

    op.drop_table("terminals")
    with op.batch_alter_table("offers", schema=None) as batch_op:
        batch_op.drop_index("ix_offers_region_status")
        batch_op.drop_index(batch_op.f("ix_offers_merchant_id"))

    op.drop_table("offers")
    with op.batch_alter_table("merchant_stations", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_merchant_stations_org_unit_id"))

    op.drop_table("merchant_stations")
    with op.batch_alter_table("merchant_settlements", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_merchant_settlements_region_id"))

    op.drop_table("merchant_settlements")
    with op.batch_alter_table("merchant_members", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_merchant_members_merchant_id"))

    op.drop_table("merchant_members")
    with op.batch_alter_table("redemption_codes", schema=None) as batch_op:
        batch_op.drop_index("ix_redemption_codes_volunteer_status")
        batch_op.drop_index(batch_op.f("ix_redemption_codes_expires_at"))

    op.drop_table("redemption_codes")
    op.drop_table("offline_code_keys")
    with op.batch_alter_table("merchants", schema=None) as batch_op:
        batch_op.drop_index("ix_merchants_region_status")

    op.drop_table("merchants")
    op.drop_table("merchant_policies")
