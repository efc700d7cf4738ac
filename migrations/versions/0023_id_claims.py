"""id claims: a volunteer's ID number is a claim until staff verify it

Until now an ID number was unique in its region from the moment a volunteer typed
it, so `PATCH /v1/me` answered 409 for a number someone else had typed: anyone could
ask whether a citizen's ID number is registered. Now a typed number is a claim;
staff who see the document verify it (`id_verified_at`, `id_verified_by`), and only
verified numbers are unique in the region (a partial unique index).

Downgrading restores the old unique constraint, which unverified claims may break:
a claim that repeats a number someone else holds (verified first, then the oldest
claim) is cleared first, as the old rule would have refused it.

Revision ID: 0023
Revises: 0019
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0023"
down_revision: str | None = "0019"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

OLD_UNIQUE = "uq_volunteers_region_id_id_number"
VERIFIED_UNIQUE = "uq_volunteers_verified_id_number"
VERIFIED = "id_verified_at IS NOT NULL"
WHOLE = "ck_volunteers_id_verification_whole"


def upgrade() -> None:
    with op.batch_alter_table("volunteers") as batch_op:
        batch_op.add_column(sa.Column("id_verified_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("id_verified_by", sa.Uuid(), nullable=True))
        batch_op.create_foreign_key(
            "fk_volunteers_id_verified_by_staff_users", "staff_users", ["id_verified_by"], ["id"]
        )
        batch_op.create_check_constraint(
            op.f(WHOLE),
            "(id_verified_at IS NULL AND id_verified_by IS NULL)"
            " OR (id_verified_at IS NOT NULL AND id_verified_by IS NOT NULL"
            " AND id_number IS NOT NULL)",
        )
        batch_op.drop_constraint(OLD_UNIQUE, type_="unique")
        batch_op.create_index(
            VERIFIED_UNIQUE,
            ["region_id", "id_number"],
            unique=True,
            postgresql_where=sa.text(VERIFIED),
            sqlite_where=sa.text(VERIFIED),
        )


def downgrade() -> None:
    # Keep, per region and number, the verified holder or else the oldest claim.
    op.execute(
        "UPDATE volunteers SET id_type = NULL, id_number = NULL, "
        "id_verified_at = NULL, id_verified_by = NULL "
        "WHERE id_number IS NOT NULL AND EXISTS ("
        "SELECT 1 FROM volunteers AS kept "
        "WHERE kept.region_id = volunteers.region_id "
        "AND kept.id_number = volunteers.id_number "
        "AND kept.id <> volunteers.id "
        "AND (kept.id_verified_at IS NOT NULL OR (volunteers.id_verified_at IS NULL AND "
        "(kept.created_at < volunteers.created_at "
        "OR (kept.created_at = volunteers.created_at AND kept.id < volunteers.id)))))"
    )
    with op.batch_alter_table("volunteers") as batch_op:
        batch_op.drop_index(VERIFIED_UNIQUE)
        batch_op.create_unique_constraint(OLD_UNIQUE, ["region_id", "id_number"])
        batch_op.drop_constraint(op.f(WHOLE), type_="check")
        batch_op.drop_constraint("fk_volunteers_id_verified_by_staff_users", type_="foreignkey")
        batch_op.drop_column("id_verified_by")
        batch_op.drop_column("id_verified_at")
