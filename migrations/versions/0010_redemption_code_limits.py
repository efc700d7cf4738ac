"""redemption codes: a volunteer's limits on what a code may pay

A terminal chooses the amount it redeems, so the volunteer bounds a code when
making it: online codes carry a maximum amount and an offer, the offline key a
maximum for every offline code. Receipts stop carrying the volunteer's balance,
and refusals already stored lose what they told a terminal about the volunteer.

Revision ID: 0010
Revises: 0009
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# What a terminal is told now, for refusals stored with the balance or star level in them.
_SCRUBBED = {
    "insufficient_balance": "The volunteer's 良票 are not enough for this redemption",
    "star_level_too_low": "The offer needs a higher star level than the volunteer has",
}


def upgrade() -> None:
    with op.batch_alter_table("redemption_codes", schema=None) as batch_op:
        batch_op.add_column(sa.Column("max_amount", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("offer_id", sa.Uuid(), nullable=True))
        batch_op.create_foreign_key(
            batch_op.f("fk_redemption_codes_offer_id_offers"), "offers", ["offer_id"], ["id"]
        )
    with op.batch_alter_table("offline_code_keys", schema=None) as batch_op:
        batch_op.add_column(sa.Column("max_amount", sa.Integer(), nullable=True))
    with op.batch_alter_table("redemptions", schema=None) as batch_op:
        batch_op.drop_column("balance_after")
    redemptions = sa.table(
        "redemptions", sa.column("refusal_code", sa.String), sa.column("refusal_detail", sa.String)
    )
    for code, detail in _SCRUBBED.items():
        op.execute(
            redemptions.update()
            .where(redemptions.c.refusal_code == code)
            .values(refusal_detail=detail)
        )


def downgrade() -> None:
    # The scrubbed details and the dropped balances are not restored: they are gone.
    with op.batch_alter_table("redemptions", schema=None) as batch_op:
        batch_op.add_column(sa.Column("balance_after", sa.Integer(), nullable=True))
    with op.batch_alter_table("offline_code_keys", schema=None) as batch_op:
        batch_op.drop_column("max_amount")
    with op.batch_alter_table("redemption_codes", schema=None) as batch_op:
        batch_op.drop_constraint(
            batch_op.f("fk_redemption_codes_offer_id_offers"), type_="foreignkey"
        )
        batch_op.drop_column("offer_id")
        batch_op.drop_column("max_amount")
