"""The terminal signing profile: RFC 9421 HTTP Message Signatures with Ed25519.

A terminal signs every request with its private key and sends

    Content-Digest: sha-256=:<base64 SHA-256 of the body>:     (RFC 9530)
    Signature-Input: sig1=("@method" "@path" "@query" "content-digest")
        ;created=<unix s>;nonce="<16-64 of A-Za-z0-9_->";keyid="<terminal id>";alg="ed25519"
    Signature: sig1=:<base64 Ed25519 signature of the signature base>:

(`Signature-Input` is one line; it is folded here to fit.)

The signature base is RFC 9421's (§2.5): one line per covered component, in the
order listed, then the `@signature-params` line, which repeats the member value
of `Signature-Input` exactly as sent:

    "@method": POST
    "@path": /v1/terminal/redemptions
    "@query": ?
    "content-digest": sha-256=:...:
    "@signature-params": ("@method" "@path" "@query" "content-digest");created=...;...

All four components, `created`, `nonce` and `keyid` are required; an empty body
is digested too. This module only parses and verifies; freshness, the nonce
store and the terminal's status are checked by `terminal_auth`.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from app.merchants.errors import (
    ContentDigestMismatch,
    PublicKeyInvalid,
    SignatureInvalid,
    SignatureMalformed,
    SignatureMissing,
)

ALGORITHM = "ed25519"
COVERED_COMPONENTS = ("@method", "@path", "@query", "content-digest")
MAX_SKEW_SECONDS = 300

_LABEL = r"[a-z*][a-z0-9_\-.*]{0,63}"
_INPUT_MEMBER = re.compile(rf"^\s*({_LABEL})=(\((?:[^()]*)\)(?:;[^,]*)?)\s*$")
_SIGNATURE_MEMBER = re.compile(rf"^\s*({_LABEL})=:([A-Za-z0-9+/=]+):\s*$")
_COMPONENT = re.compile(r'"([a-z0-9@\-]+)"')
_PARAM = re.compile(r';\s*([a-z*][a-z0-9_\-.*]*)=("(?:[^"\\]|\\.)*"|-?[0-9]{1,15})')
_NONCE = re.compile(r"^[A-Za-z0-9_\-]{16,64}$")
_DIGEST_MEMBER = re.compile(r"(?:^|,)\s*sha-256=:([A-Za-z0-9+/=]+):\s*(?:,|$)")
_KNOWN_PARAMS = {"created", "expires", "nonce", "keyid", "alg", "tag"}


@dataclass(frozen=True)
class SignedRequest:
    """The parts of a terminal's request that its signature covers."""

    key_id: str
    created: int
    expires: int | None
    nonce: str
    signature: bytes
    base: bytes


def content_digest(body: bytes) -> str:
    """The `Content-Digest` header value of `body` (RFC 9530, sha-256)."""
    return "sha-256=:" + base64.b64encode(hashlib.sha256(body).digest()).decode() + ":"


def _b64decode(value: str) -> bytes:
    try:
        return base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise SignatureMalformed("A byte sequence is not valid base64") from exc


def _params(text: str) -> dict[str, str | int]:
    params: dict[str, str | int] = {}
    position = 0
    for match in _PARAM.finditer(text):
        if match.start() != position:
            raise SignatureMalformed("Signature-Input parameters cannot be parsed")
        name, raw = match.group(1), match.group(2)
        if name not in _KNOWN_PARAMS or name in params:
            raise SignatureMalformed(f"Unexpected or repeated parameter {name!r}")
        if raw[0] == '"':
            params[name] = raw[1:-1].replace('\\"', '"').replace("\\\\", "\\")
        else:
            params[name] = int(raw)
        position = match.end()
    if position != len(text):
        raise SignatureMalformed("Signature-Input parameters cannot be parsed")
    return params


def parse(
    *,
    method: str,
    path: str,
    query: str,
    body: bytes,
    signature_input: str | None,
    signature: str | None,
    digest_header: str | None,
) -> SignedRequest:
    """Check the headers against the profile and the body; return what is to be verified."""
    if not signature_input or not signature or not digest_header:
        raise SignatureMissing()
    digest = _DIGEST_MEMBER.search(digest_header)
    if digest is None:
        raise SignatureMalformed("Content-Digest needs a sha-256 member")
    if _b64decode(digest.group(1)) != hashlib.sha256(body).digest():
        raise ContentDigestMismatch()

    member = _INPUT_MEMBER.match(signature_input)
    signed = _SIGNATURE_MEMBER.match(signature)
    if member is None or signed is None:
        raise SignatureMalformed("Send exactly one signature, as one dictionary member")
    if member.group(1) != signed.group(1):
        raise SignatureMalformed("Signature and Signature-Input name different labels")
    signature_params = member.group(2)
    inner, _, rest = signature_params[1:].partition(")")
    components = tuple(_COMPONENT.findall(inner))
    if " ".join(f'"{c}"' for c in components) != inner.strip() or sorted(components) != sorted(
        COVERED_COMPONENTS
    ):
        raise SignatureMalformed(
            "The signature must cover exactly " + " ".join(f'"{c}"' for c in COVERED_COMPONENTS)
        )
    params = _params(rest)
    created, nonce, key_id = params.get("created"), params.get("nonce"), params.get("keyid")
    expires, alg = params.get("expires"), params.get("alg", ALGORITHM)
    if not isinstance(created, int) or not isinstance(key_id, str) or not isinstance(nonce, str):
        raise SignatureMalformed("created (integer), nonce and keyid (strings) are required")
    if not _NONCE.match(nonce):
        raise SignatureMalformed("The nonce must be 16-64 characters of A-Z a-z 0-9 _ -")
    if alg != ALGORITHM:
        raise SignatureMalformed(f'Terminals sign with alg="{ALGORITHM}"')
    if expires is not None and not isinstance(expires, int):
        raise SignatureMalformed("expires must be an integer")
    raw_signature = _b64decode(signed.group(2))

    values = {
        "@method": method.upper(),
        "@path": path,
        "@query": "?" + query,
        "content-digest": digest_header.strip(),
    }
    return SignedRequest(
        key_id=key_id,
        created=created,
        expires=expires,
        nonce=nonce,
        signature=raw_signature,
        base=signature_base([(name, values[name]) for name in components], signature_params),
    )


def signature_base(components: Sequence[tuple[str, str]], signature_params: str) -> bytes:
    """The bytes a terminal signs (RFC 9421 §2.5): one `"name": value` line per covered
    component, in the order `signature_params` lists them, then `@signature-params`."""
    lines = [f'"{name}": {value}' for name, value in components]
    lines.append(f'"@signature-params": {signature_params}')
    return "\n".join(lines).encode()


@lru_cache(maxsize=4096)
def load_public_key(encoded: str) -> Ed25519PublicKey:
    """A terminal's public key from its stored base64 form (cached: keys never change)."""
    try:
        raw = base64.b64decode(encoded, validate=True)
        return Ed25519PublicKey.from_public_bytes(raw)
    except (binascii.Error, ValueError) as exc:
        raise PublicKeyInvalid() from exc


def verify(public_key: str, signed: SignedRequest) -> None:
    try:
        load_public_key(public_key).verify(signed.signature, signed.base)
    except InvalidSignature as exc:
        raise SignatureInvalid() from exc
