"""Check Liangpiao's ledger evidence with a region's public key alone.

This file needs nothing but Python 3.11 and `cryptography`; a third party may copy
it and run it on its own (`python standalone_verify.py …`), or, beside the service,
`python -m app.ledger.standalone_verify …`. The service seals with these very
functions, so what it signs and what this checks cannot drift apart.

Blocks: each block's header (canonical JSON, sorted keys, no whitespace) is signed
with Ed25519; `block_hash` is SHA-256 of those bytes and the next block's
`prev_hash`. The header's `merkle_root` is the RFC 6962 Merkle Tree Hash
(SHA-256, 0x00 leaf and 0x01 node prefixes) over the canonical JSON of the block's
transactions in order; `kid` is the RFC 7638 thumbprint of the signing key.
"""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Sequence
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

GENESIS_HASH = "0" * 64

_LEAF_PREFIX = b"\x00"
_NODE_PREFIX = b"\x01"


# --- canonical forms and hashing --------------------------------------------------------


def b64url(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def b64url_decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def canonical_json(value: Any) -> bytes:
    """Sorted keys, no whitespace, UTF-8: one byte string per value."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def leaf_hash(data: bytes) -> bytes:
    return hashlib.sha256(_LEAF_PREFIX + data).digest()


def _node_hash(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(_NODE_PREFIX + left + right).digest()


def _split(n: int) -> int:
    """The largest power of two smaller than n (n > 1)."""
    k = 1
    while k * 2 < n:
        k *= 2
    return k


def merkle_root(leaves: Sequence[bytes]) -> bytes:
    """RFC 6962 Merkle Tree Hash over leaf hashes (at least one)."""
    if len(leaves) == 1:
        return leaves[0]
    k = _split(len(leaves))
    return _node_hash(merkle_root(leaves[:k]), merkle_root(leaves[k:]))


def audit_path(index: int, leaves: Sequence[bytes]) -> list[bytes]:
    """RFC 6962 PATH(index, leaves): the sibling hashes from the leaf up to the root."""
    if len(leaves) == 1:
        return []
    k = _split(len(leaves))
    if index < k:
        return [*audit_path(index, leaves[:k]), merkle_root(leaves[k:])]
    return [*audit_path(index - k, leaves[k:]), merkle_root(leaves[:k])]


def verify_inclusion(
    leaf: bytes, *, index: int, size: int, path: Sequence[bytes], root: bytes
) -> bool:
    """RFC 9162 §2.1.3.2: does `path` lead from `leaf` at `index` to `root`?"""
    if index >= size:
        return False
    fn, sn, r = index, size - 1, leaf
    for p in path:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            r = _node_hash(p, r)
            while not fn & 1 and fn != 0:
                fn >>= 1
                sn >>= 1
        else:
            r = _node_hash(r, p)
        fn >>= 1
        sn >>= 1
    return sn == 0 and r == root


def key_thumbprint(public_raw: bytes) -> str:
    """RFC 7638 JWK thumbprint of an Ed25519 public key (RFC 8037)."""
    jwk = {"crv": "Ed25519", "kty": "OKP", "x": b64url(public_raw)}
    return b64url(hashlib.sha256(canonical_json(jwk)).digest())


def signature_valid(public_key: str, signature: str, message: bytes) -> bool:
    """Ed25519 over `message`; key and signature base64url (raw bytes)."""
    try:
        Ed25519PublicKey.from_public_bytes(b64url_decode(public_key)).verify(
            b64url_decode(signature), message
        )
    except (InvalidSignature, ValueError):
        return False
    return True
