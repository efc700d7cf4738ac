"""The demo region that `make run` loads: its organisation, and the story it lives
through on the real services (activities, hours, 良票, merchants, redemptions)."""

from __future__ import annotations

import json
from typing import Any

import httpx
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from app import cli
from app.activities.hours.models import HoursRecord, HoursStatus
from app.activities.models import Activity, ActivityStatus, Attendance, AttendanceMethod, Signup
from app.core import clock
from app.core.config import Settings
from app.demo import LOGINS, seed_demo
from app.identity.models import StaffUser
from app.ledger import service as ledger
from app.ledger.models import LedgerTransaction
from app.merchants.models import (
    Merchant,
    MerchantMember,
    MerchantSettlement,
    MerchantStatus,
    Offer,
    OfferReservation,
    Redemption,
    RedemptionRefund,
    RedemptionStatus,
    ReservationStatus,
    Terminal,
    TerminalStatus,
)
from app.orgs.models import OrgUnit, Team, UnitKind
from app.rewards.adjustments.models import Adjustment, AdjustmentStatus
from app.rewards.models import DEFAULT_RATE_PER_HOUR, RewardIssuance
from app.verification import verify_all
from app.volunteers.models import Volunteer
from bench.terminal_client import TerminalClient, TerminalSigner
from fakes.wechat import openid_for
from tests.builders import volunteer_auth
from tests.merchants.conftest import server_clock

PASSWORDS = {username: f"{username}-demo-password" for username in LOGINS}


async def _seed(app: Any) -> dict[str, Any]:
    return await seed_demo(app.state.db, admin_password="demo-password", passwords=PASSWORDS)


async def _count(session: AsyncSession, model: Any, *where: Any) -> int:
    n = await session.scalar(select(func.count()).select_from(model).where(*where))
    return int(n or 0)


async def _counts(session: AsyncSession) -> dict[str, int]:
    models = (
        Volunteer,
        StaffUser,
        Activity,
        Signup,
        Attendance,
        HoursRecord,
        RewardIssuance,
        Merchant,
        Offer,
        Terminal,
        Redemption,
        RedemptionRefund,
        OfferReservation,
        MerchantSettlement,
        Adjustment,
        LedgerTransaction,
    )
    counts = {model.__name__: await _count(session, model) for model in models}
    await session.commit()
    return counts


async def test_seed_demo_builds_the_wujiang_tree_and_its_story_once(
    session: AsyncSession, app: Any
) -> None:
    first = await _seed(app)
    before = await _counts(session)
    second = await _seed(app)
    assert first["created"] is True
    assert second["created"] is False
    assert first["terminal_keys"].keys() == {"laolu", "luxiang", "lilimart"}
    assert second["terminal_keys"] == {}
    assert await _counts(session) == before
    kinds = dict(
        (await session.execute(select(OrgUnit.kind, func.count()).group_by(OrgUnit.kind))).all()
    )
    assert kinds == {
        UnitKind.center: 1,
        UnitKind.institute: 2,
        UnitKind.station: 4,
        UnitKind.point: 1,  # 汾湖湾村's lakeside grid (app.demo.emergency)
    }
    assert await _count(session, Team) == 8
    assert before["Volunteer"] == 6
    admin = await session.scalar(select(StaffUser).where(StaffUser.username == "admin"))
    assert admin is not None
    assert admin.password_hash != "demo-password"
    # The reservation made now is the same one the second seeding found still held.
    assert second["reservation"]["pickup_code"] == first["reservation"]["pickup_code"]


async def test_the_demo_has_merchants_with_offers_staff_and_approved_terminals(
    session: AsyncSession, app: Any
) -> None:
    await _seed(app)
    merchants = list(await session.scalars(select(Merchant).order_by(Merchant.name)))
    assert {m.name for m in merchants} == {"老陆面馆", "鲈乡书店", "黎里古镇便民超市"}
    assert all(m.status == MerchantStatus.active for m in merchants)
    for merchant in merchants:
        assert await _count(session, Offer, Offer.merchant_id == merchant.id) == 2
        assert (
            await _count(
                session,
                Terminal,
                Terminal.merchant_id == merchant.id,
                Terminal.status == TerminalStatus.active,
            )
            == 1
        )
        roles = set(
            await session.scalars(
                select(MerchantMember.role).where(MerchantMember.merchant_id == merchant.id)
            )
        )
        assert roles == {"merchant_owner", "cashier"}
    assert await _count(session, Offer, Offer.stock.is_not(None)) >= 1
    assert await _count(session, Offer, Offer.min_star_level > 0) == 1


async def test_the_demo_story_goes_through_hours_liangpiao_and_the_counters(
    session: AsyncSession, app: Any
) -> None:
    await _seed(app)
    now = clock.now()
    # Held in the past (the drill's muster among them), one of them scanned in by its
    # organizer; two ahead with sign-ups.
    past = list(await session.scalars(select(Activity).where(Activity.ends_at < now)))
    assert len(past) == 4
    assert all(a.status == ActivityStatus.finished for a in past)
    scanned = [a for a in past if a.scan_required]
    assert len(scanned) == 1
    methods = set(
        await session.scalars(
            select(Attendance.method).where(Attendance.activity_id == scanned[0].id)
        )
    )
    assert methods == {AttendanceMethod.organizer_scan}
    upcoming = list(await session.scalars(select(Activity).where(Activity.starts_at > now)))
    assert len(upcoming) == 2
    for activity in upcoming:
        assert activity.status == ActivityStatus.published
        assert await _count(session, Signup, Signup.activity_id == activity.id) >= 2
    assert await _count(session, HoursRecord, HoursRecord.status == HoursStatus.approved) == 11
    assert await _count(session, HoursRecord, HoursRecord.status == HoursStatus.pending) == 2

    # 周桂芳 served two hours and spent nothing: her wallet holds what they earned.
    guifang = await session.scalar(
        select(Volunteer).where(Volunteer.openid == openid_for("guifang"))
    )
    assert guifang is not None
    minutes = await session.scalar(
        select(func.sum(HoursRecord.minutes)).where(
            HoursRecord.volunteer_id == guifang.id, HoursRecord.status == HoursStatus.approved
        )
    )
    wallet = await ledger.wallet_summary(
        session, region_id=guifang.region_id, volunteer_id=guifang.id
    )
    assert minutes == 120
    assert wallet.balance.available == minutes * DEFAULT_RATE_PER_HOUR // 60 == 20

    statuses = list(await session.scalars(select(Redemption.status)))
    assert statuses.count(RedemptionStatus.succeeded) >= 6
    assert statuses.count(RedemptionStatus.voided) == 1
    refusals = list(await session.scalars(select(Redemption.refusal_code)))
    assert "star_level_too_low" in refusals
    assert await _count(session, RedemptionRefund) == 1
    assert (
        await _count(session, OfferReservation, OfferReservation.status == ReservationStatus.held)
        == 1
    )
    assert await _count(session, MerchantSettlement, MerchantSettlement.amount > 0) >= 1
    assert await _count(session, Adjustment, Adjustment.status == AdjustmentStatus.pending) == 1
    report = await verify_all(session)
    await session.commit()
    assert report.ok, report.problems


async def test_the_demo_terminal_key_in_var_signs_a_redemption_the_api_accepts(
    settings: Settings, app: Any, client: httpx.AsyncClient, session: AsyncSession
) -> None:
    await _seed_through_the_cli(settings)
    # What README.md's example reads: the terminal and offers from var/demo.json.
    summary = json.loads((settings.var_dir / "demo.json").read_text())
    noodles = next(m for m in summary["merchants"] if m["slug"] == "laolu")
    key_file = settings.var_dir / "demo-terminal-laolu.pem"
    assert noodles["terminal_key_file"] == str(key_file)
    assert (settings.var_dir / "demo-laolu.cashier-password").exists()
    signer = TerminalSigner(
        key_id=noodles["terminal_key_id"], private_key_pem=key_file.read_text(), clock=server_clock
    )
    xiaoming = await session.scalar(
        select(Volunteer).where(Volunteer.openid == openid_for("xiaoming"))
    )
    assert xiaoming is not None
    await session.commit()
    code = await client.post("/v1/me/redemption-codes", headers=volunteer_auth(app, xiaoming))
    assert code.status_code == 201, code.text
    noodle = next(o for o in noodles["offers"] if o["title"] == "焖肉面一碗")
    redeemed = await TerminalClient(client, signer).redeem(
        code.json()["code"], request_no="TRY-0001", offer_id=noodle["id"]
    )
    assert redeemed.status_code == 201, redeemed.text
    assert redeemed.json()["status"] == "succeeded"


async def _seed_through_the_cli(settings: Settings) -> dict[str, Any]:
    """`python -m app seed-demo`'s own steps, on the test's database and var/ directory."""
    return await cli._seed(settings)


async def test_the_demo_partner_receives_the_story_as_verified_webhooks(
    app: Any, session: AsyncSession, settings: Settings
) -> None:
    from sqlalchemy import update

    from app.demo import partner
    from app.webhooks.models import WebhookEndpoint, WebhookMessage
    from app.worker import run_once
    from fakes.partner import create_fake_partner
    from tests.conftest import ServerThread

    summary = await _seed_through_the_cli(settings)
    kept = json.loads((settings.var_dir / partner.CREDENTIALS_FILE).read_text())
    assert kept["client_id"] == summary["partner"]["client_id"]
    assert kept["client_secret"].startswith("lps_")
    assert kept["webhook_secret"].startswith("whsec_")
    assert "client_secret" not in summary["partner"]
    types = set((await session.scalars(select(WebhookMessage.event_type).distinct())).all())
    await session.commit()  # on SQLite every transaction holds the write lock
    assert types == set(partner.EVENTS)
    with ServerThread(create_fake_partner(settings)) as receiver:
        async with app.state.db.sessions() as s, s.begin():
            await s.execute(update(WebhookEndpoint).values(url=f"{receiver.url}/hooks"))
            await s.execute(update(WebhookMessage).values(next_attempt_at=clock.now()))
        await run_once(app.state.db)
        async with httpx.AsyncClient() as http:
            received = (await http.get(f"{receiver.url}/messages")).json()["items"]
    messages = await _count(session, WebhookMessage)
    assert len(received) == messages
    refunded = next(m for m in received if m["type"] == "redemption.refunded")
    assert refunded["data"]["refund_no"]


async def test_the_demo_grid_team_turned_out_for_a_flood_drill_now_stood_down(
    session: AsyncSession, app: Any, client: httpx.AsyncClient
) -> None:
    from app.emergency.models import (
        Alert,
        AlertKind,
        AlertStatus,
        Answer,
        Enrolment,
        EnrolmentStatus,
        Grid,
        Response,
    )
    from app.notifications.models import Notification

    await _seed(app)
    grids = list(await session.scalars(select(Grid)))
    assert len(grids) == 1
    point = await session.get(OrgUnit, grids[0].org_unit_id)
    assert point is not None
    assert point.kind == UnitKind.point
    assert (
        await _count(session, Enrolment, Enrolment.status == EnrolmentStatus.confirmed)
        == await _count(session, Enrolment)
        == 6
    )
    alert = await session.scalar(select(Alert))
    assert alert is not None
    assert (alert.kind, alert.drill, alert.status) == (
        AlertKind.flood,
        True,
        AlertStatus.stood_down,
    )
    answers = list(await session.scalars(select(Response.answer)))
    assert sorted(answers) == sorted([Answer.coming] * 4 + [Answer.not_coming])
    drill = await session.get(Activity, alert.activity_id)
    assert drill is not None
    assert drill.status == ActivityStatus.finished
    assert drill.drill
    assert (
        await _count(
            session,
            HoursRecord,
            HoursRecord.activity_id == drill.id,
            HoursRecord.status == HoursStatus.approved,
        )
        == 4
    )
    laozhang = await session.scalar(
        select(Volunteer).where(Volunteer.openid == openid_for("laozhang"))
    )
    assert laozhang is not None
    assert (
        await _count(
            session,
            Notification,
            Notification.volunteer_id == laozhang.id,
            Notification.kind.like("emergency.%"),
        )
        == 2  # called out, stood down
    )
    await session.commit()
    record = await client.get("/v1/me/record", headers=volunteer_auth(app, laozhang))
    assert record.status_code == 200, record.text
    assert [t["title"] for t in record.json()["training"]] == [drill.title]
