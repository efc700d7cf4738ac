"""SQL of the counter's attempts and the merchant's refunds.

An attempt's row is claimed with one INSERT … ON CONFLICT DO NOTHING and its outcome
written with one UPDATE, both built once and sent with `fetch_rows`: the redemption
is a hot path, and neither loads the row back through the ORM.
"""

from __future__ import annotations

import uuid
from functools import cache
from typing import Any

from sqlalchemy import bindparam, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.db import dialect_insert, fetch_rows
from app.merchants.models import Redemption, RedemptionRefund

_CLAIM_COLUMNS = [
    Redemption.__table__.c[name]
    for name in (
        "id",
        "region_id",
        "merchant_id",
        "terminal_id",
        "request_no",
        "fingerprint",
        "status",
        "refunded_amount",
        "created_at",
    )
]
_OUTCOME_COLUMNS = (
    "status",
    "volunteer_id",
    "offer_id",
    "code_kind",
    "amount",
    "transaction_id",
    "volunteer_display",
    "refusal_code",
    "refusal_status",
    "refusal_detail",
    "usage_period_key",
)


@cache
def _claim_statement(dialect: str) -> Any:
    table = Redemption.metadata.tables[Redemption.__tablename__]
    return (
        dialect_insert(dialect)(table)
        .on_conflict_do_nothing(index_elements=["terminal_id", "request_no"])
        .returning(table.c.id)
    )


# Built once: the outcome's columns as parameters, the claimed row by its id.
_FINISH = (
    update(Redemption)
    .where(Redemption.id == bindparam("p_id"))
    .values({name: bindparam(f"p_{name}") for name in _OUTCOME_COLUMNS})
    .execution_options(synchronize_session=False)
)


async def claim(session: AsyncSession, redemption: Redemption) -> bool:
    """Insert the attempt's row unless the terminal's request number has one already."""
    claimed = await fetch_rows(
        session,
        _claim_statement(session.get_bind().dialect.name),
        {c.name: getattr(redemption, c.key) for c in _CLAIM_COLUMNS},
    )
    return bool(claimed)


async def finish(session: AsyncSession, redemption: Redemption) -> None:
    """Write the attempt's outcome onto its claimed row."""
    params = {f"p_{name}": getattr(redemption, name) for name in _OUTCOME_COLUMNS}
    await fetch_rows(session, _FINISH, {"p_id": redemption.id, **params})


async def attempt(
    session: AsyncSession, *, terminal_id: uuid.UUID, request_no: str, lock: bool = False
) -> Redemption | None:
    """The terminal's attempt under `request_no`, locked if asked."""
    query = select(Redemption).where(
        Redemption.terminal_id == terminal_id, Redemption.request_no == request_no
    )
    return await session.scalar(query.with_for_update() if lock else query)


async def lock_redemption(
    session: AsyncSession, *, redemption_id: uuid.UUID, merchant_id: uuid.UUID
) -> Redemption | None:
    return await session.scalar(
        select(Redemption)
        .where(Redemption.id == redemption_id, Redemption.merchant_id == merchant_id)
        .with_for_update()
    )


async def refund_by_no(
    session: AsyncSession, *, redemption_id: uuid.UUID, refund_no: str
) -> RedemptionRefund | None:
    return await session.scalar(
        select(RedemptionRefund).where(
            RedemptionRefund.redemption_id == redemption_id,
            RedemptionRefund.refund_no == refund_no,
        )
    )
