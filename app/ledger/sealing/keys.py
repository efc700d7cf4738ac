"""The region's public signing keys: the ones its blocks name, and the signer's key
registered as a new generation on first use."""

from __future__ import annotations

import logging
import uuid

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.core import clock
from app.core.db import session_insert
from app.ledger.sealing.models import SigningKey
from app.ledger.signer import LedgerSigner
from app.ledger.standalone_verify import b64url

log = logging.getLogger("liangpiao.ledger.sealing")


async def public_keys(session: AsyncSession, *, region_id: uuid.UUID) -> list[SigningKey]:
    rows = await session.scalars(
        select(SigningKey).where(SigningKey.region_id == region_id).order_by(SigningKey.generation)
    )
    return list(rows)


class SignerKeyMismatch(RuntimeError):
    """The database's public key under the signer's `kid` is not the signer's key."""


async def signing_key(
    session: AsyncSession, region_id: uuid.UUID, signer: LedgerSigner
) -> SigningKey:
    """The region's row of the signer's public key, added as a new generation on first use.

    Refuses to sign when the row under the signer's `kid` holds another key: someone
    changed it, and blocks signed now would verify against neither."""
    kid = signer.key_id
    key = await session.scalar(
        select(SigningKey).where(SigningKey.region_id == region_id, SigningKey.kid == kid)
    )
    if key is not None:
        if key.public_key != b64url(signer.public_key):
            raise SignerKeyMismatch(
                f"ledger_signing_keys holds another public key under kid {kid}; refusing to seal"
            )
        return key
    newest = await session.scalar(
        select(func.max(SigningKey.generation)).where(SigningKey.region_id == region_id)
    )
    await session.execute(
        session_insert(session)(SigningKey)
        .values(
            id=uuid.uuid4(),
            region_id=region_id,
            generation=int(newest or 0) + 1,
            kid=kid,
            public_key=b64url(signer.public_key),
            created_at=clock.now(),
        )
        .on_conflict_do_nothing(index_elements=["region_id", "kid"])
    )
    log.info("ledger signing key registered", extra={"region_id": str(region_id), "kid": kid})
    return await signing_key(session, region_id, signer)
