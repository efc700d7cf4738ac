"""The ledger's tamper evidence as the API serves it: a transaction's inclusion proof,
the region's newest signed block head, and its public signing keys (`app.ledger.sealing`
builds and reads the blocks; this module decides who may read what)."""

from __future__ import annotations

import uuid

from sqlalchemy.ext.asyncio import AsyncSession

from app.identity.models import StaffUser
from app.identity.principals import Principal, load_staff
from app.ledger import sealing
from app.ledger.errors import (
    NoSealedBlock,
    ProofForbidden,
    TransactionNotFound,
    TransactionNotSealed,
)
from app.ledger.schemas import LedgerDigest, LedgerKey, LedgerKeySet, TransactionProof
from app.orgs.service import get_region


def _digest_out(block: sealing.Block) -> LedgerDigest:
    return LedgerDigest.model_validate(sealing.head_record(block))


async def ledger_keys(session: AsyncSession, *, region_id: uuid.UUID) -> LedgerKeySet:
    """The region's public signing keys (public: anyone may verify the ledger's blocks)."""
    await get_region(session, region_id)
    keys = await sealing.public_keys(session, region_id=region_id)
    return LedgerKeySet(
        region_id=region_id,
        keys=[LedgerKey(kid=k.kid, x=k.public_key, created_at=k.created_at) for k in keys],
    )


async def latest_digest(session: AsyncSession, *, principal: Principal) -> LedgerDigest:
    """The newest signed block head of the caller's region."""
    block = None
    if principal.region_id is not None:
        block = await sealing.latest_block(session, region_id=principal.region_id)
    if block is None:
        raise NoSealedBlock()
    return _digest_out(block)


async def _may_read_proof(
    session: AsyncSession, *, principal: Principal, transaction_id: uuid.UUID
) -> bool:
    if principal.kind == "volunteer":
        return await sealing.touches_wallet(
            session, transaction_id=transaction_id, volunteer_id=principal.id
        )
    if principal.kind == "staff":
        user = await session.get(StaffUser, principal.id)
        if user is None or not user.is_active or user.region_id != principal.region_id:
            return False
        staff = await load_staff(session, user)
        return staff.is_center_admin
    return False


async def transaction_proof(
    session: AsyncSession, *, principal: Principal, transaction_id: uuid.UUID
) -> TransactionProof:
    """The inclusion proof of a transaction: for the region's center admins, or for the
    volunteer whose wallet the transaction touches. Another region's is not found, and
    so, for a volunteer, is a transaction of someone else's wallet."""
    region_id = await sealing.transaction_region(session, transaction_id=transaction_id)
    if region_id is None or region_id != principal.region_id:
        raise TransactionNotFound()
    if not await _may_read_proof(session, principal=principal, transaction_id=transaction_id):
        if principal.kind == "volunteer":
            raise TransactionNotFound()
        raise ProofForbidden()
    found = await sealing.proof(session, transaction_id=transaction_id)
    if found is None:
        raise TransactionNotSealed()
    return TransactionProof(
        transaction_id=transaction_id,
        transaction=found.transaction.decode(),
        leaf_hash=found.leaf_hash.hex(),
        leaf_index=found.leaf_index,
        tree_size=found.tree_size,
        audit_path=[h.hex() for h in found.audit_path],
        block=_digest_out(found.block),
    )
