"""Terminal registration: a merchant's terminals, their keys and their status."""

from __future__ import annotations

import base64
import uuid

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy.ext.asyncio import AsyncSession

from app.core import clock
from app.core.pagination import Page, PageParams, keyset_page
from app.merchants import repository, schemas, signing
from app.merchants.access import MerchantActor, merchant_for
from app.merchants.errors import TerminalNotFound, TerminalStatusTransitionInvalid
from app.merchants.models import Terminal, TerminalStatus

# Terminals


def _terminal_out(terminal: Terminal) -> schemas.Terminal:
    return schemas.Terminal(
        id=terminal.id,
        key_id=str(terminal.id),
        merchant_id=terminal.merchant_id,
        name=terminal.name,
        public_key=terminal.public_key,
        status=terminal.status,
        created_at=terminal.created_at,
        revoked_at=terminal.revoked_at,
    )


async def register_terminal(
    session: AsyncSession,
    *,
    actor: MerchantActor,
    merchant_id: uuid.UUID,
    data: schemas.TerminalCreate,
) -> schemas.TerminalRegistered:
    """A terminal with the given public key, or with a key pair generated here whose
    private half is returned this once and not kept."""
    merchant = await merchant_for(session, actor=actor, merchant_id=merchant_id, owner=True)
    private_pem: str | None = None
    if data.public_key is not None:
        key = signing.load_public_key(data.public_key)
    else:
        private = Ed25519PrivateKey.generate()
        private_pem = private.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        ).decode()
        key = private.public_key()
    public_raw = key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    terminal = Terminal(
        region_id=merchant.region_id,
        merchant_id=merchant.id,
        name=data.name,
        public_key=base64.b64encode(public_raw).decode(),
        status=TerminalStatus.active,
        created_by=actor.label,
    )
    session.add(terminal)
    await session.flush()
    return schemas.TerminalRegistered(
        **_terminal_out(terminal).model_dump(), private_key=private_pem
    )


async def list_terminals(
    session: AsyncSession, *, actor: MerchantActor, merchant_id: uuid.UUID, page: PageParams
) -> Page[schemas.Terminal]:
    """A merchant's terminals, oldest first, revoked ones included."""
    merchant = await merchant_for(session, actor=actor, merchant_id=merchant_id, owner=True)
    rows = await repository.terminals_of(session, merchant_id=merchant.id, page=page)
    return keyset_page(rows, page, key=lambda t: (t.created_at, t.id), out=_terminal_out)


_TERMINAL_TRANSITIONS: dict[TerminalStatus, frozenset[TerminalStatus]] = {
    TerminalStatus.active: frozenset({TerminalStatus.suspended, TerminalStatus.revoked}),
    TerminalStatus.suspended: frozenset({TerminalStatus.active, TerminalStatus.revoked}),
    TerminalStatus.revoked: frozenset(),
}


async def set_terminal_status(
    session: AsyncSession,
    *,
    actor: MerchantActor,
    merchant_id: uuid.UUID,
    terminal_id: uuid.UUID,
    status: TerminalStatus,
) -> schemas.Terminal:
    """Suspend, resume or revoke; the next signed request already sees it."""
    merchant = await merchant_for(session, actor=actor, merchant_id=merchant_id, owner=True)
    terminal = await repository.terminal(session, terminal_id)
    if terminal is None or terminal.merchant_id != merchant.id:
        raise TerminalNotFound()
    if status != terminal.status and status not in _TERMINAL_TRANSITIONS[terminal.status]:
        raise TerminalStatusTransitionInvalid(
            f"A {terminal.status} terminal cannot become {status}"
        )
    if status != terminal.status:
        terminal.status = status
        terminal.updated_at = clock.now()
        if status == TerminalStatus.revoked:
            terminal.revoked_at = terminal.updated_at
        await session.flush()
    return _terminal_out(terminal)
