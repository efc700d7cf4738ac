"""activities: projects, activities, sign-ups, attendances, check-in refusals, policies

Revision ID: 0004
Revises: 0003
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "activity_policies",
        sa.Column("region_id", sa.Uuid(), nullable=False),
        sa.Column("checkin_opens_before_min", sa.Integer(), nullable=False),
        sa.Column("checkout_closes_after_min", sa.Integer(), nullable=False),
        sa.Column("daily_cap_minutes", sa.Integer(), nullable=False),
        sa.Column("impossible_travel_km", sa.Integer(), nullable=False),
        sa.Column("shared_coordinates_threshold", sa.Integer(), nullable=False),
        sa.Column("personal_code_secret", sa.LargeBinary(length=32), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["region_id"], ["regions.id"], name=op.f("fk_activity_policies_region_id_regions")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_activity_policies")),
        sa.UniqueConstraint("region_id", name=op.f("uq_activity_policies_region_id")),
    )
    op.create_table(
        "projects",
        sa.Column("region_id", sa.Uuid(), nullable=False),
        sa.Column("org_unit_id", sa.Uuid(), nullable=False),
        sa.Column("team_id", sa.Uuid(), nullable=True),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("description", sa.String(length=4000), nullable=False),
        sa.Column("category", sa.String(length=16), nullable=False),
        sa.Column("created_by", sa.Uuid(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["created_by"], ["staff_users.id"], name=op.f("fk_projects_created_by_staff_users")
        ),
        sa.ForeignKeyConstraint(
            ["org_unit_id"], ["org_units.id"], name=op.f("fk_projects_org_unit_id_org_units")
        ),
        sa.ForeignKeyConstraint(
            ["region_id"], ["regions.id"], name=op.f("fk_projects_region_id_regions")
        ),
        sa.ForeignKeyConstraint(["team_id"], ["teams.id"], name=op.f("fk_projects_team_id_teams")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_projects")),
    )
    with op.batch_alter_table("projects", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_projects_org_unit_id"), ["org_unit_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_projects_region_id"), ["region_id"], unique=False)

    op.create_table(
        "activities",
        sa.Column("region_id", sa.Uuid(), nullable=False),
        sa.Column("org_unit_id", sa.Uuid(), nullable=False),
        sa.Column("team_id", sa.Uuid(), nullable=True),
        sa.Column("project_id", sa.Uuid(), nullable=True),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("description", sa.String(length=4000), nullable=False),
        sa.Column("category", sa.String(length=16), nullable=False),
        sa.Column("starts_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ends_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("latitude", sa.Double(), nullable=False),
        sa.Column("longitude", sa.Double(), nullable=False),
        sa.Column("address", sa.String(length=200), nullable=False),
        sa.Column("radius_m", sa.Integer(), nullable=False),
        sa.Column("capacity", sa.Integer(), nullable=False),
        sa.Column("signed_up", sa.Integer(), nullable=False),
        sa.Column("signup_opens_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("signup_closes_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("walk_ins_allowed", sa.Boolean(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("rounding_mode", sa.String(length=16), nullable=False),
        sa.Column("cap_minutes", sa.Integer(), nullable=True),
        sa.Column("checkin_secret", sa.LargeBinary(length=32), nullable=False),
        sa.Column("created_by", sa.Uuid(), nullable=False),
        sa.Column("published_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("cancelled_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("cancel_reason", sa.String(length=500), nullable=True),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("ends_at > starts_at", name=op.f("ck_activities_ends_after_start")),
        sa.CheckConstraint(
            "signed_up >= 0 AND signed_up <= capacity",
            name=op.f("ck_activities_signed_up_in_capacity"),
        ),
        sa.ForeignKeyConstraint(
            ["created_by"], ["staff_users.id"], name=op.f("fk_activities_created_by_staff_users")
        ),
        sa.ForeignKeyConstraint(
            ["org_unit_id"], ["org_units.id"], name=op.f("fk_activities_org_unit_id_org_units")
        ),
        sa.ForeignKeyConstraint(
            ["project_id"], ["projects.id"], name=op.f("fk_activities_project_id_projects")
        ),
        sa.ForeignKeyConstraint(
            ["region_id"], ["regions.id"], name=op.f("fk_activities_region_id_regions")
        ),
        sa.ForeignKeyConstraint(
            ["team_id"], ["teams.id"], name=op.f("fk_activities_team_id_teams")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_activities")),
    )
    with op.batch_alter_table("activities", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_activities_org_unit_id"), ["org_unit_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_activities_project_id"), ["project_id"], unique=False)
        batch_op.create_index(
            "ix_activities_region_id_status_starts_at",
            ["region_id", "status", "starts_at"],
            unique=False,
        )
        batch_op.create_index("ix_activities_status_ends_at", ["status", "ends_at"], unique=False)

    op.create_table(
        "attendances",
        sa.Column("region_id", sa.Uuid(), nullable=False),
        sa.Column("activity_id", sa.Uuid(), nullable=False),
        sa.Column("volunteer_id", sa.Uuid(), nullable=False),
        sa.Column("checked_in_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("checked_out_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("checkin_latitude", sa.Double(), nullable=True),
        sa.Column("checkin_longitude", sa.Double(), nullable=True),
        sa.Column("checkin_accuracy", sa.Double(), nullable=True),
        sa.Column("checkout_latitude", sa.Double(), nullable=True),
        sa.Column("checkout_longitude", sa.Double(), nullable=True),
        sa.Column("checkout_accuracy", sa.Double(), nullable=True),
        sa.Column("method", sa.String(length=16), nullable=False),
        sa.Column("checkout_method", sa.String(length=16), nullable=True),
        sa.Column("scanned_by", sa.Uuid(), nullable=True),
        sa.Column("flags", sa.JSON(), nullable=False),
        sa.Column("credited_minutes", sa.Integer(), nullable=True),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["activity_id"], ["activities.id"], name=op.f("fk_attendances_activity_id_activities")
        ),
        sa.ForeignKeyConstraint(
            ["region_id"], ["regions.id"], name=op.f("fk_attendances_region_id_regions")
        ),
        sa.ForeignKeyConstraint(
            ["scanned_by"], ["staff_users.id"], name=op.f("fk_attendances_scanned_by_staff_users")
        ),
        sa.ForeignKeyConstraint(
            ["volunteer_id"], ["volunteers.id"], name=op.f("fk_attendances_volunteer_id_volunteers")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_attendances")),
        sa.UniqueConstraint(
            "activity_id", "volunteer_id", name=op.f("uq_attendances_activity_id_volunteer_id")
        ),
    )
    with op.batch_alter_table("attendances", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_attendances_region_id"), ["region_id"], unique=False)
        batch_op.create_index(
            "ix_attendances_activity_id_checkin_position",
            ["activity_id", "checkin_latitude", "checkin_longitude"],
            unique=False,
        )
        batch_op.create_index(
            "ix_attendances_volunteer_id_checked_in_at",
            ["volunteer_id", "checked_in_at"],
            unique=False,
        )

    op.create_table(
        "checkin_refusals",
        sa.Column("region_id", sa.Uuid(), nullable=False),
        sa.Column("activity_id", sa.Uuid(), nullable=False),
        sa.Column("volunteer_id", sa.Uuid(), nullable=False),
        sa.Column("reason", sa.String(length=32), nullable=False),
        sa.Column("latitude", sa.Double(), nullable=True),
        sa.Column("longitude", sa.Double(), nullable=True),
        sa.Column("accuracy", sa.Double(), nullable=True),
        sa.Column("detail", sa.JSON(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["activity_id"],
            ["activities.id"],
            name=op.f("fk_checkin_refusals_activity_id_activities"),
        ),
        sa.ForeignKeyConstraint(
            ["region_id"], ["regions.id"], name=op.f("fk_checkin_refusals_region_id_regions")
        ),
        sa.ForeignKeyConstraint(
            ["volunteer_id"],
            ["volunteers.id"],
            name=op.f("fk_checkin_refusals_volunteer_id_volunteers"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_checkin_refusals")),
    )
    with op.batch_alter_table("checkin_refusals", schema=None) as batch_op:
        batch_op.create_index(
            "ix_checkin_refusals_activity_id_at", ["activity_id", "at"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_checkin_refusals_region_id"), ["region_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_checkin_refusals_volunteer_id"), ["volunteer_id"], unique=False
        )

    op.create_table(
        "signups",
        sa.Column("region_id", sa.Uuid(), nullable=False),
        sa.Column("activity_id", sa.Uuid(), nullable=False),
        sa.Column("volunteer_id", sa.Uuid(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("walk_in", sa.Boolean(), nullable=False),
        sa.Column("signed_up_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("cancelled_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["activity_id"], ["activities.id"], name=op.f("fk_signups_activity_id_activities")
        ),
        sa.ForeignKeyConstraint(
            ["region_id"], ["regions.id"], name=op.f("fk_signups_region_id_regions")
        ),
        sa.ForeignKeyConstraint(
            ["volunteer_id"], ["volunteers.id"], name=op.f("fk_signups_volunteer_id_volunteers")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_signups")),
        sa.UniqueConstraint(
            "activity_id", "volunteer_id", name=op.f("uq_signups_activity_id_volunteer_id")
        ),
    )
    with op.batch_alter_table("signups", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_signups_region_id"), ["region_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_signups_volunteer_id"), ["volunteer_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("signups", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_signups_volunteer_id"))
        batch_op.drop_index(batch_op.f("ix_signups_region_id"))

    op.drop_table("signups")
    with op.batch_alter_table("checkin_refusals", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_checkin_refusals_volunteer_id"))
        batch_op.drop_index(batch_op.f("ix_checkin_refusals_region_id"))
        batch_op.drop_index("ix_checkin_refusals_activity_id_at")

    op.drop_table("checkin_refusals")
    with op.batch_alter_table("attendances", schema=None) as batch_op:
        batch_op.drop_index("ix_attendances_volunteer_id_checked_in_at")
        batch_op.drop_index("ix_attendances_activity_id_checkin_position")
        batch_op.drop_index(batch_op.f("ix_attendances_region_id"))

    op.drop_table("attendances")
    with op.batch_alter_table("activities", schema=None) as batch_op:
        batch_op.drop_index("ix_activities_status_ends_at")
        batch_op.drop_index("ix_activities_region_id_status_starts_at")
        batch_op.drop_index(batch_op.f("ix_activities_project_id"))
        batch_op.drop_index(batch_op.f("ix_activities_org_unit_id"))

    op.drop_table("activities")
    with op.batch_alter_table("projects", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_projects_region_id"))
        batch_op.drop_index(batch_op.f("ix_projects_org_unit_id"))

    op.drop_table("projects")
    op.drop_table("activity_policies")
