"""hours: records, corrections, audit trail, star thresholds

Revision ID: 0005
Revises: 0004
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "star_thresholds",
        sa.Column("region_id", sa.Uuid(), nullable=False),
        sa.Column("hours", sa.JSON(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_by_id", sa.Uuid(), nullable=True),
        sa.ForeignKeyConstraint(
            ["region_id"], ["regions.id"], name=op.f("fk_star_thresholds_region_id_regions")
        ),
        sa.ForeignKeyConstraint(
            ["updated_by_id"],
            ["staff_users.id"],
            name=op.f("fk_star_thresholds_updated_by_id_staff_users"),
        ),
        sa.PrimaryKeyConstraint("region_id", name=op.f("pk_star_thresholds")),
    )
    op.create_table(
        "hours_records",
        sa.Column("region_id", sa.Uuid(), nullable=False),
        sa.Column("volunteer_id", sa.Uuid(), nullable=False),
        sa.Column("activity_id", sa.Uuid(), nullable=False),
        sa.Column("attendance_id", sa.Uuid(), nullable=True),
        sa.Column("source", sa.String(length=16), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("minutes", sa.Integer(), nullable=False),
        sa.Column("service_date", sa.Date(), nullable=False),
        sa.Column("flags", sa.JSON(), nullable=False),
        sa.Column("reason", sa.String(length=500), nullable=True),
        sa.Column("created_by_kind", sa.String(length=16), nullable=False),
        sa.Column("created_by_id", sa.Uuid(), nullable=True),
        sa.Column("decided_by_id", sa.Uuid(), nullable=True),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("decision_reason", sa.String(length=500), nullable=True),
        sa.Column("supersedes_id", sa.Uuid(), nullable=True),
        sa.Column("origin_key", sa.String(length=120), nullable=True),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["activity_id"], ["activities.id"], name=op.f("fk_hours_records_activity_id_activities")
        ),
        sa.ForeignKeyConstraint(
            ["attendance_id"],
            ["attendances.id"],
            name=op.f("fk_hours_records_attendance_id_attendances"),
        ),
        sa.ForeignKeyConstraint(
            ["decided_by_id"],
            ["staff_users.id"],
            name=op.f("fk_hours_records_decided_by_id_staff_users"),
        ),
        sa.ForeignKeyConstraint(
            ["region_id"], ["regions.id"], name=op.f("fk_hours_records_region_id_regions")
        ),
        sa.ForeignKeyConstraint(
            ["supersedes_id"],
            ["hours_records.id"],
            name=op.f("fk_hours_records_supersedes_id_hours_records"),
        ),
        sa.ForeignKeyConstraint(
            ["volunteer_id"],
            ["volunteers.id"],
            name=op.f("fk_hours_records_volunteer_id_volunteers"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_hours_records")),
        sa.UniqueConstraint("origin_key", name=op.f("uq_hours_records_origin_key")),
        sa.UniqueConstraint("supersedes_id", name=op.f("uq_hours_records_supersedes_id")),
    )
    with op.batch_alter_table("hours_records", schema=None) as batch_op:
        batch_op.create_index(
            "ix_hours_records_activity_status", ["activity_id", "status"], unique=False
        )
        batch_op.create_index(
            "ix_hours_records_region_created", ["region_id", "created_at"], unique=False
        )
        batch_op.create_index(
            "ix_hours_records_volunteer_created", ["volunteer_id", "created_at"], unique=False
        )
        batch_op.create_index(
            "ix_hours_records_volunteer_day",
            ["region_id", "volunteer_id", "service_date"],
            unique=False,
        )

    op.create_table(
        "hours_corrections",
        sa.Column("region_id", sa.Uuid(), nullable=False),
        sa.Column("hours_record_id", sa.Uuid(), nullable=False),
        sa.Column("volunteer_id", sa.Uuid(), nullable=False),
        sa.Column("minutes", sa.Integer(), nullable=False),
        sa.Column("reason", sa.String(length=500), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("open_record_id", sa.Uuid(), nullable=True),
        sa.Column("decided_by_id", sa.Uuid(), nullable=True),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("decision_reason", sa.String(length=500), nullable=True),
        sa.Column("replacement_id", sa.Uuid(), nullable=True),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["decided_by_id"],
            ["staff_users.id"],
            name=op.f("fk_hours_corrections_decided_by_id_staff_users"),
        ),
        sa.ForeignKeyConstraint(
            ["hours_record_id"],
            ["hours_records.id"],
            name=op.f("fk_hours_corrections_hours_record_id_hours_records"),
        ),
        sa.ForeignKeyConstraint(
            ["region_id"], ["regions.id"], name=op.f("fk_hours_corrections_region_id_regions")
        ),
        sa.ForeignKeyConstraint(
            ["replacement_id"],
            ["hours_records.id"],
            name=op.f("fk_hours_corrections_replacement_id_hours_records"),
        ),
        sa.ForeignKeyConstraint(
            ["volunteer_id"],
            ["volunteers.id"],
            name=op.f("fk_hours_corrections_volunteer_id_volunteers"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_hours_corrections")),
        sa.UniqueConstraint("open_record_id", name=op.f("uq_hours_corrections_open_record_id")),
    )
    with op.batch_alter_table("hours_corrections", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_hours_corrections_hours_record_id"), ["hours_record_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_hours_corrections_region_id"), ["region_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_hours_corrections_volunteer_id"), ["volunteer_id"], unique=False
        )

    op.create_table(
        "hours_audit",
        sa.Column("region_id", sa.Uuid(), nullable=False),
        sa.Column("hours_record_id", sa.Uuid(), nullable=False),
        sa.Column("correction_id", sa.Uuid(), nullable=True),
        sa.Column("action", sa.String(length=32), nullable=False),
        sa.Column("actor_kind", sa.String(length=16), nullable=False),
        sa.Column("actor_id", sa.Uuid(), nullable=True),
        sa.Column("from_status", sa.String(length=16), nullable=True),
        sa.Column("to_status", sa.String(length=16), nullable=True),
        sa.Column("minutes", sa.Integer(), nullable=True),
        sa.Column("reason", sa.String(length=500), nullable=True),
        sa.Column("details", sa.JSON(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["correction_id"],
            ["hours_corrections.id"],
            name=op.f("fk_hours_audit_correction_id_hours_corrections"),
        ),
        sa.ForeignKeyConstraint(
            ["hours_record_id"],
            ["hours_records.id"],
            name=op.f("fk_hours_audit_hours_record_id_hours_records"),
        ),
        sa.ForeignKeyConstraint(
            ["region_id"], ["regions.id"], name=op.f("fk_hours_audit_region_id_regions")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_hours_audit")),
    )
    with op.batch_alter_table("hours_audit", schema=None) as batch_op:
        batch_op.create_index("ix_hours_audit_record_at", ["hours_record_id", "at"], unique=False)
        batch_op.create_index(batch_op.f("ix_hours_audit_region_id"), ["region_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("hours_audit", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_hours_audit_region_id"))
        batch_op.drop_index("ix_hours_audit_record_at")
    op.drop_table("hours_audit")

    with op.batch_alter_table("hours_corrections", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_hours_corrections_volunteer_id"))
        batch_op.drop_index(batch_op.f("ix_hours_corrections_region_id"))
        batch_op.drop_index(batch_op.f("ix_hours_corrections_hours_record_id"))
    op.drop_table("hours_corrections")

    with op.batch_alter_table("hours_records", schema=None) as batch_op:
        batch_op.drop_index("ix_hours_records_volunteer_day")
        batch_op.drop_index("ix_hours_records_volunteer_created")
        batch_op.drop_index("ix_hours_records_region_created")
        batch_op.drop_index("ix_hours_records_activity_status")
    op.drop_table("hours_records")

    op.drop_table("star_thresholds")
