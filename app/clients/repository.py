"""Queries of `app.clients`. Every registry query is filtered by region."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.clients.models import ClientSecret, OAuthClient, SpentAssertion
from app.core.db import rowcount, session_insert
from app.core.pagination import PageParams, keyset_window


async def client_in_region(
    session: AsyncSession, *, region_id: uuid.UUID, client_id: uuid.UUID, lock: bool = False
) -> OAuthClient | None:
    stmt = select(OAuthClient).where(
        OAuthClient.id == client_id, OAuthClient.region_id == region_id
    )
    if lock:
        stmt = stmt.with_for_update()
    return await session.scalar(stmt)


async def client_by_id(session: AsyncSession, *, client_id: uuid.UUID) -> OAuthClient | None:
    """The client a token request names: it says its own id, and the row says its region."""
    return await session.get(OAuthClient, client_id)


async def clients_page(
    session: AsyncSession, *, region_id: uuid.UUID, page: PageParams
) -> Sequence[OAuthClient]:
    stmt = select(OAuthClient).where(OAuthClient.region_id == region_id)
    stmt = keyset_window(stmt, page, time_column=OAuthClient.created_at, id_column=OAuthClient.id)
    return (await session.scalars(stmt)).all()


async def secrets_of(
    session: AsyncSession, *, region_id: uuid.UUID, client_ids: Sequence[uuid.UUID]
) -> Sequence[ClientSecret]:
    if not client_ids:
        return []
    stmt = (
        select(ClientSecret)
        .where(ClientSecret.region_id == region_id, ClientSecret.client_id.in_(client_ids))
        .order_by(ClientSecret.created_at, ClientSecret.id)
    )
    return (await session.scalars(stmt)).all()


async def live_secret_hashes(session: AsyncSession, *, client_id: uuid.UUID) -> Sequence[str]:
    stmt = select(ClientSecret.secret_hash).where(
        ClientSecret.client_id == client_id, ClientSecret.retired_at.is_(None)
    )
    return (await session.scalars(stmt)).all()


async def secret_of_client(
    session: AsyncSession, *, client_id: uuid.UUID, secret_id: uuid.UUID
) -> ClientSecret | None:
    return await session.scalar(
        select(ClientSecret).where(
            ClientSecret.id == secret_id, ClientSecret.client_id == client_id
        )
    )


async def spend_assertion(
    session: AsyncSession, *, client_id: uuid.UUID, jti: str, expires_at: datetime
) -> bool:
    """Records an assertion's `jti`; False when it was already spent."""
    insert = session_insert(session)
    result = await session.execute(
        insert(SpentAssertion)
        .values(client_id=client_id, jti=jti, expires_at=expires_at)
        .on_conflict_do_nothing(index_elements=["client_id", "jti"])
    )
    return rowcount(result) != 0


async def purge_spent_assertions(session: AsyncSession, *, before: datetime) -> int:
    result = await session.execute(delete(SpentAssertion).where(SpentAssertion.expires_at < before))
    return rowcount(result)
