"""The key that signs the ledger's blocks, held outside the database.

The sealer only needs three things of it: its key id, its public key, and a
signature over a block header. `LedgerSigner` is that shape, so a KMS (or an HSM)
can stand in for the key file: `LIANGPIAO_LEDGER_SIGNER=package.module:factory`
names a callable that takes the settings and returns one.

Without a factory the key is an Ed25519 private key in PEM (PKCS#8): the value of
`LIANGPIAO_LEDGER_SIGNING_KEY` (an environment secret), or the file named by
`LIANGPIAO_LEDGER_SIGNING_KEY_FILE`; outside production, with neither, one is
generated once under the var directory. The database only ever sees the public
key (`ledger_signing_keys`), so whoever holds the database's credentials cannot
sign a block.
"""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import Protocol, runtime_checkable

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from app.core.config import ConfigurationError, Settings
from app.ledger.standalone_verify import key_thumbprint

DEV_KEY_FILE = "ledger-ed25519.pem"


@runtime_checkable
class LedgerSigner(Protocol):
    """An Ed25519 signing key the service may use but not read."""

    @property
    def key_id(self) -> str:
        """The key's RFC 7638 thumbprint (blocks name it as `kid`)."""
        ...

    @property
    def public_key(self) -> bytes:
        """The raw 32-byte Ed25519 public key."""
        ...

    async def sign(self, message: bytes) -> bytes:
        """The raw 64-byte Ed25519 signature of `message`."""
        ...


class Ed25519Signer:
    """A signer over a private key this process holds (from a file or a secret)."""

    def __init__(self, private: Ed25519PrivateKey) -> None:
        self._private = private
        self._public = private.public_key().public_bytes_raw()
        self._kid = key_thumbprint(self._public)

    @classmethod
    def from_pem(cls, pem: bytes) -> Ed25519Signer:
        try:
            key = serialization.load_pem_private_key(pem, password=None)
        except (ValueError, TypeError) as exc:
            raise ConfigurationError(
                "the ledger signing key is not a PEM private key without a password"
            ) from exc
        if not isinstance(key, Ed25519PrivateKey):
            raise ConfigurationError("the ledger signing key must be an Ed25519 private key")
        return cls(key)

    @property
    def key_id(self) -> str:
        return self._kid

    @property
    def public_key(self) -> bytes:
        return self._public

    async def sign(self, message: bytes) -> bytes:
        return self._private.sign(message)


def generate_private_key_pem() -> bytes:
    return Ed25519PrivateKey.generate().private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def load_or_create_dev_key(var_dir: Path) -> bytes:
    """The development key, generated once and kept (owner-only) under `var/`."""
    path = var_dir / DEV_KEY_FILE
    if path.exists():
        return path.read_bytes()
    var_dir.mkdir(parents=True, exist_ok=True)
    pem = generate_private_key_pem()
    tmp = path.with_suffix(".tmp")
    tmp.write_bytes(pem)
    tmp.chmod(0o600)
    tmp.replace(path)
    return pem


def _from_factory(settings: Settings, spec: str) -> LedgerSigner:
    module_name, _, attribute = spec.partition(":")
    if not module_name or not attribute:
        raise ConfigurationError("LIANGPIAO_LEDGER_SIGNER must read 'package.module:factory'")
    try:
        factory = getattr(importlib.import_module(module_name), attribute)
    except (ImportError, AttributeError) as exc:
        raise ConfigurationError(f"LIANGPIAO_LEDGER_SIGNER: cannot load {spec}") from exc
    signer = factory(settings)
    if not isinstance(signer, LedgerSigner):
        raise ConfigurationError(f"LIANGPIAO_LEDGER_SIGNER: {spec} did not return a signer")
    return signer


def load_signer(settings: Settings) -> LedgerSigner:
    """The ledger's signer as the settings configure it."""
    if settings.ledger_signer is not None:
        return _from_factory(settings, settings.ledger_signer)
    if settings.ledger_signing_key is not None:
        return Ed25519Signer.from_pem(settings.ledger_signing_key.get_secret_value().encode())
    if settings.ledger_signing_key_file is not None:
        try:
            pem = settings.ledger_signing_key_file.read_bytes()
        except OSError as exc:
            raise ConfigurationError(
                f"cannot read LIANGPIAO_LEDGER_SIGNING_KEY_FILE: {exc.strerror}"
            ) from exc
        return Ed25519Signer.from_pem(pem)
    if settings.environment == "prod":
        raise ConfigurationError("no ledger signing key is configured")
    return Ed25519Signer.from_pem(load_or_create_dev_key(settings.var_dir))
