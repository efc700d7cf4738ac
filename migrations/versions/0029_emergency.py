"""emergency: grids and their teams, alerts with the grids and volunteers they called,
the answers, the audit trail; activities marked as drills

Revision ID: 0029
Revises: 0028
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

APP_ROLE = "liangpiao_app"

revision: str = "0029"
down_revision: str | None = "0028"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "emergency_audit",
        sa.Column("region_id", sa.Uuid(), nullable=False),
        sa.Column("subject", sa.String(length=16), nullable=False),
        sa.Column("subject_id", sa.Uuid(), nullable=False),
        sa.Column("action", sa.String(length=32), nullable=False),
        sa.Column("actor_id", sa.Uuid(), nullable=True),
        sa.Column("details", sa.JSON(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["actor_id"], ["staff_users.id"], name=op.f("fk_emergency_audit_actor_id_staff_users")
        ),
        sa.ForeignKeyConstraint(
            ["region_id"], ["regions.id"], name=op.f("fk_emergency_audit_region_id_regions")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_emergency_audit")),
    )
    with op.batch_alter_table("emergency_audit", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_emergency_audit_region_id"), ["region_id"], unique=False
        )
        batch_op.create_index(
            "ix_emergency_audit_subject_id_at", ["subject_id", "at"], unique=False
        )

    op.create_table(
        "emergency_grids",
        sa.Column("region_id", sa.Uuid(), nullable=False),
        sa.Column("org_unit_id", sa.Uuid(), nullable=False),
        sa.Column("shape", sa.String(length=16), nullable=False),
        sa.Column("polygon", sa.JSON(), nullable=True),
        sa.Column("center_latitude", sa.Double(), nullable=False),
        sa.Column("center_longitude", sa.Double(), nullable=False),
        sa.Column("radius_m", sa.Integer(), nullable=True),
        sa.Column("created_by", sa.Uuid(), nullable=False),
        sa.Column("updated_by", sa.Uuid(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "(shape = 'polygon' AND polygon IS NOT NULL AND radius_m IS NULL) OR (shape = 'circle' AND polygon IS NULL AND radius_m IS NOT NULL)",
            name=op.f("ck_emergency_grids_one_shape"),
        ),
        sa.ForeignKeyConstraint(
            ["created_by"],
            ["staff_users.id"],
            name=op.f("fk_emergency_grids_created_by_staff_users"),
        ),
        sa.ForeignKeyConstraint(
            ["org_unit_id"], ["org_units.id"], name=op.f("fk_emergency_grids_org_unit_id_org_units")
        ),
        sa.ForeignKeyConstraint(
            ["region_id"], ["regions.id"], name=op.f("fk_emergency_grids_region_id_regions")
        ),
        sa.ForeignKeyConstraint(
            ["updated_by"],
            ["staff_users.id"],
            name=op.f("fk_emergency_grids_updated_by_staff_users"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_emergency_grids")),
        sa.UniqueConstraint("org_unit_id", name=op.f("uq_emergency_grids_org_unit_id")),
    )
    with op.batch_alter_table("emergency_grids", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_emergency_grids_region_id"), ["region_id"], unique=False
        )

    op.create_table(
        "emergency_enrolments",
        sa.Column("region_id", sa.Uuid(), nullable=False),
        sa.Column("grid_id", sa.Uuid(), nullable=False),
        sa.Column("volunteer_id", sa.Uuid(), nullable=False),
        sa.Column("skills", sa.JSON(), nullable=False),
        sa.Column("availability", sa.JSON(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("asked_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("decided_by", sa.Uuid(), nullable=True),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("decision_reason", sa.String(length=500), nullable=True),
        sa.Column("withdrawn_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["decided_by"],
            ["staff_users.id"],
            name=op.f("fk_emergency_enrolments_decided_by_staff_users"),
        ),
        sa.ForeignKeyConstraint(
            ["grid_id"],
            ["emergency_grids.id"],
            name=op.f("fk_emergency_enrolments_grid_id_emergency_grids"),
        ),
        sa.ForeignKeyConstraint(
            ["region_id"], ["regions.id"], name=op.f("fk_emergency_enrolments_region_id_regions")
        ),
        sa.ForeignKeyConstraint(
            ["volunteer_id"],
            ["volunteers.id"],
            name=op.f("fk_emergency_enrolments_volunteer_id_volunteers"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_emergency_enrolments")),
        sa.UniqueConstraint(
            "grid_id", "volunteer_id", name=op.f("uq_emergency_enrolments_grid_id_volunteer_id")
        ),
    )
    with op.batch_alter_table("emergency_enrolments", schema=None) as batch_op:
        batch_op.create_index(
            "ix_emergency_enrolments_grid_id_status", ["grid_id", "status"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_emergency_enrolments_region_id"), ["region_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_emergency_enrolments_volunteer_id"), ["volunteer_id"], unique=False
        )

    op.create_table(
        "emergency_alerts",
        sa.Column("region_id", sa.Uuid(), nullable=False),
        sa.Column("org_unit_id", sa.Uuid(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("drill", sa.Boolean(), nullable=False),
        sa.Column("message", sa.String(length=1000), nullable=False),
        sa.Column("muster_name", sa.String(length=100), nullable=False),
        sa.Column("muster_address", sa.String(length=200), nullable=False),
        sa.Column("muster_latitude", sa.Double(), nullable=False),
        sa.Column("muster_longitude", sa.Double(), nullable=False),
        sa.Column("muster_by", sa.DateTime(timezone=True), nullable=False),
        sa.Column("needed_total", sa.Integer(), nullable=False),
        sa.Column("needed_skills", sa.JSON(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("wave", sa.String(length=16), nullable=False),
        sa.Column("escalate_after_seconds", sa.Integer(), nullable=False),
        sa.Column("escalate_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("activity_id", sa.Uuid(), nullable=False),
        sa.Column("raised_by", sa.Uuid(), nullable=False),
        sa.Column("raised_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("stood_down_by", sa.Uuid(), nullable=True),
        sa.Column("stood_down_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("stand_down_reason", sa.String(length=500), nullable=True),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "needed_total >= 1", name=op.f("ck_emergency_alerts_needed_total_positive")
        ),
        sa.CheckConstraint("version >= 1", name=op.f("ck_emergency_alerts_version_positive")),
        sa.ForeignKeyConstraint(
            ["activity_id"],
            ["activities.id"],
            name=op.f("fk_emergency_alerts_activity_id_activities"),
        ),
        sa.ForeignKeyConstraint(
            ["org_unit_id"],
            ["org_units.id"],
            name=op.f("fk_emergency_alerts_org_unit_id_org_units"),
        ),
        sa.ForeignKeyConstraint(
            ["raised_by"],
            ["staff_users.id"],
            name=op.f("fk_emergency_alerts_raised_by_staff_users"),
        ),
        sa.ForeignKeyConstraint(
            ["region_id"], ["regions.id"], name=op.f("fk_emergency_alerts_region_id_regions")
        ),
        sa.ForeignKeyConstraint(
            ["stood_down_by"],
            ["staff_users.id"],
            name=op.f("fk_emergency_alerts_stood_down_by_staff_users"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_emergency_alerts")),
        sa.UniqueConstraint("activity_id", name=op.f("uq_emergency_alerts_activity_id")),
    )
    with op.batch_alter_table("emergency_alerts", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_emergency_alerts_org_unit_id"), ["org_unit_id"], unique=False
        )
        batch_op.create_index(
            "ix_emergency_alerts_region_id_raised_at", ["region_id", "raised_at"], unique=False
        )
        batch_op.create_index(
            "ix_emergency_alerts_status_escalate_at", ["status", "escalate_at"], unique=False
        )

    op.create_table(
        "emergency_alert_grids",
        sa.Column("alert_id", sa.Uuid(), nullable=False),
        sa.Column("grid_id", sa.Uuid(), nullable=False),
        sa.Column("region_id", sa.Uuid(), nullable=False),
        sa.Column("wave", sa.String(length=16), nullable=False),
        sa.ForeignKeyConstraint(
            ["alert_id"],
            ["emergency_alerts.id"],
            name=op.f("fk_emergency_alert_grids_alert_id_emergency_alerts"),
        ),
        sa.ForeignKeyConstraint(
            ["grid_id"],
            ["emergency_grids.id"],
            name=op.f("fk_emergency_alert_grids_grid_id_emergency_grids"),
        ),
        sa.ForeignKeyConstraint(
            ["region_id"], ["regions.id"], name=op.f("fk_emergency_alert_grids_region_id_regions")
        ),
        sa.PrimaryKeyConstraint("alert_id", "grid_id", name=op.f("pk_emergency_alert_grids")),
    )
    with op.batch_alter_table("emergency_alert_grids", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_emergency_alert_grids_region_id"), ["region_id"], unique=False
        )

    op.create_table(
        "emergency_calls",
        sa.Column("alert_id", sa.Uuid(), nullable=False),
        sa.Column("volunteer_id", sa.Uuid(), nullable=False),
        sa.Column("region_id", sa.Uuid(), nullable=False),
        sa.Column("wave", sa.String(length=16), nullable=False),
        sa.Column("skills", sa.JSON(), nullable=False),
        sa.Column("called_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["alert_id"],
            ["emergency_alerts.id"],
            name=op.f("fk_emergency_calls_alert_id_emergency_alerts"),
        ),
        sa.ForeignKeyConstraint(
            ["region_id"], ["regions.id"], name=op.f("fk_emergency_calls_region_id_regions")
        ),
        sa.ForeignKeyConstraint(
            ["volunteer_id"],
            ["volunteers.id"],
            name=op.f("fk_emergency_calls_volunteer_id_volunteers"),
        ),
        sa.PrimaryKeyConstraint("alert_id", "volunteer_id", name=op.f("pk_emergency_calls")),
    )
    with op.batch_alter_table("emergency_calls", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_emergency_calls_region_id"), ["region_id"], unique=False
        )

    op.create_table(
        "emergency_responses",
        sa.Column("alert_id", sa.Uuid(), nullable=False),
        sa.Column("volunteer_id", sa.Uuid(), nullable=False),
        sa.Column("region_id", sa.Uuid(), nullable=False),
        sa.Column("answer", sa.String(length=16), nullable=False),
        sa.Column("eta_minutes", sa.Integer(), nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("answers", sa.Integer(), nullable=False),
        sa.Column("first_answered_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["alert_id"],
            ["emergency_alerts.id"],
            name=op.f("fk_emergency_responses_alert_id_emergency_alerts"),
        ),
        sa.ForeignKeyConstraint(
            ["region_id"], ["regions.id"], name=op.f("fk_emergency_responses_region_id_regions")
        ),
        sa.ForeignKeyConstraint(
            ["volunteer_id"],
            ["volunteers.id"],
            name=op.f("fk_emergency_responses_volunteer_id_volunteers"),
        ),
        sa.PrimaryKeyConstraint("alert_id", "volunteer_id", name=op.f("pk_emergency_responses")),
    )
    with op.batch_alter_table("emergency_responses", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_emergency_responses_region_id"), ["region_id"], unique=False
        )
        batch_op.create_index("ix_emergency_responses_volunteer_id", ["volunteer_id"], unique=False)

    with op.batch_alter_table("activities", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("drill", sa.Boolean(), server_default=sa.false(), nullable=False)
        )

    if op.get_bind().dialect.name == "postgresql":
        # The application role (0025) reads and inserts every new table by default: grids,
        # enrolments and alerts change, and an answer is written over; the calls, the
        # grids an alert reached and the audit trail are written once.
        op.execute(
            "GRANT UPDATE ON emergency_grids, emergency_enrolments, emergency_alerts,"
            f" emergency_responses TO {APP_ROLE}"
        )


def downgrade() -> None:
    with op.batch_alter_table("activities", schema=None) as batch_op:
        batch_op.drop_column("drill")

    with op.batch_alter_table("emergency_responses", schema=None) as batch_op:
        batch_op.drop_index("ix_emergency_responses_volunteer_id")
        batch_op.drop_index(batch_op.f("ix_emergency_responses_region_id"))

    op.drop_table("emergency_responses")
    with op.batch_alter_table("emergency_calls", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_emergency_calls_region_id"))

    op.drop_table("emergency_calls")
    with op.batch_alter_table("emergency_alert_grids", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_emergency_alert_grids_region_id"))

    op.drop_table("emergency_alert_grids")
    with op.batch_alter_table("emergency_alerts", schema=None) as batch_op:
        batch_op.drop_index("ix_emergency_alerts_status_escalate_at")
        batch_op.drop_index("ix_emergency_alerts_region_id_raised_at")
        batch_op.drop_index(batch_op.f("ix_emergency_alerts_org_unit_id"))

    op.drop_table("emergency_alerts")
    with op.batch_alter_table("emergency_enrolments", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_emergency_enrolments_volunteer_id"))
        batch_op.drop_index(batch_op.f("ix_emergency_enrolments_region_id"))
        batch_op.drop_index("ix_emergency_enrolments_grid_id_status")

    op.drop_table("emergency_enrolments")
    with op.batch_alter_table("emergency_grids", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_emergency_grids_region_id"))

    op.drop_table("emergency_grids")
    with op.batch_alter_table("emergency_audit", schema=None) as batch_op:
        batch_op.drop_index("ix_emergency_audit_subject_id_at")
        batch_op.drop_index(batch_op.f("ix_emergency_audit_region_id"))

    op.drop_table("emergency_audit")
