"""Settings: production refuses development defaults; development keeps one signing key."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import SecretStr

from app.core.config import ConfigurationError, Settings
from app.core.security import KeyRing, generate_private_key_pem
from app.ledger import signer as ledger_signer


def test_prod_refuses_to_start_with_dev_defaults() -> None:
    with pytest.raises(ConfigurationError) as refused:
        Settings(environment="prod", _env_file=None)  # type: ignore[call-arg]
    message = str(refused.value)
    assert "refusing to start in prod" in message
    assert "LIANGPIAO_JWT_PRIVATE_KEY" in message
    assert "LIANGPIAO_WECHAT_SECRET" in message
    assert "LIANGPIAO_LEDGER_SIGNING_KEY" in message
    assert "LIANGPIAO_WEBHOOK_SECRETS_KEY" in message


def test_prod_starts_with_real_keys() -> None:
    settings = Settings(
        _env_file=None,  # type: ignore[call-arg]
        environment="prod",
        jwt_private_key=SecretStr(generate_private_key_pem()),
        jwt_kid="2026-11",
        ledger_signing_key=SecretStr(ledger_signer.generate_private_key_pem().decode()),
        wechat_secret=SecretStr("a-real-secret"),
        wechat_api_base="https://api.weixin.qq.com",
        webhook_secrets_key=SecretStr("cHJvZC13ZWJob29rLXNlY3JldHMta2V5LTMyLWJ5dGU"),
    )
    assert KeyRing(settings).kid == "2026-11"


def test_dev_generates_a_signing_key_once_and_keeps_it(tmp_path: Path) -> None:
    settings = Settings(_env_file=None, environment="dev", var_dir=tmp_path)  # type: ignore[call-arg]
    first = KeyRing(settings)
    second = KeyRing(settings)
    assert (tmp_path / "jwt-es256.pem").exists()
    assert (tmp_path / "jwt-es256.pem").stat().st_mode & 0o077 == 0
    assert first.kid == second.kid
    token, _ = first.issue(sub="x", typ="volunteer", region_id=None)
    assert second.verify(token).sub == "x"


def test_a_database_role_needs_postgresql() -> None:
    with pytest.raises(ConfigurationError, match="LIANGPIAO_DATABASE_ROLE"):
        Settings(_env_file=None, database_role="liangpiao_app")  # type: ignore[call-arg]


@pytest.mark.parametrize("role", ["", "app; DROP TABLE x", "App", "x" * 64])
def test_a_database_role_is_a_plain_lowercase_name(role: str) -> None:
    with pytest.raises(ValueError, match="database_role"):
        Settings(
            _env_file=None,  # type: ignore[call-arg]
            environment="test",
            database_url="postgresql+asyncpg://liangpiao@db.example/liangpiao",
            database_role=role,
        )
