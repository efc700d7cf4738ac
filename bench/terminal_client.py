"""A redemption terminal's client: signs requests the way a real terminal would.

It shares no code with the server on purpose: it builds the RFC 9421 signature
base from the HTTP request it is about to send (method, path, query, an RFC 9530
Content-Digest of the exact body bytes, a timestamp, a fresh nonce and its key
id) and signs it with the terminal's Ed25519 private key. Tests drive the app
with it; `bench/redemption.py` uses it under load.

    signer = TerminalSigner(key_id=terminal["key_id"], private_key_pem=terminal["private_key"])
    client = TerminalClient(http, signer)          # http: an httpx.AsyncClient
    response = await client.redeem("88…", request_no="A-0001", amount=5)
"""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

import httpx
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

COMPONENTS = ("@method", "@path", "@query", "content-digest")


def content_digest(body: bytes) -> str:
    return "sha-256=:" + base64.b64encode(hashlib.sha256(body).digest()).decode() + ":"


def new_key_pair() -> tuple[Ed25519PrivateKey, str]:
    """A key pair made on the terminal: the private key, and the public key to register
    (raw 32 bytes, base64)."""
    key = Ed25519PrivateKey.generate()
    raw = key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return key, base64.b64encode(raw).decode()


@dataclass
class SignedRequest:
    method: str
    path: str
    query: str
    body: bytes
    headers: dict[str, str]

    @property
    def url(self) -> str:
        return self.path + ("?" + self.query if self.query else "")


@dataclass
class TerminalSigner:
    key_id: str
    private_key: Ed25519PrivateKey | None = None
    private_key_pem: str | None = None
    # The terminal's clock, in Unix seconds (tests hand in the server's test clock).
    clock: Callable[[], float] = time.time
    label: str = "sig1"
    _key: Ed25519PrivateKey = field(init=False, repr=False)

    def __post_init__(self) -> None:
        if self.private_key is not None:
            self._key = self.private_key
            return
        if self.private_key_pem is None:
            raise ValueError("give private_key or private_key_pem")
        key = serialization.load_pem_private_key(self.private_key_pem.encode(), password=None)
        if not isinstance(key, Ed25519PrivateKey):
            raise ValueError("the terminal key must be Ed25519")
        self._key = key

    def signature_params(self, *, created: int, nonce: str) -> str:
        components = " ".join(f'"{c}"' for c in COMPONENTS)
        return (
            f'({components});created={created};nonce="{nonce}";keyid="{self.key_id}";alg="ed25519"'
        )

    def sign(
        self,
        method: str,
        path: str,
        *,
        query: str = "",
        body: bytes = b"",
        created: int | None = None,
        nonce: str | None = None,
    ) -> SignedRequest:
        digest = content_digest(body)
        params = self.signature_params(
            created=int(self.clock()) if created is None else created,
            nonce=nonce or secrets.token_urlsafe(18),
        )
        base = "\n".join(
            [
                f'"@method": {method.upper()}',
                f'"@path": {path}',
                f'"@query": ?{query}',
                f'"content-digest": {digest}',
                f'"@signature-params": {params}',
            ]
        )
        signature = base64.b64encode(self._key.sign(base.encode())).decode()
        headers = {
            "Content-Digest": digest,
            "Signature-Input": f"{self.label}={params}",
            "Signature": f"{self.label}=:{signature}:",
        }
        if body:
            headers["Content-Type"] = "application/json"
        return SignedRequest(method.upper(), path, query, body, headers)

    def sign_json(
        self, method: str, path: str, payload: Any = None, *, params: dict[str, str] | None = None
    ) -> SignedRequest:
        body = b"" if payload is None else json.dumps(payload, separators=(",", ":")).encode()
        return self.sign(method, path, query=urlencode(params or {}), body=body)


class TerminalClient:
    """The terminal's calls at the counter, over an httpx.AsyncClient."""

    def __init__(self, http: httpx.AsyncClient, signer: TerminalSigner) -> None:
        self.http = http
        self.signer = signer

    async def send(self, signed: SignedRequest) -> httpx.Response:
        return await self.http.request(
            signed.method, signed.url, content=signed.body, headers=signed.headers
        )

    async def redeem(
        self,
        code: str,
        *,
        request_no: str,
        offer_id: str | None = None,
        amount: int | None = None,
    ) -> httpx.Response:
        payload: dict[str, Any] = {"code": code, "request_no": request_no}
        if offer_id is not None:
            payload["offer_id"] = offer_id
        if amount is not None:
            payload["amount"] = amount
        return await self.send(self.signer.sign_json("POST", "/v1/terminal/redemptions", payload))

    async def query(self, request_no: str) -> httpx.Response:
        return await self.send(self.signer.sign("GET", f"/v1/terminal/redemptions/{request_no}"))

    async def void(self, request_no: str) -> httpx.Response:
        return await self.send(
            self.signer.sign("POST", f"/v1/terminal/redemptions/{request_no}/void")
        )

    async def pick_up(self, pickup_code: str, *, request_no: str) -> httpx.Response:
        payload = {"pickup_code": pickup_code, "request_no": request_no}
        return await self.send(
            self.signer.sign_json("POST", "/v1/terminal/reservations/pickups", payload)
        )
