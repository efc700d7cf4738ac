"""SQL of redemption codes and offline code keys: a wallet's codes serialized, retired
and looked up, and the one conditional statement that consumes a code, so that of
many terminals presenting one code at once exactly one gets it."""

from __future__ import annotations

import hashlib
import uuid
from datetime import datetime

from sqlalchemy import Row, bindparam, delete, select, text, update
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.db import fetch_rows, rowcount
from app.merchants.models import CodeStatus, OfflineCodeKey, RedemptionCode
from app.volunteers.models import Volunteer

# id, region, volunteer, status, expiry, the volunteer's name, maximum amount, offer
OnlineCodeRow = Row[
    uuid.UUID, uuid.UUID, uuid.UUID, CodeStatus, datetime, str | None, int | None, uuid.UUID | None
]


async def lock_volunteer_codes(session: AsyncSession, volunteer_id: uuid.UUID) -> None:
    """Serialize code changes of one wallet (SQLite's writers are serialized already)."""
    if session.get_bind().dialect.name == "postgresql":
        digest = hashlib.sha256(b"codes:" + volunteer_id.bytes).digest()
        lock_id = int.from_bytes(digest[:8], "big", signed=True)
        await session.execute(text("SELECT pg_advisory_xact_lock(:id)"), {"id": lock_id})


async def retire_active_codes(
    session: AsyncSession, *, region_id: uuid.UUID, volunteer_id: uuid.UUID
) -> None:
    await session.execute(
        update(RedemptionCode)
        .where(
            RedemptionCode.region_id == region_id,
            RedemptionCode.volunteer_id == volunteer_id,
            RedemptionCode.status == CodeStatus.active,
        )
        .values(status=CodeStatus.retired)
        .execution_options(synchronize_session=False)
    )


async def offline_key_of(session: AsyncSession, volunteer_id: uuid.UUID) -> OfflineCodeKey | None:
    return await session.scalar(
        select(OfflineCodeKey).where(OfflineCodeKey.volunteer_id == volunteer_id)
    )


async def wallet_no_taken(session: AsyncSession, wallet_no: str) -> bool:
    taken = await session.scalar(
        select(OfflineCodeKey.id).where(OfflineCodeKey.wallet_no == wallet_no)
    )
    return taken is not None


async def online_code(session: AsyncSession, code_hash: str) -> OnlineCodeRow | None:
    """An online code in any region with its owner's name: id, region, volunteer, status,
    expiry, name, maximum amount, offer."""
    return (
        await session.execute(
            select(
                RedemptionCode.id,
                RedemptionCode.region_id,
                RedemptionCode.volunteer_id,
                RedemptionCode.status,
                RedemptionCode.expires_at,
                Volunteer.name,
                RedemptionCode.max_amount,
                RedemptionCode.offer_id,
            )
            .join(Volunteer, Volunteer.id == RedemptionCode.volunteer_id)
            .where(RedemptionCode.code_hash == code_hash)
        )
    ).one_or_none()


async def offline_key_by_wallet_no(
    session: AsyncSession, wallet_no: str
) -> Row[OfflineCodeKey, str | None] | None:
    """The offline key of a wallet number with its owner's name."""
    return (
        await session.execute(
            select(OfflineCodeKey, Volunteer.name)
            .join(Volunteer, Volunteer.id == OfflineCodeKey.volunteer_id)
            .where(OfflineCodeKey.wallet_no == wallet_no)
        )
    ).one_or_none()


# Consumes a good online code and says whose it is, in one statement; a code it does not
# consume is diagnosed by `codes.resolve`, which names the refusal.
_TAKE_ONLINE = (
    update(RedemptionCode)
    .where(
        RedemptionCode.code_hash == bindparam("p_code_hash"),
        RedemptionCode.region_id == bindparam("p_region_id"),
        RedemptionCode.status == CodeStatus.active,
        RedemptionCode.expires_at > bindparam("p_now"),
    )
    .values(status=CodeStatus.used, used_at=bindparam("p_now"))
    .returning(
        RedemptionCode.id,
        RedemptionCode.volunteer_id,
        select(Volunteer.name).where(Volunteer.id == RedemptionCode.volunteer_id).scalar_subquery(),
        RedemptionCode.max_amount,
        RedemptionCode.offer_id,
    )
    .execution_options(synchronize_session=False)
)


async def take_online_code(
    session: AsyncSession, *, code_hash: str, region_id: uuid.UUID, now: datetime
) -> tuple[uuid.UUID, uuid.UUID, str | None, int | None, uuid.UUID | None] | None:
    """Consume the region's good online code: its id, volunteer, the volunteer's name,
    maximum amount and offer; None if it consumed nothing."""
    rows = await fetch_rows(
        session, _TAKE_ONLINE, {"p_code_hash": code_hash, "p_region_id": region_id, "p_now": now}
    )
    if not rows:
        return None
    code_id, volunteer_id, name, max_amount, offer_id = rows[0]
    return code_id, volunteer_id, name, max_amount, offer_id


async def consume_offline_step(session: AsyncSession, *, key_id: uuid.UUID, step: int) -> bool:
    """Mark the offline key's step used, unless it or a later one is; True if it did."""
    result = await session.execute(
        update(OfflineCodeKey)
        .where(
            OfflineCodeKey.id == key_id,
            (OfflineCodeKey.last_used_step.is_(None)) | (OfflineCodeKey.last_used_step < step),
        )
        .values(last_used_step=step)
        .execution_options(synchronize_session=False)
    )
    return rowcount(result) == 1


async def purge_codes(session: AsyncSession, *, expired_before: datetime) -> int:
    """Delete the codes that expired before `expired_before`; how many."""
    result = await session.execute(
        delete(RedemptionCode).where(RedemptionCode.expires_at < expired_before)
    )
    return rowcount(result)
