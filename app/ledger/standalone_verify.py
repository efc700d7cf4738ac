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
    if not leaves:
        raise ValueError("a Merkle tree needs at least one leaf")
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


# --- keys and heads ---------------------------------------------------------------------


def load_keys(spec: str) -> dict[str, str]:
    """Public keys by `kid` from a file (PEM, a JWK or a JWK set such as the service's
    `/v1/regions/{id}/ledger-keys`) or from a base64url raw key given as is."""
    try:
        with open(spec, "rb") as f:
            data = f.read()
    except OSError:
        data = spec.encode()
    text = data.decode().strip()
    if text.startswith("-----BEGIN"):
        from cryptography.hazmat.primitives import serialization

        key = serialization.load_pem_public_key(data)
        if not isinstance(key, Ed25519PublicKey):
            raise ValueError(f"{spec}: not an Ed25519 public key")
        raws = [key.public_bytes_raw()]
    elif text.startswith("{"):
        value = json.loads(text)
        jwks = value.get("keys", [value])
        raws = [b64url_decode(jwk["x"]) for jwk in jwks if jwk.get("crv") == "Ed25519"]
    else:
        raws = [b64url_decode(text)]
    keys = {}
    for raw in raws:
        if len(raw) != 32:
            raise ValueError(f"{spec}: an Ed25519 public key has 32 bytes")
        keys[key_thumbprint(raw)] = b64url(raw)
    if not keys:
        raise ValueError(f"{spec}: no Ed25519 public key in it")
    return keys


def read_heads(path: str) -> list[dict[str, Any]]:
    """The heads of a JSON-lines head log (one signed block head a line)."""
    heads = []
    with open(path, encoding="utf-8") as f:
        for number, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                heads.append(json.loads(line))
            except json.JSONDecodeError as exc:
                raise ValueError(f"{path}, line {number}: not JSON") from exc
    return heads


def head_header(head: dict[str, Any]) -> dict[str, Any]:
    """The header a head signs, read from the signed bytes themselves."""
    header: dict[str, Any] = json.loads(head["signed_header"])
    return header


def head_name(header: dict[str, Any]) -> str:
    return f"block {header.get('height')} of region {header.get('region_id')}"


def check_head(head: dict[str, Any], keys: dict[str, str]) -> list[str]:
    """A signed head on its own: canonical, hashed as claimed, signed by a known key."""
    signed = head["signed_header"].encode()
    header = head_header(head)
    name = head_name(header)
    problems: list[str] = []
    if canonical_json(header) != signed:
        problems.append(f"{name}: its signed header is not canonical JSON")
    if hashlib.sha256(signed).hexdigest() != head.get("block_hash"):
        problems.append(f"{name}: block_hash is not the SHA-256 of its signed header")
    key = keys.get(header.get("kid", ""))
    if key is None:
        problems.append(f"{name}: signed by key {header.get('kid')}, which is not given")
    elif not signature_valid(key, head.get("signature", ""), signed):
        problems.append(f"{name}: the signature is not valid")
    return problems


def check_pins(
    blocks: dict[tuple[str, int], str], pins: Sequence[dict[str, Any]], keys: dict[str, str]
) -> list[str]:
    """Each pinned head (checked on its own) against the block hashes by (region, height)."""
    problems: list[str] = []
    for pin in pins:
        pin_problems = check_head(pin, keys)
        header = head_header(pin)
        name = head_name(header)
        if pin_problems:
            problems.extend(f"pinned {p}" for p in pin_problems)
            continue
        found = blocks.get((str(header["region_id"]), int(header["height"])))
        if found is None:
            problems.append(f"pinned {name} is missing: the chain was cut or emptied")
        elif found != pin["block_hash"]:
            problems.append(f"pinned {name} has another hash: the chain was rewritten")
    return problems


# --- proofs and exports -----------------------------------------------------------------


def verify_proof(
    proof: dict[str, Any], keys: dict[str, str], pins: Sequence[dict[str, Any]] = ()
) -> list[str]:
    """A transaction's inclusion proof, as `GET /v1/ledger/transactions/{id}/proof` gives it."""
    problems = check_head(proof["block"], keys)
    header = head_header(proof["block"])
    transaction = proof["transaction"].encode()
    leaf = leaf_hash(transaction)
    if json.loads(transaction).get("id") != proof.get("transaction_id"):
        problems.append("the proof is for another transaction than it names")
    if leaf.hex() != proof["leaf_hash"]:
        problems.append("leaf_hash is not the hash of the transaction")
    if proof["tree_size"] != header["tx_count"]:
        problems.append("tree_size is not the block's transaction count")
    included = verify_inclusion(
        leaf,
        index=proof["leaf_index"],
        size=proof["tree_size"],
        path=[bytes.fromhex(h) for h in proof["audit_path"]],
        root=bytes.fromhex(header["merkle_root"]),
    )
    if not included:
        problems.append("the audit path does not lead to the block's Merkle root")
    if pins:
        region = str(header["region_id"])
        same_region = [p for p in pins if str(head_header(p)["region_id"]) == region]
        pinned = [p for p in same_region if head_header(p)["height"] == header["height"]]
        if pinned and pinned[0]["block_hash"] != proof["block"]["block_hash"]:
            problems.append(f"{head_name(header)} is not the pinned one")
    return problems


def _balance_problems(tx: dict[str, Any]) -> list[str]:
    amounts = [p["amount"] for p in tx.get("postings", [])]
    if len(amounts) < 2 or sum(amounts) != 0 or 0 in amounts:
        return [f"transaction {tx.get('id')}: {len(amounts)} postings summing to {sum(amounts)}"]
    return []


def _missing_seqs(seqs: Sequence[int], through: int) -> list[list[int]]:
    present = sorted(s for s in seqs if s <= through)
    gaps, previous = [], 0
    for seq in [*present, through + 1]:
        if seq - previous > 1:
            gaps.append([previous + 1, seq - 1])
        previous = seq
    return gaps


def unaccounted(gaps: Sequence[list[int]], unused: Sequence[list[int]]) -> list[list[int]]:
    """The parts of the `gaps` ranges that no `unused` range covers (all inclusive)."""
    left = []
    for first, last in gaps:
        at = first
        for u_first, u_last in sorted((u[0], u[1]) for u in unused):
            if u_last < at or u_first > last:
                continue
            if u_first > at:
                left.append([at, u_first - 1])
            at = max(at, u_last + 1)
        if at <= last:
            left.append([at, last])
    return left


def verify_export(
    export: dict[str, Any], keys: dict[str, str], pins: Sequence[dict[str, Any]] = ()
) -> list[str]:
    """A whole ledger as `python -m app export-ledger` writes it: every region's chain of
    blocks with their transactions, and the transactions not sealed yet."""
    problems: list[str] = []
    hashes: dict[tuple[str, int], str] = {}
    seqs: list[int] = []
    unused: list[list[int]] = []
    through = 0
    for region in export["regions"]:
        previous_hash = GENESIS_HASH
        for height, block in enumerate(region["blocks"], 1):
            head = block["head"]
            header = head_header(head)
            name = head_name(header)
            problems.extend(check_head(head, keys))
            if header["height"] != height or str(header["region_id"]) != region["region_id"]:
                problems.append(f"{name}: expected block {height} of region {region['region_id']}")
            if header["prev_hash"] != previous_hash:
                problems.append(f"{name}: prev_hash is not the previous block's hash")
            previous_hash = head["block_hash"]
            hashes[(str(header["region_id"]), int(header["height"]))] = head["block_hash"]
            txs = block["transactions"]
            if len(txs) != header["tx_count"]:
                problems.append(
                    f"{name}: holds {len(txs)} transactions, its header {header['tx_count']}"
                )
            leaves = [leaf_hash(tx.encode()) for tx in txs]
            if not leaves or merkle_root(leaves).hex() != header["merkle_root"]:
                problems.append(f"{name}: its transactions do not give its Merkle root")
            for tx_text in txs:
                tx = json.loads(tx_text)
                seqs.append(tx["seq"])
                problems.extend(_balance_problems(tx))
                if tx.get("region_id") != region["region_id"]:
                    problems.append(f"transaction {tx.get('id')} of {name}: another region's")
            if "seq_through" in header:
                through = max(through, header["seq_through"])
                unused.extend(header["unused_seqs"])
        for tx_text in region.get("unsealed", []):
            tx = json.loads(tx_text)
            seqs.append(tx["seq"])
            problems.extend(_balance_problems(tx))
    if through:
        for first, last in unaccounted(_missing_seqs(seqs, through), unused):
            problems.append(
                f"sequence numbers {first} to {last} are missing, though the blocks attest "
                f"the ledger through {through} and record them as used"
            )
    problems.extend(check_pins(hashes, pins, keys))
    return problems


# --- the command ------------------------------------------------------------------------


def main(argv: Sequence[str] | None = None) -> int:
    import argparse
    import sys

    parser = argparse.ArgumentParser(
        prog="standalone_verify",
        description="Check a Liangpiao ledger proof or exported ledger with public keys alone.",
    )
    parser.add_argument("kind", choices=["proof", "ledger"], help="what FILE holds")
    parser.add_argument(
        "file", help="a proof's JSON, or an export of `python -m app export-ledger`"
    )
    parser.add_argument(
        "--key",
        action="append",
        required=True,
        help="the region's public key: a PEM or JWK (set) file, or base64url; repeat for several",
    )
    parser.add_argument(
        "--pin", help="a JSON-lines file of signed block heads to hold the chain to"
    )
    args = parser.parse_args(argv)
    try:
        keys: dict[str, str] = {}
        for spec in args.key:
            keys.update(load_keys(spec))
        pins = read_heads(args.pin) if args.pin else []
        with open(args.file, encoding="utf-8") as f:
            document = json.load(f)
        if args.kind == "proof":
            problems = verify_proof(document, keys, pins)
        else:
            problems = verify_export(document, keys, pins)
    except (OSError, ValueError, KeyError, TypeError) as exc:
        print(f"cannot check: {exc}", file=sys.stderr)
        return 2
    if problems:
        print(f"{len(problems)} problem(s):")
        for problem in problems:
            print(f"  {problem}")
        return 1
    print(f"{args.kind} OK")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
