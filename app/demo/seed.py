"""`seed_demo`: the organisation, then the demo's story lived through once, then what
must be fresh whenever the demo is loaded (a reservation still waiting for pick-up).

The story's dates hang on the region's today (`timeline.Calendar`):

- last month's second Saturday: 垃圾分类宣传 at 流虹社区, four volunteers check in and
  out by the activity's code; approved two days later, their 良票 issued;
- the Saturday after: 义诊 at 黎里社区, `scan_required`, the organizer scans each
  volunteer in and out; approved, issued;
- the days after: redemptions at the three 文明商户, one voided at the counter, one
  refunded by the owner the next day, one refused (the offer needs a star);
- two weeks ago: 汾湖湾村's lakeside point made a grid, the volunteers enrolled in its
  emergency team and confirmed; five days ago: a 防汛演练 called out, answered, mustered,
  stood down, its hours approved the next morning (`app.demo.emergency`);
- three days ago: 河湖巡护 at 汾湖湾村, its hours still pending for approval;
- yesterday: one more redemption, so yesterday's statement is final;
- now: last month settled, an award adjustment over the threshold waiting for the
  second centre admin, two upcoming activities with sign-ups, and a reservation.

Seeding again finds the story told and adds nothing; a story cut off half-way is
reported rather than told twice.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.activities.hours import service as hours_service
from app.activities.hours.models import HoursRecord, HoursStatus
from app.activities.models import Activity
from app.core import clock
from app.core.db import Database
from app.demo import cast, notices, partner
from app.demo import emergency as grid_emergency
from app.demo import merchants as shops
from app.demo.activities import (
    Visit,
    approve_hours,
    attend_by_code,
    attend_by_scan,
    finish,
    plan,
)
from app.demo.organisation import seed_organisation
from app.demo.timeline import Calendar, scene, staff, volunteer
from app.ledger import service as ledger
from app.merchants import settlement
from app.merchants.models import Offer
from app.orgs.models import Region
from app.rewards.adjustments import service as adjustments
from app.rewards.adjustments.models import Adjustment, AdjustmentStatus
from app.rewards.adjustments.schemas import AdjustmentCreate

# Every login the demo makes, besides `admin`: its passwords come from the caller.
LOGINS = tuple(s.username for s in cast.STAFF) + tuple(
    username for m in cast.MERCHANTS for username in (m.owner_username, m.cashier_username)
)
RESERVER = "xiaoming"
RESERVED = (cast.MART, "东北大米5kg")


class DemoIncomplete(RuntimeError):
    """The demo's story was begun but not finished: seeding again would tell it twice."""


async def seed_demo(
    db: Database, *, admin_password: str | None, passwords: Mapping[str, str]
) -> dict[str, Any]:
    """Load the demo (idempotent). `passwords` has one for each of `LOGINS`. The summary
    names what exists; `terminal_keys` holds the private keys of terminals made by this
    call, which nothing else keeps."""
    async with scene(db) as session:
        region, created = await seed_organisation(
            session, admin_password=admin_password, passwords=passwords
        )
    keys: dict[str, str] = {}
    connected: dict[str, Any] | None = None
    async with scene(db) as session:
        told = await _story_state(session, region)
    if told == "untold":
        cal = Calendar(today=clock.today_in(region.timezone), timezone=region.timezone)
        connected = await partner.connect(
            db, cal.at(cal.first_saturday - timedelta(days=4), "10:00"), region
        )
        keys = await _tell(db, region, dict(passwords))
    elif told == "cut off":
        raise DemoIncomplete(
            "the demo was interrupted while it was being loaded: remove the database "
            "(make clean, or delete var/liangpiao.db) and run `python -m app seed-demo` again"
        )
    await _run_jobs(db)
    async with scene(db) as session:
        waiting = await shops.held_reservation(session, region.id, RESERVER)
    if waiting is None:
        await shops.reserve(db, region, RESERVED[0], login_code=RESERVER, offer=RESERVED[1])
    await _run_jobs(db)
    async with scene(db) as session:
        summary = await describe(session, region)
    return {
        "region": region.name,
        "created": created,
        **summary,
        "partner": connected,
        "terminal_keys": keys,
    }


async def _story_state(session: AsyncSession, region: Region) -> str:
    began = await session.scalar(
        select(func.count())
        .select_from(Activity)
        .where(Activity.region_id == region.id, Activity.title == cast.GRID_CLEANUP.title)
    )
    if not began:
        return "untold"
    ended = await session.scalar(
        select(func.count())
        .select_from(Adjustment)
        .where(Adjustment.region_id == region.id, Adjustment.reason == cast.AWARD_REASON)
    )
    return "told" if ended else "cut off"


async def _run_jobs(db: Database) -> None:
    """Every background job once, as the worker would: events delivered, the ledger
    sealed, lapsed reservations released."""
    from app.worker import run_once

    await run_once(db)


async def _tell(db: Database, region: Region, passwords: dict[str, str]) -> dict[str, str]:
    cal = Calendar(today=clock.today_in(region.timezone), timezone=region.timezone)
    first, second = cal.first_saturday, cal.second_saturday
    day = timedelta(days=1)

    keys = await shops.onboard(db, cal.at(first - 3 * day, "15:00"), region, passwords)
    await notices.subscribe(db, cal.at(first - 3 * day, "16:00"))

    cleanup = await plan(
        db, cal, region, cast.GRID_CLEANUP, first,
        signups=["xiaoming", "xiaohong", "xiaoyu", "guifang"],
    )  # fmt: skip
    await attend_by_code(
        db,
        cal,
        cleanup,
        first,
        [
            Visit("xiaoming", "08:46", "11:34"),
            Visit("xiaohong", "08:51", "11:36"),
            Visit("xiaoyu", "08:55", "11:33"),
            Visit("guifang", "08:58", "11:00"),  # left early: two hours
        ],
    )
    await finish(db, cal, cleanup, first, "12:10")
    await approve_hours(db, cal, cleanup, first + 2 * day, "09:30")

    clinic = await plan(
        db, cal, region, cast.CLINIC, second, signups=["laozhang", "haoran", "xiaoming"]
    )
    await attend_by_scan(
        db,
        cal,
        clinic,
        second,
        [
            Visit("laozhang", "08:12", "11:40"),
            Visit("haoran", "08:20", "11:42"),
            Visit("xiaoming", "08:25", "11:45"),
        ],
    )
    await finish(db, cal, clinic, second, "12:00")
    await approve_hours(db, cal, clinic, second + 2 * day, "10:00")

    await _counters(db, cal, region)
    await grid_emergency.tell(db, cal, region)

    patrol_day = cal.days_ago(3)
    patrol = await plan(
        db, cal, region, cast.RIVER_PATROL, patrol_day, signups=["laozhang", "xiaohong"]
    )
    await attend_by_code(
        db,
        cal,
        patrol,
        patrol_day,
        [Visit("laozhang", "13:50", "16:35"), Visit("xiaohong", "13:55", "16:32")],
    )
    await finish(db, cal, patrol, patrol_day, "17:00")  # its hours wait for approval

    yesterday = cal.days_ago(1)
    await shops.redeem(
        db,
        cal.at(yesterday, "11:40"),
        region,
        shops.Sale(cast.NOODLES, "xiaoyu", "阳春面一碗", _request_no(cast.NOODLES, yesterday, 1)),
    )

    upcoming = cal.next_saturday
    await plan(
        db, cal, region, cast.SATURDAY, upcoming,
        signups=["xiaoming", "xiaohong", "xiaoyu"], upcoming=True,
    )  # fmt: skip
    await plan(
        db, cal, region, cast.TUTORING, upcoming + day,
        signups=["haoran", "guifang"], upcoming=True,
    )  # fmt: skip

    async with scene(db) as session:
        await settlement.settle_month(
            session, staff=await staff(session, "admin"), period=cal.period
        )
    async with scene(db) as session:
        admin = await staff(session, "admin")
        issuance = await ledger.system_account(
            session, region_id=region.id, kind=ledger.AccountKind.issuance
        )
        awardee = await volunteer(session, "laozhang")
        wallet = await ledger.wallet_account(session, region_id=region.id, volunteer_id=awardee.id)
        await adjustments.request(
            session,
            staff=admin,
            data=AdjustmentCreate(
                debit_account_id=issuance.id,
                credit_account_id=wallet.id,
                amount=cast.AWARD_AMOUNT,
                reason=cast.AWARD_REASON,
                reference=cast.AWARD_REFERENCE.format(year=cal.today.year),
            ),
        )
    return keys


def _request_no(spec: cast.MerchantSpec, day: date, n: int) -> str:
    return f"{spec.slug.upper()}-{day:%Y%m%d}-{n:03d}"


async def _counters(db: Database, cal: Calendar, region: Region) -> None:
    """The week after the clinic at the three counters."""
    tuesday = cal.second_saturday + timedelta(days=3)
    wednesday, thursday = tuesday + timedelta(days=1), tuesday + timedelta(days=2)
    noodles, books, mart = cast.NOODLES, cast.BOOKS, cast.MART
    sold = _request_no(noodles, tuesday, 1)
    await shops.redeem(
        db, cal.at(tuesday, "12:05"), region, shops.Sale(noodles, "xiaoming", "焖肉面一碗", sold)
    )
    # He wanted the 阳春面: the cashier voids the sale at once and rings up the other.
    await shops.void(db, cal.at(tuesday, "12:07"), region, noodles, sold)
    rice = _request_no(mart, wednesday, 1)
    for when, sale in [
        (
            cal.at(tuesday, "12:08"),
            shops.Sale(noodles, "xiaoming", "阳春面一碗", _request_no(noodles, tuesday, 2)),
        ),
        (
            cal.at(tuesday, "12:31"),
            shops.Sale(noodles, "haoran", "焖肉面一碗", _request_no(noodles, tuesday, 3)),
        ),
        # No demo volunteer has a star yet: the terminal hears star_level_too_low.
        (
            cal.at(wednesday, "10:10"),
            shops.Sale(
                books, "haoran", "文创笔记本（星级志愿者专享）", _request_no(books, wednesday, 1)
            ),
        ),
        (
            cal.at(wednesday, "15:20"),
            shops.Sale(books, "xiaohong", "《吴江文史》读本", _request_no(books, wednesday, 2)),
        ),
        (cal.at(wednesday, "16:40"), shops.Sale(mart, "laozhang", "东北大米5kg", rice)),
    ]:
        await shops.redeem(db, when, region, sale)
    # The bag of rice was torn: the owner refunds it the next morning.
    await shops.refund(
        db,
        cal.at(thursday, "09:15"),
        region,
        mart,
        request_no=rice,
        refund_no=f"R-{rice}",
        amount=25,
    )
    await shops.redeem(
        db,
        cal.at(thursday, "10:02"),
        region,
        shops.Sale(mart, "laozhang", "环保购物袋", _request_no(mart, thursday, 1)),
    )


async def describe(session: AsyncSession, region: Region) -> dict[str, Any]:
    """What a developer needs to try the demo: logins, balances, merchants, a pick-up code."""
    people = []
    for login_code, name in cast.VOLUNTEERS:
        person = await volunteer(session, login_code)
        wallet = await ledger.wallet_summary(session, region_id=region.id, volunteer_id=person.id)
        minutes = await hours_service.approved_minutes(
            session, region_id=region.id, volunteer_id=person.id
        )
        people.append(
            {
                "wechat_login_code": login_code,
                "name": name,
                "approved_hours": minutes / 60,
                "liangpiao_available": wallet.balance.available,
            }
        )
    merchants = []
    for spec in cast.MERCHANTS:
        merchant = await shops.merchant_of(session, region.id, spec)
        terminal = await shops.terminal_of(session, merchant)
        offers = await session.scalars(
            select(Offer).where(Offer.merchant_id == merchant.id).order_by(Offer.created_at)
        )
        merchants.append(
            {
                "slug": spec.slug,
                "name": merchant.name,
                "merchant_id": str(merchant.id),
                "terminal_key_id": str(terminal.id),
                "logins": [spec.owner_username, spec.cashier_username],
                "offers": [{"id": str(o.id), "title": o.title, "price": o.price} for o in offers],
            }
        )
    reservation = await shops.held_reservation(session, region.id, RESERVER)
    pending_hours = await session.scalar(
        select(func.count())
        .select_from(HoursRecord)
        .where(HoursRecord.region_id == region.id, HoursRecord.status == HoursStatus.pending)
    )
    adjustment = await session.scalar(
        select(Adjustment.id).where(
            Adjustment.region_id == region.id,
            Adjustment.reason == cast.AWARD_REASON,
            Adjustment.status == AdjustmentStatus.pending,
        )
    )
    yesterday = clock.today_in(region.timezone) - timedelta(days=1)
    return {
        "staff": ["admin", *LOGINS[: len(cast.STAFF)]],
        "volunteers": people,
        "merchants": merchants,
        "reservation": None
        if reservation is None
        else {
            "volunteer": RESERVER,
            "merchant": RESERVED[0].name,
            "offer": RESERVED[1],
            "pickup_code": reservation.pickup_code,
            "expires_at": reservation.expires_at.isoformat(),
        },
        "pending_hours_records": pending_hours,
        "emergency": await grid_emergency.summary(session, region),
        "pending_adjustment_id": str(adjustment) if adjustment else None,
        "closed_statement": (
            f"GET /v1/merchants/{merchants[0]['merchant_id']}/statements/{yesterday}"
        ),
    }
