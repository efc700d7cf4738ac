"""app role: the service runs without UPDATE, DELETE or TRUNCATE on the ledger

On PostgreSQL, the NOLOGIN group role `liangpiao_app` holds what the running service
needs and nothing more: it reads and inserts every table, updates only the tables
whose rows the service moves (on the ledger's accounts and lots only their cached
balances), deletes only what the service purges, and truncates nothing. It owns
nothing, so it cannot disable, drop or replace a trigger either: the append-only
guards hold even against the service's own credentials. Production migrates as the
tables' owner and runs the service as a LOGIN user that is a member of this role
(README, "Production on PostgreSQL").

Default privileges give it SELECT and INSERT on the owner's later tables and USAGE on
their sequences; a later migration that adds a table still grants explicitly, and
only it may grant UPDATE or DELETE (docs/architecture.md, "The application's role").

Roles belong to the cluster, not to one database: the role is created only when
missing (several databases, a test run's each, may share it), and a downgrade revokes
what this database granted and drops the role only when no member and no other
database still needs it. SQLite has no roles: there this is a no-op.

Revision ID: 0025
Revises: 0024
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0025"
down_revision: str | None = "0024"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ROLE = "liangpiao_app"

# Every other table: SELECT and INSERT only. These are the ledger's facts and evidence
# (append-only by the triggers of 0006, 0009 and 0020), the hours audit (0021), and
# the rows the service writes once and never changes: check-in refusals, refunds,
# settlements, outbox retries, idempotency records, denied tokens, terminal nonces.

# Tables whose rows the service changes after writing them. The kept records among
# them (hours, corrections, grants, pairings, adjustments) are updated but never
# deleted; their triggers (0017, 0021) bound which changes.
UPDATED = (
    "activities",
    "activity_policies",
    "adjustment_tallies",
    "adjustments",
    "attendances",
    "hours_corrections",
    "hours_records",
    "login_throttles",
    "merchant_members",
    "merchant_policies",
    "merchant_stations",
    "merchants",
    "offer_reservations",
    "offer_usages",
    "offers",
    "offline_code_keys",
    "org_units",
    "outbox_events",
    "projects",
    "redemption_codes",
    "redemptions",
    "refresh_tokens",
    "regions",
    "reward_policies",
    "signups",
    "staff_grants",
    "staff_users",
    "star_thresholds",
    "teams",
    "terminals",
    "volunteers",
    "wechat_access_tokens",
)

# Ledger tables of which only some columns move: the cached balances of accounts and
# lots (0006 refuses any other UPDATE), the seal cursor, and an issuance's outcome
# (what it was granted, issued and clawed back) but never which hours it was for.
UPDATED_COLUMNS = {
    "ledger_accounts": ("posted", "pending"),
    "ledger_lots": ("remaining", "reserved"),
    "ledger_seal_states": ("sealed_through_seq", "swept_at"),
    "reward_issuances": (
        "superseded_by_id",
        "granted",
        "reasons",
        "issued",
        "transaction_id",
        "clawed_back",
        "shortfall",
    ),
}

# Tables the service purges of expired rows.
DELETED = (
    "idempotency_keys",
    "login_throttles",
    "redemption_codes",
    "revoked_access_tokens",
    "terminal_nonces",
)

# Read by `python -m app` to tell whether the schema is current; written by migrations.
READ_ONLY = ("alembic_version",)


def _create_role() -> str:
    return f"""
    DO $$
    BEGIN
        IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '{ROLE}') THEN
            BEGIN
                CREATE ROLE {ROLE} NOLOGIN;
            EXCEPTION
                -- Another database's migration created it a moment ago.
                WHEN duplicate_object OR unique_violation THEN NULL;
            END;
        END IF;
        IF EXISTS (
            SELECT FROM pg_roles
            WHERE rolname = '{ROLE}' AND (rolsuper OR rolbypassrls OR rolcreaterole)
        ) THEN
            RAISE EXCEPTION 'role {ROLE} exists with more than an application needs'
                USING HINT = 'ALTER ROLE {ROLE} NOSUPERUSER NOBYPASSRLS NOCREATEROLE';
        END IF;
        EXECUTE format('GRANT CONNECT ON DATABASE %I TO {ROLE}', current_database());
    END
    $$
    """  # noqa: S608 - the role's name is this module's constant


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute(_create_role())
    op.execute(f"GRANT USAGE ON SCHEMA public TO {ROLE}")
    op.execute(f"GRANT SELECT, INSERT ON ALL TABLES IN SCHEMA public TO {ROLE}")
    # nextval for the ledger's serial keys; no SELECT or UPDATE (setval).
    op.execute(f"GRANT USAGE ON ALL SEQUENCES IN SCHEMA public TO {ROLE}")
    op.execute(f"GRANT UPDATE ON {', '.join(UPDATED)} TO {ROLE}")
    for table, columns in UPDATED_COLUMNS.items():
        op.execute(f"GRANT UPDATE ({', '.join(columns)}) ON {table} TO {ROLE}")
    op.execute(f"GRANT DELETE ON {', '.join(DELETED)} TO {ROLE}")
    op.execute(f"REVOKE INSERT ON {', '.join(READ_ONLY)} FROM {ROLE}")
    # Tables and sequences the migrating role creates later: read and insert only.
    op.execute(
        f"ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT SELECT, INSERT ON TABLES TO {ROLE}"
    )
    op.execute(f"ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT USAGE ON SEQUENCES TO {ROLE}")


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute(
        f"""
        DO $$
        BEGIN
            IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '{ROLE}') THEN
                RETURN;
            END IF;
            ALTER DEFAULT PRIVILEGES IN SCHEMA public REVOKE ALL ON TABLES FROM {ROLE};
            ALTER DEFAULT PRIVILEGES IN SCHEMA public REVOKE ALL ON SEQUENCES FROM {ROLE};
            -- Column privileges go with the table's.
            REVOKE ALL ON ALL TABLES IN SCHEMA public FROM {ROLE};
            REVOKE ALL ON ALL SEQUENCES IN SCHEMA public FROM {ROLE};
            REVOKE ALL ON SCHEMA public FROM {ROLE};
            EXECUTE format('REVOKE ALL ON DATABASE %I FROM {ROLE}', current_database());
            -- A member is a login that production runs under: dropping the role would
            -- silently strip it; another database's grants make DROP ROLE fail.
            IF EXISTS (
                SELECT FROM pg_auth_members m JOIN pg_roles r ON r.oid = m.roleid
                WHERE r.rolname = '{ROLE}'
            ) THEN
                RAISE NOTICE 'role {ROLE} kept: it has members';
                RETURN;
            END IF;
            BEGIN
                DROP ROLE {ROLE};
            EXCEPTION
                WHEN dependent_objects_still_exist THEN
                    RAISE NOTICE 'role {ROLE} kept: another database still grants it privileges';
                WHEN insufficient_privilege THEN
                    RAISE NOTICE 'role {ROLE} kept: dropping it needs CREATEROLE';
            END;
        END
        $$
        """  # noqa: S608 - the role's name is this module's constant
    )
