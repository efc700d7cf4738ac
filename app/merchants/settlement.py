"""Daily statements of a merchant's account, and the region's monthly settlement.

A statement lists one business day (region time) of redemptions, voids, refunds
and settlements with their totals, as JSON and as CSV. The region's current day
has a provisional statement: lines may still join it, so it carries no digest.
From the next day on it is final, and the JSON carries the CSV's SHA-256 so that
a merchant can check the file it downloaded. A day the region has not reached is
refused, naming the region's date. `redemptions` lists a merchant's attempts,
newest first, by region day, terminal and outcome.

Settling month M moves, per merchant, what its receipts account received up to
the end of M and has not been settled yet (capped by what the account holds, as
refunds since may have used some) into the region's settled account: one ledger
transaction per merchant and month, recorded under a unique (merchant, month),
so running it again changes nothing.
"""

from __future__ import annotations

import csv
import hashlib
import io
import uuid
from datetime import date, datetime
from typing import Literal
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncSession

from app.core import clock
from app.core.pagination import Page, PageParams, keyset_page
from app.identity.principals import StaffContext
from app.ledger import service as ledger
from app.merchants import repository, schemas
from app.merchants.access import MerchantActor, merchant_for
from app.merchants.errors import SettlementPeriodOpen, StatementNotReady
from app.merchants.models import MerchantSettlement, RedemptionStatus
from app.merchants.redemption import receipt
from app.orgs.authz import require_center_admin
from app.orgs.models import Region

CSV_COLUMNS = (
    "at",
    "type",
    "redemption_id",
    "request_no",
    "refund_no",
    "offer_id",
    "terminal_id",
    "amount",
    "transaction_id",
)
_LINE_ORDER = {"redemption": 0, "void": 1, "refund": 2, "settlement": 3}


def _bounds(start: date, end: date, timezone: str) -> tuple[datetime, datetime]:
    """The UTC instants at which the region-time days `start` and `end` begin."""
    tz = ZoneInfo(timezone)
    return (
        datetime(start.year, start.month, start.day, tzinfo=tz).astimezone(ZoneInfo("UTC")),
        datetime(end.year, end.month, end.day, tzinfo=tz).astimezone(ZoneInfo("UTC")),
    )


def _next_month(day: date) -> date:
    return date(day.year + day.month // 12, day.month % 12 + 1, 1)


def _settlement_out(row: MerchantSettlement) -> schemas.Settlement:
    return schemas.Settlement.model_validate(row)


def statement_csv(lines: list[schemas.StatementLine]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(CSV_COLUMNS)
    for line in lines:
        writer.writerow(
            [
                line.at.isoformat(),
                line.type,
                line.redemption_id or "",
                line.request_no or "",
                line.refund_no or "",
                line.offer_id or "",
                line.terminal_id or "",
                line.amount,
                line.transaction_id or "",
            ]
        )
    return out.getvalue()


async def statement(
    session: AsyncSession, *, actor: MerchantActor, merchant_id: uuid.UUID, day: date
) -> tuple[schemas.Statement, str]:
    """The day's statement and its CSV; by the merchant's owner or its managers."""
    merchant = await merchant_for(session, actor=actor, merchant_id=merchant_id, owner=True)
    region = await repository.region(session, merchant.region_id)
    assert region is not None
    provisional = _reached(day, region) == "today"
    start, end = _bounds(day, date.fromordinal(day.toordinal() + 1), region.timezone)
    lines: list[schemas.StatementLine] = []

    redeemed = await repository.redeemed_between(
        session, merchant_id=merchant.id, start=start, end=end
    )
    for r in redeemed:
        assert r.amount is not None
        lines.append(
            schemas.StatementLine(
                at=r.created_at,
                type="redemption",
                redemption_id=r.id,
                request_no=r.request_no,
                refund_no=None,
                offer_id=r.offer_id,
                terminal_id=r.terminal_id,
                amount=r.amount,
                transaction_id=r.transaction_id,
            )
        )
    voided = await repository.voided_between(session, merchant_id=merchant.id, start=start, end=end)
    for r in voided:
        assert r.amount is not None
        assert r.voided_at is not None
        lines.append(
            schemas.StatementLine(
                at=r.voided_at,
                type="void",
                redemption_id=r.id,
                request_no=r.request_no,
                refund_no=None,
                offer_id=r.offer_id,
                terminal_id=r.terminal_id,
                amount=-r.amount,
                transaction_id=r.void_transaction_id,
            )
        )
    refunds = await repository.refunded_between(
        session, merchant_id=merchant.id, start=start, end=end
    )
    for refund, r in refunds:
        lines.append(
            schemas.StatementLine(
                at=refund.created_at,
                type="refund",
                redemption_id=r.id,
                request_no=r.request_no,
                refund_no=refund.refund_no,
                offer_id=r.offer_id,
                terminal_id=r.terminal_id,
                amount=-refund.amount,
                transaction_id=refund.transaction_id,
            )
        )
    settled_today = await repository.settled_between(
        session, merchant_id=merchant.id, start=start, end=end
    )
    for s in settled_today:
        lines.append(
            schemas.StatementLine(
                at=s.created_at,
                type="settlement",
                redemption_id=None,
                request_no=None,
                refund_no=s.period,
                offer_id=None,
                terminal_id=None,
                amount=-s.amount,
                transaction_id=s.transaction_id,
            )
        )
    lines.sort(key=lambda line: (line.at, _LINE_ORDER[line.type], str(line.redemption_id)))

    def total(kind: str) -> int:
        return sum(abs(line.amount) for line in lines if line.type == kind)

    covering = await repository.settlement_of(
        session, merchant_id=merchant.id, period=f"{day.year}-{day.month:02d}"
    )
    body = statement_csv(lines)
    result = schemas.Statement(
        merchant_id=merchant.id,
        merchant_name=merchant.name,
        date=day,
        timezone=region.timezone,
        provisional=provisional,
        lines=lines,
        totals=schemas.StatementTotals(
            redemptions=sum(1 for line in lines if line.type == "redemption"),
            redeemed=total("redemption"),
            voided=total("void"),
            refunded=total("refund"),
            net=total("redemption") - total("void") - total("refund"),
            settled=total("settlement"),
        ),
        settlement=_settlement_out(covering) if covering is not None else None,
        csv_sha256=None if provisional else hashlib.sha256(body.encode()).hexdigest(),
    )
    return result, body


def _reached(day: date, region: Region) -> Literal["past", "today"]:
    """Whether the region's clock has passed `day` or is on it; a later day is refused."""
    today = clock.today_in(region.timezone)
    if day > today:
        raise StatementNotReady(f"It is {today} in {region.timezone}: {day} has not begun")
    return "today" if day == today else "past"


async def redemptions(
    session: AsyncSession,
    *,
    actor: MerchantActor,
    merchant_id: uuid.UUID,
    day: date | None,
    terminal_id: uuid.UUID | None,
    status: RedemptionStatus | None,
    page: PageParams,
) -> Page[schemas.Receipt]:
    """A merchant's redemption attempts, newest first; by its managers, owner and cashiers.

    `day` is a business day in the region's time zone."""
    merchant = await merchant_for(session, actor=actor, merchant_id=merchant_id)
    between = None
    if day is not None:
        region = await repository.region(session, merchant.region_id)
        assert region is not None
        _reached(day, region)
        between = _bounds(day, date.fromordinal(day.toordinal() + 1), region.timezone)
    rows = await repository.attempts_of(
        session,
        merchant_id=merchant.id,
        between=between,
        terminal_id=terminal_id,
        status=status,
        page=page,
    )
    return keyset_page(rows, page, key=lambda r: (r.created_at, r.id), out=receipt)


async def settle_month(
    session: AsyncSession, *, staff: StaffContext, period: str
) -> schemas.SettlementRun:
    """Settle every merchant of the staff's region for `period` ("YYYY-MM"), once."""
    require_center_admin(staff)
    region = await repository.region(session, staff.region_id)
    assert region is not None
    year, month = (int(part) for part in period.split("-"))
    first = date(year, month, 1)
    after = _next_month(first)
    if clock.today_in(region.timezone) < after:
        raise SettlementPeriodOpen(f"{period} ends on {after.isoformat()} (region time)")
    await repository.lock_settlement_run(session, region_id=region.id, period=period)
    _, end = _bounds(first, after, region.timezone)

    redeemed = await repository.redeemed_by_merchant(session, region_id=region.id, before=end)
    voided = await repository.voided_by_merchant(session, region_id=region.id, before=end)
    refunded = await repository.refunded_by_merchant(session, region_id=region.id, before=end)
    settled_before = await repository.settled_by_merchant(session, region_id=region.id)
    done = await repository.settlements_of_period(session, region_id=region.id, period=period)
    settled_account = None
    actor = f"staff:{staff.id}"
    merchant_ids = sorted(set(redeemed) | set(done), key=lambda merchant_id: merchant_id.bytes)
    merchants = await repository.merchants_by_id(
        session, region_id=region.id, merchant_ids=merchant_ids
    )
    results: list[schemas.Settlement] = []
    for merchant_id in merchant_ids:
        if merchant_id in done:
            results.append(_settlement_out(done[merchant_id]))
            continue
        unsettled = (
            redeemed.get(merchant_id, 0)
            - voided.get(merchant_id, 0)
            - refunded.get(merchant_id, 0)
            - settled_before.get(merchant_id, 0)
        )
        account = await ledger.merchant_account(
            session, region_id=region.id, merchant_id=merchant_id
        )
        amount = max(0, min(unsettled, account.available))
        transaction_id = None
        if amount > 0:
            if settled_account is None:
                settled_account = await ledger.system_account(
                    session, region_id=region.id, kind=ledger.AccountKind.settled
                )
            tx = await ledger.transfer(
                session,
                region_id=region.id,
                kind=ledger.TxKind.settle,
                postings=[(account.id, -amount), (settled_account.id, amount)],
                reference_type="merchant_settlement",
                reference_id=f"{merchant_id}:{period}",
                actor=actor,
                metadata={
                    "period": period,
                    "merchant_id": str(merchant_id),
                    "merchant_name": merchants[merchant_id].name,
                },
            )
            transaction_id = tx.id
        row = MerchantSettlement(
            region_id=region.id,
            merchant_id=merchant_id,
            period=period,
            amount=amount,
            transaction_id=transaction_id,
            settled_by=actor,
            created_at=clock.now(),
        )
        session.add(row)
        await session.flush()
        results.append(_settlement_out(row))
    return schemas.SettlementRun(
        period=period, settlements=results, total=sum(s.amount for s in results)
    )
