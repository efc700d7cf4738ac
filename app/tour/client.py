"""How the tour talks to the server: each role's requests, the terminal's signatures, and
the one line every step prints; the first unexpected answer raises `TourStopped`."""

from __future__ import annotations

import asyncio
import base64
import json
import secrets
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TextIO

import httpx
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from app.merchants import signing
from app.tour.settings import JOB_WAIT_SECONDS

Fact = Callable[[Any], str]
Check = Callable[[Any], bool]


class TourStopped(Exception):
    """The server answered what the story does not expect; the line is already printed."""


@dataclass
class Terminal:
    """A cashier's terminal: its own key pair, made here; the server keeps the public half."""

    key: Ed25519PrivateKey = field(default_factory=Ed25519PrivateKey.generate)
    key_id: str = ""

    @property
    def public_key(self) -> str:
        raw = self.key.public_key().public_bytes(
            serialization.Encoding.Raw, serialization.PublicFormat.Raw
        )
        return base64.b64encode(raw).decode()

    def headers(self, method: str, path: str, query: str, body: bytes) -> dict[str, str]:
        """The RFC 9421 headers of one request, signed over the server's own signature base."""
        digest = signing.content_digest(body)
        components = " ".join(f'"{c}"' for c in signing.COVERED_COMPONENTS)
        params = (
            f'({components});created={int(time.time())};nonce="{secrets.token_urlsafe(18)}"'
            f';keyid="{self.key_id}";alg="{signing.ALGORITHM}"'
        )
        values = {
            "@method": method.upper(),
            "@path": path,
            "@query": "?" + query,
            "content-digest": digest,
        }
        base = signing.signature_base(
            [(name, values[name]) for name in signing.COVERED_COMPONENTS], params
        )
        signature = base64.b64encode(self.key.sign(base)).decode()
        headers = {
            "Content-Digest": digest,
            "Signature-Input": f"sig1={params}",
            "Signature": f"sig1=:{signature}:",
        }
        if body:
            headers["Content-Type"] = "application/json"
        return headers


def _problem(response: httpx.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return response.text[:200]
    if isinstance(body, dict) and "code" in body:
        return f"{body['code']}: {body.get('detail') or body.get('title')}"
    return str(body)[:200]


class Tour:
    def __init__(self, http: httpx.AsyncClient, out: TextIO) -> None:
        self.http = http
        self.out = out
        self.tokens: dict[str, str] = {}

    def say(self, role: str, action: str, status: int | str, fact: str) -> None:
        print(f"{role:<14} {action:<44} {status!s:>4}  {fact}", file=self.out, flush=True)

    async def send(
        self,
        role: str,
        method: str,
        path: str,
        *,
        body: Any = None,
        params: dict[str, str] | None = None,
        idempotent: bool = False,
    ) -> httpx.Response:
        headers = {}
        if role in self.tokens:
            headers["Authorization"] = f"Bearer {self.tokens[role]}"
        if idempotent:
            headers["Idempotency-Key"] = str(uuid.uuid4())
        return await self.http.request(method, path, json=body, params=params, headers=headers)

    def judge(
        self,
        role: str,
        action: str,
        response: httpx.Response,
        *,
        expect: int,
        fact: Fact,
        check: Check | None = None,
    ) -> Any:
        """Print the step's line; stop unless the status, and `check` of the body, are right."""
        if response.status_code != expect:
            self.say(role, action, response.status_code, f"expected {expect}; {_problem(response)}")
            raise TourStopped()
        try:
            data = response.json() if response.content else None
            line = fact(data)
            holds = check is None or check(data)
        except (ValueError, LookupError, TypeError) as exc:
            self.say(role, action, "FAIL", f"unexpected body ({exc!r}): {response.text[:200]}")
            raise TourStopped() from exc
        if not holds:
            self.say(role, action, "FAIL", f"not what the story expects: {line}")
            raise TourStopped()
        self.say(role, action, response.status_code, line)
        return data

    async def step(
        self,
        role: str,
        action: str,
        method: str,
        path: str,
        *,
        expect: int = 200,
        fact: Fact,
        check: Check | None = None,
        body: Any = None,
        params: dict[str, str] | None = None,
        idempotent: bool = False,
    ) -> Any:
        response = await self.send(
            role, method, path, body=body, params=params, idempotent=idempotent
        )
        return self.judge(role, action, response, expect=expect, fact=fact, check=check)

    async def until(
        self,
        role: str,
        action: str,
        path: str,
        *,
        done: Callable[[httpx.Response], bool],
        fact: Fact,
        check: Check | None = None,
    ) -> Any:
        """GET `path` until `done` (a background job's effect), then judge the last answer."""
        deadline = time.monotonic() + JOB_WAIT_SECONDS
        while True:
            response = await self.send(role, "GET", path)
            if done(response) or time.monotonic() > deadline:
                return self.judge(role, action, response, expect=200, fact=fact, check=check)
            await asyncio.sleep(0.5)

    async def signed(
        self,
        terminal: Terminal,
        action: str,
        method: str,
        path: str,
        *,
        expect: int,
        fact: Fact,
        check: Check | None = None,
        payload: dict[str, Any] | None = None,
    ) -> Any:
        body = b"" if payload is None else json.dumps(payload, ensure_ascii=False).encode()
        headers = terminal.headers(method, path, "", body)
        response = await self.http.request(method, path, content=body, headers=headers)
        return self.judge("terminal", action, response, expect=expect, fact=fact, check=check)

    async def log_in(self, role: str, username: str, password: str) -> str:
        data = await self.step(
            role,
            f"log in as {username}",
            "POST",
            "/v1/auth/login",
            body={"username": username, "password": password},
            fact=lambda d: f"{d['kind']} token, {d['expires_in']} s",
        )
        self.tokens[role] = data["access_token"]
        return str(data["staff_id"])


ADMIN, ORGANIZER, VOLUNTEER, OWNER = "centre admin", "organizer", "volunteer", "merchant owner"
