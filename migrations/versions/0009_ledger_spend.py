"""ledger: a spend on PostgreSQL as one function call, the debit and the write together

`ledger_spend` debits the volunteer's wallet if its available balance covers the amount
(the statement that takes the wallet's row lock) and then, in a statement of its own
and so with a snapshot that sees every lot change made before the lock was granted,
draws the wallet's unexpired lots oldest expiry first (the rule of
`app.ledger.repository._DRAWS_SQL`), and, when they cover the amount, writes the
transaction, its postings, the lot entries and lot changes, and the credit, last.
It returns nothing when the wallet cannot cover the amount; otherwise the wallet, its
available balance after the debit, the transaction's seq (NULL: nothing written, as
the unexpired lots cover only `o_live`) and whether the credited account took it.

Revision ID: 0009
Revises: 0008
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

LEDGER_SPEND = """
CREATE FUNCTION ledger_spend(p_region uuid, p_owner uuid, p_amount bigint, p_to uuid,
    p_id uuid, p_kind text, p_reference_type text, p_reference_id text, p_actor text,
    p_metadata json, p_now timestamptz)
RETURNS TABLE(o_wallet uuid, o_avail bigint, o_seq bigint, o_credited bigint, o_live numeric)
LANGUAGE plpgsql AS $fn$
#variable_conflict use_column
DECLARE w uuid; avail bigint;
BEGIN
  UPDATE ledger_accounts SET posted = posted - p_amount
   WHERE region_id = p_region AND kind = 'wallet' AND owner_id = p_owner
     AND posted - pending >= p_amount
   RETURNING id, posted - pending INTO w, avail;
  IF w IS NULL THEN RETURN; END IF;
  RETURN QUERY
  WITH draws AS (
    SELECT lot_id,
        CASE WHEN free < p_amount - before THEN free ELSE p_amount - before END AS take
    FROM (
        SELECT id AS lot_id, remaining - reserved AS free,
            CAST(COALESCE(SUM(remaining - reserved) OVER (
                ORDER BY expires_at, created_at, id
                ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING), 0) AS BIGINT) AS before
        FROM ledger_lots
        WHERE region_id = p_region AND account_id = w
            AND remaining > reserved AND expires_at > p_now
    ) AS live
    WHERE before < p_amount
  ), covered AS (
      SELECT COALESCE(SUM(take), 0) AS live FROM draws
  ), tx AS (
      INSERT INTO ledger_transactions
          (id, region_id, kind, reference_type, reference_id, actor, metadata, created_at)
      SELECT p_id, p_region, p_kind, p_reference_type, p_reference_id, p_actor, p_metadata, p_now
      FROM covered WHERE covered.live = p_amount
      RETURNING ledger_transactions.seq
  ), postings AS (
      INSERT INTO ledger_postings (region_id, transaction_id, account_id, amount)
      SELECT p_region, p_id, p.a, p.m
      FROM unnest(ARRAY[w, p_to], ARRAY[-p_amount, p_amount]) AS p(a, m), covered
      WHERE covered.live = p_amount
  ), entries AS (
      INSERT INTO ledger_lot_entries (region_id, lot_id, transaction_id, kind, amount)
      SELECT p_region, d.lot_id, p_id, 'draw', -d.take
      FROM draws AS d, covered WHERE covered.live = p_amount
  ), drawn AS (
      UPDATE ledger_lots SET remaining = ledger_lots.remaining - d.take
      FROM draws AS d, covered
      WHERE ledger_lots.id = d.lot_id AND covered.live = p_amount
  ), credited AS (
      UPDATE ledger_accounts SET posted = posted + p_amount
      WHERE id = p_to AND region_id = p_region
          AND kind <> 'wallet' AND (SELECT live FROM covered) = p_amount
      RETURNING id
  )
  SELECT w, avail, (SELECT tx.seq FROM tx), (SELECT count(*) FROM credited), (SELECT covered.live FROM covered);
END $fn$;
"""


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(LEDGER_SPEND)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            "DROP FUNCTION ledger_spend(uuid, uuid, bigint, uuid, uuid, text, text, text, text, "
            "json, timestamptz)"
        )
