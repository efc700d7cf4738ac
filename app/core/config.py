"""Settings: one class, read from `LIANGPIAO_*` environment variables (or `.env`)."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

DEV_WECHAT_SECRET = "dev-wechat-secret"  # noqa: S105 - the fake WeChat server's secret
DEV_DATABASE_URL = "sqlite+aiosqlite:///var/liangpiao.db"
# Seals webhook signing secrets at rest in development and tests; prod must set its own.
DEV_WEBHOOK_SECRETS_KEY = "ZGV2LXdlYmhvb2stc2VjcmV0cy1rZXktMzItYnl0ZXM"


class ConfigurationError(RuntimeError):
    """The settings cannot run the service; the message says which and why."""


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="LIANGPIAO_", env_file=".env", extra="ignore", frozen=True
    )

    environment: Literal["dev", "test", "prod"] = "dev"
    database_url: str = DEV_DATABASE_URL
    db_pool_size: int = Field(default=10, ge=1, le=200)
    # Connections of the watchers' own pool (streams polling between requests).
    db_watch_pool_size: int = Field(default=2, ge=1, le=50)
    db_max_overflow: int = Field(default=10, ge=0, le=200)
    db_retry_attempts: int = Field(default=5, ge=1, le=20)
    # PostgreSQL: the role every connection of the service takes at start (`SET ROLE`),
    # e.g. `liangpiao_app`, which migration 0025 creates without UPDATE, DELETE or
    # TRUNCATE on the ledger. Migrations ignore it: they run as the tables' owner.
    database_role: str | None = Field(
        default=None, min_length=1, max_length=63, pattern=r"^[a-z_][a-z0-9_$]*$"
    )
    var_dir: Path = Path("var")

    jwt_private_key: SecretStr | None = None
    jwt_kid: str | None = None
    jwt_issuer: str = "liangpiao"
    jwt_audience: str = "liangpiao-api"
    access_token_ttl_seconds: int = Field(default=900, ge=60, le=3600)
    refresh_token_ttl_seconds: int = Field(default=30 * 86400, ge=3600, le=365 * 86400)
    # However often a login's refresh token rotates, the login ends this long after it began.
    refresh_family_lifetime_seconds: int = Field(default=90 * 86400, ge=3600, le=3650 * 86400)

    # The Ed25519 key that signs the ledger's blocks (app/ledger/signer.py): a PEM
    # secret, a PEM file, or a factory of a KMS-backed signer ("package.module:factory").
    ledger_signing_key: SecretStr | None = None
    ledger_signing_key_file: Path | None = None
    ledger_signer: str | None = None
    # The append-only JSON-lines log of every signed block head (app/ledger/heads.py);
    # default: ledger-heads.jsonl in var_dir.
    ledger_head_log: Path | None = None

    wechat_appid: str = "wxdevappid000000"
    wechat_secret: SecretStr = SecretStr(DEV_WECHAT_SECRET)
    wechat_api_base: str = "http://127.0.0.1:8000/__fake_wechat"
    wechat_timeout_seconds: float = Field(default=5.0, gt=0, le=60)
    mount_fake_wechat: bool = False

    # Staff logins, counted per username and client address: after `login_max_failures`
    # failures each attempt waits `login_delay_seconds`, doubling, at most
    # `login_lockout_seconds`. Another address is not held up.
    login_max_failures: int = Field(default=5, ge=1, le=100)
    login_delay_seconds: int = Field(default=30, ge=1, le=86400)
    login_lockout_seconds: int = Field(default=900, ge=1, le=86400)

    redis_url: str | None = None
    # Rate limits (app/core/ratelimit.py): counters in Redis when redis_url is set, else
    # per process. `rate_limits` overrides the policy table by limit name, e.g.
    # LIANGPIAO_RATE_LIMITS='{"login.ip": "5/minute"}'.
    rate_limits_enabled: bool = True
    rate_limits: dict[str, str] = Field(default_factory=dict)
    run_jobs_in_process: bool = True
    # Outbox delivery: a failing event waits base·2^(n-1) seconds (capped, jittered) after
    # its n-th failure and is dead-lettered after the last attempt, until retried by hand.
    outbox_max_attempts: int = Field(default=10, ge=1, le=100)
    outbox_backoff_base_seconds: float = Field(default=2.0, gt=0, le=3600)
    outbox_backoff_max_seconds: float = Field(default=3600.0, gt=0, le=7 * 86400)
    # Webhooks (app/webhooks): the AES-256-GCM key (32 bytes, base64url) that seals the
    # endpoints' signing secrets in the database; how long a receiver has to answer;
    # the waits between attempts (about three days in all, each drawn 0-20% longer);
    # after how long of failing an endpoint is disabled; and how long a rotated secret
    # keeps signing beside its successor.
    webhook_secrets_key: SecretStr = SecretStr(DEV_WEBHOOK_SECRETS_KEY)
    webhook_timeout_seconds: float = Field(default=10.0, gt=0, le=60)
    webhook_retry_schedule: list[float] = Field(
        default_factory=lambda: [5.0, 300.0, 1800.0, 7200.0, 18000.0] + [36000.0] * 6,
        min_length=1,
        max_length=30,
    )
    webhook_disable_after_seconds: float = Field(default=5 * 86400, gt=0)
    webhook_secret_overlap_seconds: float = Field(default=86400, ge=0, le=30 * 86400)
    # WeChat subscribe messages (app/notifications/wechat): at most this many an hour to
    # one person (emergencies exempt: they neither wait nor count); a send WeChat could not
    # take (busy, rate-limited, unreachable) waits base·2^(n-1) seconds (capped, jittered)
    # after its n-th attempt and is dead after the last; the mini-program version the
    # messages open (developer, trial, formal).
    notification_wechat_per_person_per_hour: int = Field(default=5, ge=1, le=1000)
    notification_wechat_max_attempts: int = Field(default=8, ge=1, le=100)
    notification_wechat_backoff_base_seconds: float = Field(default=30.0, gt=0, le=3600)
    notification_wechat_backoff_max_seconds: float = Field(default=3600.0, gt=0, le=86400)
    notification_wechat_miniprogram_state: Literal["developer", "trial", "formal"] = "formal"
    # The SMS provider of notifications (app/notifications/sms.py): none is configured, and
    # none sends; docs/notifications.md says what adding one takes.
    notification_sms_provider: Literal["none"] = "none"
    # Emergency call-outs (app/emergency): how long each wave of an alert has to answer
    # before the escalation job calls the next, unless the alert sets its own.
    emergency_escalate_after_seconds: int = Field(default=900, ge=60, le=86400)
    max_body_bytes: int = Field(default=256 * 1024, ge=1024)
    cors_origins: list[str] = Field(default_factory=list)
    log_level: str = "INFO"
    # A served process freezes what it built at start-up out of the collector's reach
    # and collects its youngest generation every this many allocations (CPython's
    # default, 700, runs a collection several times per request). 0 leaves both alone.
    gc_gen0_threshold: int = Field(default=10_000, ge=0)

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")

    @model_validator(mode="after")
    def _refuse_postgresql_without_an_environment(self) -> Settings:
        # `dev` is the embedded default; a server database must say what it serves.
        if "environment" not in self.model_fields_set and self.database_url.startswith(
            "postgresql"
        ):
            raise ConfigurationError(
                "LIANGPIAO_DATABASE_URL names a PostgreSQL database but LIANGPIAO_ENVIRONMENT "
                "is not set: set it to prod (or dev, test) to say what this process serves"
            )
        return self

    @model_validator(mode="after")
    def _refuse_a_role_on_sqlite(self) -> Settings:
        if self.database_role is not None and self.is_sqlite:
            raise ConfigurationError(
                "LIANGPIAO_DATABASE_ROLE is set but the database is SQLite, which has no roles"
            )
        return self

    @model_validator(mode="after")
    def _refuse_dev_defaults_in_prod(self) -> Settings:
        if self.environment != "prod":
            return self
        problems = []
        if self.jwt_private_key is None:
            problems.append("LIANGPIAO_JWT_PRIVATE_KEY (an ES256 private key, PEM) is not set")
        if self.jwt_kid is None:
            problems.append("LIANGPIAO_JWT_KID is not set")
        if (
            self.ledger_signing_key is None
            and self.ledger_signing_key_file is None
            and self.ledger_signer is None
        ):
            problems.append(
                "no ledger signing key: set LIANGPIAO_LEDGER_SIGNING_KEY (Ed25519, PEM), "
                "LIANGPIAO_LEDGER_SIGNING_KEY_FILE or LIANGPIAO_LEDGER_SIGNER"
            )
        if self.wechat_secret.get_secret_value() == DEV_WECHAT_SECRET:
            problems.append("LIANGPIAO_WECHAT_SECRET is the development default")
        if self.mount_fake_wechat or "__fake_wechat" in self.wechat_api_base:
            problems.append("the fake WeChat server is configured; set LIANGPIAO_WECHAT_API_BASE")
        if self.webhook_secrets_key.get_secret_value() == DEV_WEBHOOK_SECRETS_KEY:
            problems.append("LIANGPIAO_WEBHOOK_SECRETS_KEY is the development default")
        if problems:
            raise ConfigurationError("refusing to start in prod: " + "; ".join(problems))
        return self


@lru_cache
def get_settings() -> Settings:
    return Settings()
