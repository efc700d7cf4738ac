"""notifications: the inbox, each person's preferences and WeChat send credits, a
region's subscribe-message templates, and the WeChat sends owed

Revision ID: 0028
Revises: 0027
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

APP_ROLE = "liangpiao_app"

revision: str = "0028"
down_revision: str | None = "0027"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "notification_templates",
        sa.Column("region_id", sa.Uuid(), nullable=False),
        sa.Column("kind", sa.String(length=40), nullable=False),
        sa.Column("template_id", sa.String(length=64), nullable=False),
        sa.Column("fields", sa.JSON(), nullable=False),
        sa.Column("page", sa.String(length=200), nullable=True),
        sa.Column("created_by", sa.Uuid(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["created_by"],
            ["staff_users.id"],
            name=op.f("fk_notification_templates_created_by_staff_users"),
        ),
        sa.ForeignKeyConstraint(
            ["region_id"], ["regions.id"], name=op.f("fk_notification_templates_region_id_regions")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_notification_templates")),
        sa.UniqueConstraint(
            "region_id", "kind", name=op.f("uq_notification_templates_region_id_kind")
        ),
        sa.UniqueConstraint(
            "region_id", "template_id", name=op.f("uq_notification_templates_region_id_template_id")
        ),
    )
    op.create_table(
        "notification_consents",
        sa.Column("volunteer_id", sa.Uuid(), nullable=False),
        sa.Column("template_id", sa.String(length=64), nullable=False),
        sa.Column("region_id", sa.Uuid(), nullable=False),
        sa.Column("credits", sa.Integer(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "credits >= 0", name=op.f("ck_notification_consents_credits_not_negative")
        ),
        sa.ForeignKeyConstraint(
            ["region_id"], ["regions.id"], name=op.f("fk_notification_consents_region_id_regions")
        ),
        sa.ForeignKeyConstraint(
            ["volunteer_id"],
            ["volunteers.id"],
            name=op.f("fk_notification_consents_volunteer_id_volunteers"),
        ),
        sa.PrimaryKeyConstraint(
            "volunteer_id", "template_id", name=op.f("pk_notification_consents")
        ),
    )
    op.create_table(
        "notification_preferences",
        sa.Column("volunteer_id", sa.Uuid(), nullable=False),
        sa.Column("region_id", sa.Uuid(), nullable=False),
        sa.Column("muted_kinds", sa.JSON(), nullable=False),
        sa.Column("quiet_hours", sa.Boolean(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["region_id"],
            ["regions.id"],
            name=op.f("fk_notification_preferences_region_id_regions"),
        ),
        sa.ForeignKeyConstraint(
            ["volunteer_id"],
            ["volunteers.id"],
            name=op.f("fk_notification_preferences_volunteer_id_volunteers"),
        ),
        sa.PrimaryKeyConstraint("volunteer_id", name=op.f("pk_notification_preferences")),
    )
    op.create_table(
        "notifications",
        sa.Column("region_id", sa.Uuid(), nullable=False),
        sa.Column("volunteer_id", sa.Uuid(), nullable=False),
        sa.Column("kind", sa.String(length=40), nullable=False),
        sa.Column("key", sa.String(length=200), nullable=False),
        sa.Column("title", sa.String(length=100), nullable=False),
        sa.Column("body", sa.String(length=500), nullable=False),
        sa.Column("data", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("read_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["region_id"], ["regions.id"], name=op.f("fk_notifications_region_id_regions")
        ),
        sa.ForeignKeyConstraint(
            ["volunteer_id"],
            ["volunteers.id"],
            name=op.f("fk_notifications_volunteer_id_volunteers"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_notifications")),
        sa.UniqueConstraint(
            "volunteer_id", "kind", "key", name=op.f("uq_notifications_volunteer_id_kind_key")
        ),
    )
    with op.batch_alter_table("notifications", schema=None) as batch_op:
        batch_op.create_index(
            "ix_notifications_inbox", ["volunteer_id", "created_at", "id"], unique=False
        )
        batch_op.create_index(
            "ix_notifications_unread",
            ["volunteer_id"],
            unique=False,
            postgresql_where=sa.text("read_at IS NULL"),
            sqlite_where=sa.text("read_at IS NULL"),
        )

    op.create_table(
        "notification_wechat_sends",
        sa.Column("region_id", sa.Uuid(), nullable=False),
        sa.Column("notification_id", sa.Uuid(), nullable=False),
        sa.Column("volunteer_id", sa.Uuid(), nullable=False),
        sa.Column("template_id", sa.String(length=64), nullable=False),
        sa.Column("emergency", sa.Boolean(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("available_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("lease_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("errcode", sa.Integer(), nullable=True),
        sa.Column("last_error", sa.String(length=500), nullable=True),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["notification_id"],
            ["notifications.id"],
            name=op.f("fk_notification_wechat_sends_notification_id_notifications"),
        ),
        sa.ForeignKeyConstraint(
            ["region_id"],
            ["regions.id"],
            name=op.f("fk_notification_wechat_sends_region_id_regions"),
        ),
        sa.ForeignKeyConstraint(
            ["volunteer_id"],
            ["volunteers.id"],
            name=op.f("fk_notification_wechat_sends_volunteer_id_volunteers"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_notification_wechat_sends")),
        sa.UniqueConstraint(
            "notification_id", name=op.f("uq_notification_wechat_sends_notification_id")
        ),
    )
    with op.batch_alter_table("notification_wechat_sends", schema=None) as batch_op:
        batch_op.create_index(
            "ix_notification_wechat_sends_due", ["status", "available_at"], unique=False
        )
        batch_op.create_index(
            "ix_notification_wechat_sends_person", ["volunteer_id", "sent_at"], unique=False
        )
    if op.get_bind().dialect.name == "postgresql":
        # The application role (0025) reads and inserts every new table by default: a
        # notification is read, preferences, templates and credits change, and a send
        # records its progress. A template a region no longer uses is removed.
        op.execute(
            "GRANT UPDATE ON notifications, notification_preferences, notification_templates,"
            f" notification_consents, notification_wechat_sends TO {APP_ROLE}"
        )
        op.execute(f"GRANT DELETE ON notification_templates TO {APP_ROLE}")


def downgrade() -> None:
    with op.batch_alter_table("notification_wechat_sends", schema=None) as batch_op:
        batch_op.drop_index("ix_notification_wechat_sends_person")
        batch_op.drop_index("ix_notification_wechat_sends_due")

    op.drop_table("notification_wechat_sends")
    with op.batch_alter_table("notifications", schema=None) as batch_op:
        batch_op.drop_index(
            "ix_notifications_unread",
            postgresql_where=sa.text("read_at IS NULL"),
            sqlite_where=sa.text("read_at IS NULL"),
        )
        batch_op.drop_index("ix_notifications_inbox")

    op.drop_table("notifications")
    op.drop_table("notification_preferences")
    op.drop_table("notification_consents")
    op.drop_table("notification_templates")
