"""outbox: an attempt limit, a dead-letter state and manual retries

Revision ID: 0018
Revises: 0020
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0018"
down_revision: str | None = "0020"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("outbox_events", schema=None) as batch_op:
        batch_op.add_column(sa.Column("dead_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.drop_index("ix_outbox_events_pending")
        batch_op.create_index(
            "ix_outbox_events_pending", ["processed_at", "dead_at", "available_at"], unique=False
        )
        batch_op.create_index(
            "ix_outbox_events_region_id_dead_at", ["region_id", "dead_at", "id"], unique=False
        )

    op.create_table(
        "outbox_retries",
        sa.Column("region_id", sa.Uuid(), nullable=False),
        sa.Column("event_id", sa.Uuid(), nullable=False),
        sa.Column("retried_by_id", sa.Uuid(), nullable=False),
        sa.Column("retried_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("last_error", sa.String(length=500), nullable=True),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["event_id"],
            ["outbox_events.id"],
            name=op.f("fk_outbox_retries_event_id_outbox_events"),
        ),
        sa.ForeignKeyConstraint(
            ["region_id"], ["regions.id"], name=op.f("fk_outbox_retries_region_id_regions")
        ),
        sa.ForeignKeyConstraint(
            ["retried_by_id"],
            ["staff_users.id"],
            name=op.f("fk_outbox_retries_retried_by_id_staff_users"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_outbox_retries")),
    )
    with op.batch_alter_table("outbox_retries", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_outbox_retries_event_id"), ["event_id"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_outbox_retries_region_id"), ["region_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("outbox_retries", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_outbox_retries_region_id"))
        batch_op.drop_index(batch_op.f("ix_outbox_retries_event_id"))
    op.drop_table("outbox_retries")

    # Dead letters become pending again: the older code retries them without limit.
    with op.batch_alter_table("outbox_events", schema=None) as batch_op:
        batch_op.drop_index("ix_outbox_events_region_id_dead_at")
        batch_op.drop_index("ix_outbox_events_pending")
        batch_op.create_index(
            "ix_outbox_events_pending", ["processed_at", "available_at"], unique=False
        )
        batch_op.drop_column("dead_at")
