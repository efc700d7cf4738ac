"""HTTP routes of the ledger's tamper evidence: inclusion proofs, the newest signed block
head, the regions' public keys. Listed after the reward policy's routes in
`app.main.feature_routers`, where the API document has always shown them."""

from __future__ import annotations

import uuid

from fastapi import APIRouter

from app.core.db import SessionDep
from app.core.errors import AUTH_ERRORS, error_responses
from app.core.routing import QueryCheckedRoute
from app.identity.principals import CurrentPrincipal
from app.identity.scopes import client_scope
from app.ledger import evidence
from app.ledger.errors import (
    NoSealedBlock,
    ProofForbidden,
    TransactionNotFound,
    TransactionNotSealed,
)
from app.ledger.schemas import LedgerDigest, LedgerKeySet, TransactionProof
from app.orgs.errors import RegionNotFound

router = APIRouter(route_class=QueryCheckedRoute)


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
    return await evidence.transaction_proof(
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
    return await evidence.latest_digest(session, principal=principal)


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
    return await evidence.ledger_keys(session, region_id=region_id)
