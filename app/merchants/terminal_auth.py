"""`CurrentTerminal`: the terminal behind a signed request, or a refusal.

Checks, cheapest first: the headers follow the signing profile and the body
matches its digest; the timestamp is within 300 s of the server's clock; the key
id names a terminal whose public key verifies the signature; the terminal is
neither suspended nor revoked (read on every request, so revocation is
immediate); the nonce has not been used (a row per nonce, unique per terminal,
so every API replica sees it). The nonce is stored in the request's unit of
work: it is spent exactly when the request's effects (or its recorded refusal)
commit, and a concurrent twin waits for that and is then refused. On PostgreSQL the
terminal's row is read and the nonce written by one statement; a refusal of the
signature or the terminal rolls the nonce back with the rest.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import timedelta
from typing import Annotated

from fastapi import Depends, Header, Request, Security
from fastapi.openapi.models import APIKey, APIKeyIn
from fastapi.security.base import SecurityBase

from app.core import clock
from app.core.db import SessionDep
from app.merchants import repository, signing
from app.merchants.errors import (
    ContentDigestMismatch,
    NonceReplayed,
    SignatureInvalid,
    SignatureMalformed,
    SignatureMissing,
    SignatureStale,
    TerminalRevoked,
    TerminalSuspended,
    TerminalUnknown,
)
from app.merchants.models import MerchantStatus, TerminalStatus

# A nonce must outlive every timestamp that could still pass the freshness check.
NONCE_TTL = timedelta(seconds=2 * signing.MAX_SKEW_SECONDS)

# Every signed request carries these; without one it is refused (`signature_missing`).
SIGNATURE_HEADERS = ("Signature-Input", "Signature", "Content-Digest")

TERMINAL_AUTH_ERRORS = (
    SignatureMissing,
    SignatureMalformed,
    SignatureInvalid,
    ContentDigestMismatch,
    SignatureStale,
    NonceReplayed,
    TerminalUnknown,
    TerminalSuspended,
    TerminalRevoked,
)


@dataclass(frozen=True)
class TerminalContext:
    id: uuid.UUID
    region_id: uuid.UUID
    merchant_id: uuid.UUID
    merchant_name: str
    merchant_status: MerchantStatus
    merchant_account_id: uuid.UUID | None
    # The region's time zone: its business day bounds voids and offer limits.
    timezone: str

    @property
    def label(self) -> str:
        return f"terminal:{self.id}"


class TerminalSignatureScheme(SecurityBase):
    """Declares the terminals' request signatures as the spec's `TerminalSignature`
    security scheme; `current_terminal` is what checks them."""

    def __init__(self) -> None:
        self.model = APIKey(
            **{"in": APIKeyIn.header},
            name="Signature",
            description="RFC 9421 HTTP Message Signatures by the terminal's Ed25519 key: "
            "`Signature-Input` (covering @method, @path, @query and content-digest, with "
            "created, nonce, keyid = the terminal id and alg = ed25519), `Signature`, and "
            "the body's RFC 9530 `Content-Digest`. No bearer token.",
        )
        self.scheme_name = "TerminalSignature"

    async def __call__(self) -> None:
        return None


terminal_signature = TerminalSignatureScheme()


async def current_terminal(
    request: Request,
    session: SessionDep,
    _declared: Annotated[None, Security(terminal_signature)],
    signature_input: Annotated[
        str | None,
        Header(
            alias="Signature-Input",
            max_length=1024,
            description='RFC 9421: sig1=("@method" "@path" "@query" "content-digest");'
            'created=…;nonce="…";keyid="<terminal id>";alg="ed25519"',
        ),
    ] = None,
    signature: Annotated[
        str | None,
        Header(alias="Signature", max_length=512, description="RFC 9421: sig1=:<base64>:"),
    ] = None,
    content_digest: Annotated[
        str | None,
        Header(alias="Content-Digest", max_length=512, description="RFC 9530: sha-256=:…:"),
    ] = None,
) -> TerminalContext:
    raw_path = request.scope.get("raw_path")
    signed = signing.parse(
        method=request.method,
        path=raw_path.decode("latin-1") if raw_path else request.url.path,
        query=request.scope.get("query_string", b"").decode("latin-1"),
        body=await request.body(),
        signature_input=signature_input,
        signature=signature,
        digest_header=content_digest,
    )
    now = int(clock.now().timestamp())
    if abs(now - signed.created) > signing.MAX_SKEW_SECONDS or (
        signed.expires is not None and signed.expires < now
    ):
        raise SignatureStale()
    try:
        terminal_id = uuid.UUID(signed.key_id)
    except ValueError as exc:
        raise TerminalUnknown() from exc
    found = await repository.terminal_spending_nonce(
        session, terminal_id=terminal_id, nonce=signed.nonce, expires_at=clock.now() + NONCE_TTL
    )
    if found is None:
        raise TerminalUnknown()
    row, spent = found
    (
        public_key,
        status,
        region_id,
        merchant_id,
        merchant_name,
        merchant_status,
        account_id,
        timezone,
    ) = row[:8]
    try:
        signing.verify(public_key, signed)
    except SignatureInvalid as refusal:
        # Outside production, the refusal shows the bytes the server verified, for the
        # terminal's developer to compare with what was signed (docs/integrating.md §6).
        if request.app.state.settings.environment != "prod":
            refusal.extra["signature_base"] = signed.base.decode()
        raise
    if status == TerminalStatus.revoked:
        raise TerminalRevoked()
    if status == TerminalStatus.suspended:
        raise TerminalSuspended()
    if spent is None:
        spent = await repository.spend_nonce(
            session,
            terminal_id=terminal_id,
            region_id=region_id,
            nonce=signed.nonce,
            expires_at=clock.now() + NONCE_TTL,
        )
    if not spent:
        raise NonceReplayed()
    return TerminalContext(
        id=terminal_id,
        region_id=region_id,
        merchant_id=merchant_id,
        merchant_name=merchant_name,
        merchant_status=MerchantStatus(merchant_status),
        merchant_account_id=account_id,
        timezone=timezone,
    )


CurrentTerminal = Annotated[TerminalContext, Depends(current_terminal)]
