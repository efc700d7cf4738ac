"""Signing keys, access tokens (ES256 JWT with `kid`), opaque secrets and passwords."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import uuid
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

import anyio
import jwt
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from app.core import clock
from app.core.config import Settings
from app.core.errors import TokenExpired, TokenInvalid

ALGORITHM = "ES256"
LEEWAY_SECONDS = 5
# `jti` names the token on the deny-list: a token without one could not be revoked.
REQUIRED_CLAIMS = ("exp", "iat", "sub", "aud", "iss", "jti")
MAX_JTI_LENGTH = 64
VERIFIED_CACHE_SIZE = 10_000
_hasher = PasswordHasher()


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def generate_private_key_pem() -> str:
    key = ec.generate_private_key(ec.SECP256R1())
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()


def _thumbprint(public_key: ec.EllipticCurvePublicKey) -> str:
    """RFC 7638 JWK thumbprint: a `kid` that names the key itself."""
    jwk = jwt.algorithms.ECAlgorithm.to_jwk(public_key, as_dict=True)
    canonical = json.dumps(
        {"crv": jwk["crv"], "kty": jwk["kty"], "x": jwk["x"], "y": jwk["y"]},
        separators=(",", ":"),
        sort_keys=True,
    )
    return _b64url(hashlib.sha256(canonical.encode()).digest())


def load_or_create_dev_key(var_dir: Path) -> str:
    """The development signing key, generated once and kept under `var/`."""
    path = var_dir / "jwt-es256.pem"
    if path.exists():
        return path.read_text()
    var_dir.mkdir(parents=True, exist_ok=True)
    pem = generate_private_key_pem()
    tmp = path.with_suffix(".tmp")
    tmp.write_text(pem)
    tmp.chmod(0o600)
    tmp.replace(path)
    return pem


@dataclass
class TokenClaims:
    sub: str
    typ: str
    region_id: str | None
    scopes: list[str] = field(default_factory=list)
    jti: str = ""


class KeyRing:
    """The ES256 key that signs access tokens, and its public half for `/.well-known/jwks.json`."""

    def __init__(self, settings: Settings) -> None:
        if settings.jwt_private_key is not None:
            pem = settings.jwt_private_key.get_secret_value()
        else:
            pem = load_or_create_dev_key(settings.var_dir)
        key = serialization.load_pem_private_key(pem.encode(), password=None)
        if not isinstance(key, ec.EllipticCurvePrivateKey) or key.curve.name != "secp256r1":
            raise ValueError("the JWT signing key must be an EC P-256 private key (ES256)")
        self._private = key
        self.public = key.public_key()
        self.kid = settings.jwt_kid or _thumbprint(self.public)
        self.issuer = settings.jwt_issuer
        self.audience = settings.jwt_audience
        self.ttl = timedelta(seconds=settings.access_token_ttl_seconds)
        # Signatures already checked, by token; bounded, and emptied when full.
        self._verified: dict[str, dict[str, Any]] = {}

    def jwks(self) -> dict[str, Any]:
        jwk = jwt.algorithms.ECAlgorithm.to_jwk(self.public, as_dict=True)
        jwk.update({"kid": self.kid, "use": "sig", "alg": ALGORITHM})
        return {"keys": [jwk]}

    def issue(
        self,
        *,
        sub: uuid.UUID | str,
        typ: str,
        region_id: uuid.UUID | None,
        scopes: list[str] | None = None,
        ttl: timedelta | None = None,
        jti: str | None = None,
        header_typ: str | None = None,
        extra: dict[str, Any] | None = None,
    ) -> tuple[str, int]:
        """A signed access token and its lifetime in seconds; `jti` names it (random if
        not given) for the deny-list. `header_typ` and `extra` claims are for profiles
        such as RFC 9068's (`typ: at+jwt`, `client_id`)."""
        issued = clock.now()
        lifetime = ttl or self.ttl
        claims: dict[str, Any] = {
            "iss": self.issuer,
            "aud": self.audience,
            "sub": str(sub),
            "typ": typ,
            "iat": int(issued.timestamp()),
            "nbf": int(issued.timestamp()) - 5,
            "exp": int((issued + lifetime).timestamp()),
            "jti": jti or uuid.uuid4().hex,
        }
        if region_id is not None:
            claims["rid"] = str(region_id)
        if scopes:
            claims["scope"] = " ".join(scopes)
        if extra:
            claims.update(extra)
        headers = {"kid": self.kid}
        if header_typ:
            headers["typ"] = header_typ
        token = jwt.encode(claims, self._private, algorithm=ALGORITHM, headers=headers)
        return token, int(lifetime.total_seconds())

    def verify(self, token: str) -> TokenClaims:
        claims = self._verified.get(token)
        if claims is None:
            claims = self._verify_signature(token)
            if len(self._verified) >= VERIFIED_CACHE_SIZE:
                self._verified.clear()
            self._verified[token] = claims
        # Time claims are checked on every use, against the service's clock.
        now = int(clock.now().timestamp())
        if not isinstance(claims["exp"], int) or claims["exp"] + LEEWAY_SECONDS < now:
            raise TokenExpired()
        if isinstance(claims.get("nbf"), int) and claims["nbf"] - LEEWAY_SECONDS > now:
            raise TokenInvalid("The token is not valid yet")
        scope = claims.get("scope", "")
        return TokenClaims(
            sub=claims["sub"],
            typ=str(claims.get("typ", "")),
            region_id=claims.get("rid"),
            scopes=scope.split() if isinstance(scope, str) else [],
            jti=claims["jti"],
        )

    def _verify_signature(self, token: str) -> dict[str, Any]:
        """The claims of a token this key signed for this audience and issuer, checked by
        PyJWT once per token: a token never changes, only the clock moves. The header is
        parsed once, with the signature: only ES256 is accepted, and only our key's id."""
        try:
            decoded: dict[str, Any] = jwt.decode_complete(
                token,
                self.public,
                algorithms=[ALGORITHM],
                audience=self.audience,
                issuer=self.issuer,
                # Time claims are checked by verify() against the service's clock.
                options={
                    "require": list(REQUIRED_CLAIMS),
                    "verify_exp": False,
                    "verify_nbf": False,
                    "verify_iat": False,
                },
            )
        except jwt.PyJWTError as exc:
            raise TokenInvalid() from exc
        if decoded["header"].get("kid") != self.kid:
            raise TokenInvalid("The token is not signed with a key this service publishes")
        claims: dict[str, Any] = decoded["payload"]
        if not isinstance(claims.get("sub"), str):
            raise TokenInvalid()
        jti = claims.get("jti")
        if not isinstance(jti, str) or not 0 < len(jti) <= MAX_JTI_LENGTH:
            raise TokenInvalid()
        return claims


def new_secret(nbytes: int = 32) -> str:
    return secrets.token_urlsafe(nbytes)


def hash_secret(value: str) -> str:
    """SHA-256 of a high-entropy secret (refresh token, API key): safe to store and index."""
    return hashlib.sha256(value.encode()).hexdigest()


def constant_time_equals(a: str, b: str) -> bool:
    return hmac.compare_digest(a.encode(), b.encode())


async def hash_password(password: str) -> str:
    return await anyio.to_thread.run_sync(_hasher.hash, password)


async def verify_password(password_hash: str, password: str) -> bool:
    def check() -> bool:
        try:
            return _hasher.verify(password_hash, password)
        except (VerificationError, InvalidHashError):
            return False

    return await anyio.to_thread.run_sync(check)
