"""HTTP routes of `app.rewards`: the region's reward policy, and the ledger's tamper
evidence (inclusion proofs, the newest signed block head, the regions' public keys)."""

from __future__ import annotations

import uuid

from fastapi import APIRouter

from app.core.db import SessionDep
from app.core.errors import (
    AUTH_ERRORS,
    BODY_ERRORS,
    error_responses,
)
from app.identity.principals import CurrentPrincipal, CurrentStaff
from app.identity.scopes import client_scope
from app.ledger.errors import TransactionNotFound
from app.orgs.errors import CenterAdminRequired, RegionNotFound
from app.rewards import service
from app.rewards.adjustments.router import router as adjustments_router
from app.rewards.errors import NoSealedBlock, ProofForbidden, TransactionNotSealed
from app.rewards.schemas import (
    LedgerDigest,
    LedgerKeySet,
    RewardPolicyOut,
    RewardPolicyUpdate,
    TransactionProof,
)

router = APIRouter()


@router.get(
    "/v1/regions/{region_id}/reward-policy",
    summary="Read the region's reward policy",
    tags=["rewards"],
    response_model=RewardPolicyOut,
    responses=error_responses(*AUTH_ERRORS, RegionNotFound, CenterAdminRequired),
)
async def get_reward_policy(
    region_id: uuid.UUID, staff: CurrentStaff, session: SessionDep
) -> RewardPolicyOut:
    return await service.get_policy(session, staff=staff, region_id=region_id)


@router.put(
    "/v1/regions/{region_id}/reward-policy",
    summary="Set the region's reward policy",
    description="Replaces the whole policy. It applies to hours approved from now on; "
    "what was issued stays issued.",
    tags=["rewards"],
    response_model=RewardPolicyOut,
    responses=error_responses(*AUTH_ERRORS, *BODY_ERRORS, RegionNotFound, CenterAdminRequired),
)
async def set_reward_policy(
    region_id: uuid.UUID, body: RewardPolicyUpdate, staff: CurrentStaff, session: SessionDep
) -> RewardPolicyOut:
    return await service.set_policy(session, staff=staff, region_id=region_id, update=body)


@router.get(
    "/v1/ledger/transactions/{transaction_id}/proof",
    summary="Prove that a transaction is in a signed block",
    description="An RFC 6962 inclusion proof of the transaction's canonical JSON in a block, "
    "with the block's signed header: checkable with the region's public key alone "
    "(`GET /v1/regions/{id}/ledger-keys`). For the region's center admins and for the "
    "volunteer whose wallet the transaction touches.",
    tags=["ledger"],
    response_model=TransactionProof,
    responses=error_responses(
        *AUTH_ERRORS, TransactionNotFound, ProofForbidden, TransactionNotSealed
    ),
)
async def get_transaction_proof(
    transaction_id: uuid.UUID, principal: CurrentPrincipal, session: SessionDep
) -> TransactionProof:
    return await service.transaction_proof(
        session, principal=principal, transaction_id=transaction_id
    )


@router.get(
    "/v1/ledger/digests/latest",
    summary="Read the newest signed block head of your region",
    tags=["ledger"],
    response_model=LedgerDigest,
    responses=error_responses(*AUTH_ERRORS, NoSealedBlock),
)
@client_scope("ledger:read")
async def get_latest_ledger_digest(
    principal: CurrentPrincipal, session: SessionDep
) -> LedgerDigest:
    return await service.latest_digest(session, principal=principal)


@router.get(
    "/v1/regions/{region_id}/ledger-keys",
    summary="List the region's ledger signing keys (public)",
    description="The Ed25519 public keys, as JWKs, that sign the region's ledger blocks. "
    "Public, so that anyone holding a proof can check it.",
    tags=["ledger"],
    response_model=LedgerKeySet,
    responses=error_responses(RegionNotFound),
)
async def list_ledger_keys(region_id: uuid.UUID, session: SessionDep) -> LedgerKeySet:
    return await service.ledger_keys(session, region_id=region_id)


# Manual adjustments live under the ledger's paths; the policy's threshold and budget
# govern them, so they are served from here.
router.include_router(adjustments_router)
