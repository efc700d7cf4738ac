"""The ledger's signing key comes from outside the database: a secret, a file, a KMS-shaped
factory, or in development a key generated once under the var directory."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from pydantic import SecretStr
from sqlalchemy import select

from app.core.config import ConfigurationError, Settings
from app.ledger import sealing
from app.ledger.sealing import Block, SigningKey
from app.ledger.signer import (
    DEV_KEY_FILE,
    Ed25519Signer,
    LedgerSigner,
    generate_private_key_pem,
    load_signer,
)
from app.ledger.standalone_verify import key_thumbprint, signature_valid
from tests.ledger.evidence_support import tamper
from tests.ledger.sealing_support import issue, seal


def _settings(tmp_path: Path, **values: Any) -> Settings:
    return Settings(_env_file=None, var_dir=tmp_path, **values)  # type: ignore[call-arg]


def test_dev_generates_one_key_under_var_and_keeps_it(tmp_path: Path) -> None:
    first = load_signer(_settings(tmp_path, environment="dev"))
    second = load_signer(_settings(tmp_path, environment="dev"))
    path = tmp_path / DEV_KEY_FILE
    assert path.stat().st_mode & 0o077 == 0
    assert first.public_key == second.public_key
    assert first.key_id == key_thumbprint(first.public_key)


async def test_a_secret_and_a_file_give_the_same_key(tmp_path: Path) -> None:
    pem = generate_private_key_pem()
    (tmp_path / "ledger.pem").write_bytes(pem)
    from_secret = load_signer(_settings(tmp_path, ledger_signing_key=SecretStr(pem.decode())))
    from_file = load_signer(_settings(tmp_path, ledger_signing_key_file=tmp_path / "ledger.pem"))
    assert from_secret.public_key == from_file.public_key
    signature = await from_file.sign(b"header")
    assert signature_valid(
        sealing.b64url(from_secret.public_key), sealing.b64url(signature), b"header"
    )
    assert not (tmp_path / DEV_KEY_FILE).exists()


def test_prod_without_a_key_and_a_wrong_key_are_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="no ledger signing key"):
        load_signer(
            _settings(tmp_path, environment="test").model_copy(update={"environment": "prod"})
        )
    with pytest.raises(ConfigurationError, match="not a PEM private key"):
        load_signer(_settings(tmp_path, ledger_signing_key=SecretStr("not a key")))
    with pytest.raises(ConfigurationError, match="cannot read"):
        load_signer(_settings(tmp_path, ledger_signing_key_file=tmp_path / "missing.pem"))
    with pytest.raises(ConfigurationError, match="cannot load"):
        load_signer(_settings(tmp_path, ledger_signer="tests.ledger.test_signer:nothing"))


class RemoteSigner:
    """What a KMS client looks like to the sealer: it signs, it never hands out the key."""

    def __init__(self) -> None:
        self._inner = Ed25519Signer(Ed25519PrivateKey.generate())
        self.calls = 0

    @property
    def key_id(self) -> str:
        return self._inner.key_id

    @property
    def public_key(self) -> bytes:
        return self._inner.public_key

    async def sign(self, message: bytes) -> bytes:
        self.calls += 1
        return await self._inner.sign(message)


REMOTE = RemoteSigner()


def remote_signer(settings: Settings) -> LedgerSigner:
    return REMOTE


async def test_a_kms_shaped_signer_plugs_in_and_signs_the_blocks(app: Any, world: Any) -> None:
    settings = app.state.settings.model_copy(
        update={"ledger_signer": "tests.ledger.test_signer:remote_signer"}
    )
    signer = load_signer(settings)
    assert signer is REMOTE
    await issue(app, region_id=world.region.id, volunteer_id=world.volunteer_a.id, amount=5)
    async with app.state.db.sessions() as session, session.begin():
        block = await sealing.seal_block(session, region_id=world.region.id, signer=signer)
    assert block is not None
    assert REMOTE.calls == 1
    assert block.kid == REMOTE.key_id
    async with app.state.db.sessions() as session:
        [key] = (await session.scalars(select(SigningKey))).all()
    assert key.public_key == sealing.b64url(REMOTE.public_key)


async def test_a_new_key_is_a_new_generation_and_old_blocks_still_verify(
    app: Any, world: Any
) -> None:
    await issue(app, region_id=world.region.id, volunteer_id=world.volunteer_a.id, amount=5)
    await seal(app)
    await issue(app, region_id=world.region.id, volunteer_id=world.volunteer_a.id, amount=6)
    async with app.state.db.sessions() as session, session.begin():
        await sealing.seal_block(session, region_id=world.region.id, signer=REMOTE)

    async with app.state.db.sessions() as session:
        keys = (await session.scalars(select(SigningKey).order_by(SigningKey.generation))).all()
        kids = [b.kid for b in await session.scalars(select(Block).order_by(Block.height))]
        assert await sealing.verify_blocks(session) == []
    assert [k.generation for k in keys] == [1, 2]
    assert kids == [keys[0].kid, REMOTE.key_id]


@pytest.mark.database_owner
async def test_the_sealer_refuses_when_the_database_holds_another_key_under_its_kid(
    app: Any, world: Any
) -> None:
    await issue(app, region_id=world.region.id, volunteer_id=world.volunteer_a.id, amount=5)
    await seal(app)
    forged = Ed25519PrivateKey.generate().public_key().public_bytes_raw()
    keys = SigningKey.__table__
    await tamper(app, keys.update().values(public_key=sealing.b64url(forged)))
    await issue(app, region_id=world.region.id, volunteer_id=world.volunteer_a.id, amount=6)

    with pytest.raises(sealing.SignerKeyMismatch):
        await seal(app)
    async with app.state.db.sessions() as session:
        assert len((await session.scalars(select(Block))).all()) == 1
