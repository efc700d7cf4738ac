"""The world the authorization matrix runs in: one region's tree, staff, volunteers and
merchants (the principals), and the resources each route acts on (the targets).

Every target belongs to someone in particular (volunteer A, station X, merchant M),
so that each principal's answer says whether it may reach *that* row. A call that
uses up what it acts on (approving hours, publishing a draft) gets a fresh row from
`Fresh`, so that every allowed principal acts on something it can act on.
`Targets.randomized()` names the same kinds of things by ids nobody holds: a refusal
must read the same for a real row as for one that does not exist.
"""

from __future__ import annotations

import dataclasses
import secrets
import uuid
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

import httpx
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.activities.hours.models import (
    ActorKind,
    CorrectionStatus,
    HoursCorrection,
    HoursRecord,
    HoursSource,
    HoursStatus,
)
from app.activities.models import Activity, ActivityStatus, Attendance, AttendanceMethod, Project
from app.clients.models import ClientSecret, ClientStatus, OAuthClient
from app.clients.oauth import access_token_for
from app.core import clock
from app.core.security import hash_secret
from app.emergency import service as emergency
from app.emergency.models import EnrolmentStatus, Grid
from app.emergency.schemas import AlertCreate
from app.identity.models import PlatformAdmin, StaffUser
from app.identity.principals import Principal, load_staff
from app.identity.scopes import SCOPES
from app.identity.service import create_platform_admin
from app.integrations.models import OutboxEvent
from app.ledger import service as ledger
from app.ledger.models import AccountKind
from app.merchants.models import Merchant, MerchantRole, MerchantStatus, TerminalStatus
from app.notifications.kinds import NotificationKind
from app.notifications.models import Notification, NotificationTemplate
from app.notifications.service import notify
from app.orgs.models import Role, StaffGrant, Team, TeamCategory
from app.rewards.adjustments.models import Adjustment, AdjustmentStatus, ApprovalCause
from app.tenants.service import create_region
from app.volunteers.models import IdType, Volunteer
from app.volunteers.service import check_character
from app.webhooks import service as webhooks
from app.webhooks.schemas import EndpointCreate
from bench.terminal_client import TerminalClient, TerminalSigner
from tests.activities.support import LAT, LNG, make_activity, minute, sign_up_row
from tests.builders import (
    PASSWORD,
    World,
    bearer,
    make_staff,
    make_unit,
    make_volunteer,
    make_world,
)
from tests.emergency.support import enrol_row, make_grid
from tests.ledger.sealing_support import seal
from tests.merchants.conftest import make_member, make_merchant, make_offer, make_terminal

PASSWORD_USER = "matrix-login"
MATRIX_TEMPLATE = "tmpl-matrix"  # the WeChat template id both regions have


@dataclass(frozen=True)
class Targets:
    """What the requests name. Each id is a seeded row unless `randomized()`."""

    region: uuid.UUID
    region_code: str
    station_x: uuid.UUID
    point_x: uuid.UUID
    team_x: uuid.UUID
    project_x: uuid.UUID
    # Activities of station X.
    activity: uuid.UUID  # published, check-in open now, walk-ins; A signed up
    draft: uuid.UUID
    finished: uuid.UUID  # finished two days ago, ten hours long; hours are on it
    to_sign_up: uuid.UUID  # starts tomorrow; nobody signed up
    signed_up: uuid.UUID  # starts tomorrow; A and B signed up
    checkout: uuid.UUID  # ended minutes ago; A and B checked in, not out
    volunteer_a: uuid.UUID
    volunteer_b: uuid.UUID
    staff_victim: uuid.UUID  # an organizer on station X
    record: uuid.UUID  # hours of A, pending
    # The ledger.
    wallet_a: uuid.UUID
    issuance_account: uuid.UUID
    tx_sealed: uuid.UUID  # an issuance to A, sealed into a block
    tx_to_reverse: uuid.UUID  # another issuance to A
    adjustment: uuid.UUID  # a pending credit to A, asked by the region's second center admin
    # Merchant M (station X): its offer, terminals and redemptions.
    merchant: uuid.UUID
    offer: uuid.UUID
    oauth_client: uuid.UUID  # an active client of the region, with hours:read
    webhook_endpoint: uuid.UUID  # of the region's client with webhooks:manage
    webhook_message: uuid.UUID  # a ping to that endpoint
    notification: uuid.UUID  # in A's inbox
    # Point X's grid: A in its team; an alert of it that called A, and one stood down.
    grid: uuid.UUID
    alert: uuid.UUID
    alert_closed: uuid.UUID
    redemption: uuid.UUID  # succeeded, of A, at M's signing terminal
    redemption_request_no: str
    void_request_no: str  # another succeeded redemption, to be voided
    # The check-in secrets of the activities above, to make their codes.
    checkin_secrets: dict[uuid.UUID, bytes] = field(default_factory=dict)

    def randomized(self) -> Targets:
        """The same request shapes naming nothing that exists."""
        values: dict[str, Any] = {}
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            if isinstance(value, uuid.UUID):
                values[f.name] = uuid.uuid4()
            elif f.name.endswith("request_no"):
                values[f.name] = f"X-{secrets.token_hex(6)}"
        return dataclasses.replace(self, checkin_secrets={}, **values)


@dataclass
class Principals:
    """Everyone who calls: people with bearer tokens, terminals that sign, and nobody."""

    app: Any
    world: World
    owner: StaffUser
    cashier: StaffUser
    other_cashier: StaffUser
    terminal: TerminalSigner
    revoked_terminal: TerminalSigner
    platform_admin: PlatformAdmin
    # OAuth clients by principal name: their id, region and scopes.
    clients: dict[str, tuple[uuid.UUID, uuid.UUID, list[str]]] = field(default_factory=dict)

    def person(self, name: str) -> Volunteer | StaffUser:
        if name in ("owner", "cashier", "other_cashier"):
            user: StaffUser = getattr(self, name)
            return user
        person: Volunteer | StaffUser = getattr(
            self.world, "station_admin_x" if name == "station_admin" else name
        )
        return person

    def bearer(self, name: str) -> dict[str, str]:
        """A token minted now, so that a long run never meets its expiry."""
        if name == "expired_token":
            admin = self.world.center_admin
            return bearer(
                self.app,
                sub=admin.id,
                typ="staff",
                region_id=admin.region_id,
                ttl=timedelta(hours=-1),
            )
        if name == "platform_admin":
            return bearer(
                self.app, sub=self.platform_admin.id, typ="platform_admin", region_id=None
            )
        if name in self.clients:
            client_id, region_id, scopes = self.clients[name]
            value, _ = access_token_for(
                self.app.state.keyring, client_id=client_id, region_id=region_id, scopes=scopes
            )
            return {"Authorization": f"Bearer {value}"}
        return token_for(self.app, self.person(name))

    def signer(self, name: str) -> TerminalSigner | None:
        if name == "terminal":
            return self.terminal
        if name == "revoked_terminal":
            return self.revoked_terminal
        return None


# The OAuth client principals: one with each scope, one with none, and another region's
# client with every scope.
CLIENT_PRINCIPALS: dict[str, list[str]] = {
    "client_none": [],
    **{f"client_{scope.split(':')[0]}": [scope] for scope in SCOPES},
    "other_client": sorted(SCOPES),
}


def token_for(app: Any, who: Volunteer | StaffUser) -> dict[str, str]:
    if isinstance(who, Volunteer):
        return bearer(app, sub=who.id, typ="volunteer", region_id=who.region_id)
    typ = "merchant_staff" if who.kind == "merchant" else "staff"
    return bearer(app, sub=who.id, typ=typ, region_id=who.region_id)


@dataclass
class Fresh:
    """Rows made for one call, each in its own committed transaction."""

    app: Any
    world: World
    activity: Activity  # the published one, open for check-in
    finished: Activity
    merchant: Merchant
    second_admin: StaffUser  # a center admin of the region who is none of the principals
    issuance_account: uuid.UUID
    wallet_a: uuid.UUID
    oauth_client: uuid.UUID = field(default_factory=uuid.uuid4)
    oauth_secret: str = ""
    grid_x: uuid.UUID = field(default_factory=uuid.uuid4)

    async def region(self) -> uuid.UUID:
        """A new region, founded as the platform founds one, without a center admin yet."""
        async with self.app.state.db.sessions() as session, session.begin():
            founded = await create_region(
                session, code=f"matrix-{secrets.token_hex(5)}", name="新区"
            )
        return founded.region.id

    async def _commit(self, *rows: Any) -> None:
        async with self.app.state.db.sessions() as session:
            session.add_all(rows)
            await session.commit()

    async def activity_of_x(self, *, starts_at: datetime, status: ActivityStatus) -> uuid.UUID:
        async with self.app.state.db.sessions() as session:
            activity = await make_activity(
                session,
                self.world.station_x,
                self.world.organizer_x,
                starts_at=starts_at,
                status=status,
            )
            return activity.id

    async def pending_record(self) -> uuid.UUID:
        """Hours of a new volunteer: deciding them meets no cap of anyone else's."""
        record = _record(self.finished, await self.volunteer())
        await self._commit(record)
        return record.id

    async def pending_record_of_a(self) -> uuid.UUID:
        # Short: one is made per refused principal, and A's day stays under the daily cap.
        record = _record(self.finished, self.world.volunteer_a, minutes=10)
        await self._commit(record)
        return record.id

    async def open_correction(self) -> uuid.UUID:
        record = _record(self.finished, await self.volunteer(), status=HoursStatus.approved)
        await self._commit(record)
        correction = HoursCorrection(
            region_id=record.region_id,
            hours_record_id=record.id,
            volunteer_id=record.volunteer_id,
            minutes=60,
            reason="实际服务一小时",
            status=CorrectionStatus.open,
            open_record_id=record.id,
        )
        await self._commit(correction)
        return correction.id

    async def point_of_x(self) -> uuid.UUID:
        """A new point under station X, no grid yet."""
        async with self.app.state.db.sessions() as session:
            point = await make_unit(session, self.world.region, parent=self.world.station_x)
            return point.id

    async def pending_enrolment_of_x(self) -> uuid.UUID:
        """A new volunteer asking to join point X's grid."""
        volunteer = await self.volunteer()
        async with self.app.state.db.sessions() as session:
            grid = await session.get(Grid, self.grid_x)
            assert grid is not None
            enrolment = await enrol_row(session, grid, volunteer, status=EnrolmentStatus.pending)
            return enrolment.id

    async def enrolment_of_a(self) -> uuid.UUID:
        """A's request to join a new grid under station X."""
        async with self.app.state.db.sessions() as session:
            point = await make_unit(session, self.world.region, parent=self.world.station_x)
            grid = await make_grid(session, point, self.world.organizer_x)
            enrolment = await enrol_row(
                session, grid, self.world.volunteer_a, status=EnrolmentStatus.pending
            )
            return enrolment.id

    async def alert_of_x(self) -> uuid.UUID:
        """An open alert of point X's grid, raised by its organizer, that called A."""
        return await raise_alert_row(self.app, self.world, self.grid_x)

    async def volunteer(self) -> Volunteer:
        async with self.app.state.db.sessions() as session:
            return await make_volunteer(session, self.world.region)

    async def walk_in(self) -> Volunteer:
        """A volunteer signed up for the open activity, not yet checked in."""
        volunteer = await self.volunteer()
        async with self.app.state.db.sessions() as session:
            await sign_up_row(session, self.activity, volunteer)
        return volunteer

    async def claimant_of_x(self) -> uuid.UUID:
        """A volunteer signed up with station X whose ID number is an unverified claim
        that no one else holds: each verification of one succeeds."""
        born = date(1950, 1, 1) + timedelta(days=secrets.randbelow(20_000))
        first17 = f"110105{born:%Y%m%d}{secrets.randbelow(1000):03d}"
        async with self.app.state.db.sessions() as session:
            volunteer = await make_volunteer(
                session,
                self.world.region,
                id_type=IdType.resident_id,
                id_number=first17 + check_character(first17),
            )
            await sign_up_row(session, self.activity, volunteer)
        return volunteer.id

    async def pending_merchant_of_x(self) -> uuid.UUID:
        async with self.app.state.db.sessions() as session:
            merchant = await make_merchant(
                session,
                self.world,
                station=self.world.station_x,
                status=MerchantStatus.pending,
                name="文明理发",
            )
            return merchant.id

    async def terminal_of_m(self, status: TerminalStatus) -> uuid.UUID:
        async with self.app.state.db.sessions() as session:
            terminal, _ = await make_terminal(session, self.merchant, status=status)
            return terminal.id

    async def pending_adjustment(self) -> uuid.UUID:
        """A credit to A above the threshold, asked by the second center admin: the
        center admin may decide it."""
        adjustment = _pending_adjustment(
            self.second_admin, debit=self.issuance_account, credit=self.wallet_a
        )
        await self._commit(adjustment)
        return adjustment.id

    async def dead_letter(self) -> uuid.UUID:
        """An outbox event of the region that ran out of attempts."""
        event = OutboxEvent(
            id=uuid.uuid4(),
            region_id=self.world.region.id,
            topic="matrix.poison",
            payload={},
            attempts=10,
            last_error="RuntimeError: boom",
            dead_at=clock.now(),
        )
        await self._commit(event)
        return event.id

    async def oauth_client_with(self, count: int) -> tuple[uuid.UUID, list[uuid.UUID]]:
        """A new client of the region with `count` live secrets, and their ids."""
        client_id, secret_ids, _ = await make_oauth_client(
            self.app, self.world, scopes=["hours:read"], secret_count=count
        )
        return client_id, secret_ids

    async def cashier_of_m(self) -> uuid.UUID:
        async with self.app.state.db.sessions() as session:
            user = await make_member(session, self.world, self.merchant, MerchantRole.cashier)
            return user.id

    async def organizer_of_x(self) -> tuple[uuid.UUID, uuid.UUID]:
        """A new organizer on station X, and the id of that grant."""
        async with self.app.state.db.sessions() as session:
            user = await make_staff(session, self.world.region)
        grant = StaffGrant(
            region_id=user.region_id,
            staff_id=user.id,
            org_unit_id=self.world.station_x.id,
            role=Role.organizer,
        )
        await self._commit(grant)
        return user.id, grant.id


@dataclass
class Seed:
    app: Any
    client: httpx.AsyncClient
    world: World
    targets: Targets
    principals: Principals
    fresh: Fresh


async def make_oauth_client(
    app: Any, world: World, *, scopes: list[str], secret_count: int = 1, region: Any = None
) -> tuple[uuid.UUID, list[uuid.UUID], list[str]]:
    """An active OAuth client, its secrets' ids and their values."""
    region = region or world.region
    admin = world.center_admin if region is world.region else world.other_admin
    client = OAuthClient(
        id=uuid.uuid4(),
        region_id=region.id,
        name="市志愿服务平台",
        contact="ops@city.example",
        scopes=scopes,
        status=ClientStatus.active,
        created_by_id=admin.id,
    )
    values = [f"lps_{secrets.token_hex(16)}" for _ in range(secret_count)]
    rows = [
        ClientSecret(
            id=uuid.uuid4(),
            client_id=client.id,
            region_id=region.id,
            secret_hash=hash_secret(value),
            hint=value[-4:],
        )
        for value in values
    ]
    async with app.state.db.sessions() as session:
        session.add(client)
        await session.flush()
        session.add_all(rows)
        await session.commit()
    return client.id, [r.id for r in rows], values


async def make_webhook_endpoint(app: Any, client_id: uuid.UUID) -> tuple[uuid.UUID, uuid.UUID]:
    """An enabled endpoint of the client (nothing is sent in the matrix) and a test ping
    to it, made by the client's own use cases."""
    async with app.state.db.sessions() as session:
        row = await session.get(OAuthClient, client_id)
        assert row is not None
        client = Principal(
            kind="client", id=client_id, region_id=row.region_id, scopes=tuple(row.scopes)
        )
        endpoint = await webhooks.create_endpoint(
            session,
            client=client,
            data=EndpointCreate(url="http://127.0.0.1:9/hooks", event_types=["ping"]),
            settings=app.state.settings,
        )
        message = await webhooks.send_test(session, client=client, endpoint_id=endpoint.id)
        await session.commit()
        return endpoint.id, message.id


def _record(
    activity: Activity,
    volunteer: Volunteer,
    *,
    status: HoursStatus = HoursStatus.pending,
    minutes: int = 30,
) -> HoursRecord:
    return HoursRecord(
        id=uuid.uuid4(),
        region_id=activity.region_id,
        volunteer_id=volunteer.id,
        activity_id=activity.id,
        # No human author: every principal reaching station X may decide it (whoever
        # entered hours may not approve them, see test_hours_own_entries).
        source=HoursSource.checkin,
        status=status,
        minutes=minutes,
        service_date=activity.starts_at.date(),
        flags=[],
        created_by_kind=ActorKind.system,
    )


def _pending_adjustment(requester: StaffUser, *, debit: uuid.UUID, credit: uuid.UUID) -> Adjustment:
    return Adjustment(
        id=uuid.uuid4(),
        region_id=requester.region_id,
        debit_account_id=debit,
        credit_account_id=credit,
        amount=600,
        reason="补发：活动漏记",
        status=AdjustmentStatus.pending,
        threshold=500,
        approval_cause=ApprovalCause.amount,
        issuance_delta=600,
        requested_by_id=requester.id,
    )


async def _team(session: AsyncSession, world: World) -> Team:
    team = Team(
        region_id=world.region.id,
        org_unit_id=world.station_x.id,
        name="站X环保队",
        category=TeamCategory.environment,
    )
    session.add(team)
    await session.commit()
    return team


async def _project(session: AsyncSession, world: World) -> Project:
    project = Project(
        region_id=world.region.id,
        org_unit_id=world.station_x.id,
        title="站X河道守护",
        description="",
        category=TeamCategory.environment,
        created_by=world.organizer_x.id,
    )
    session.add(project)
    await session.commit()
    return project


async def _checked_in(
    session: AsyncSession, activity: Activity, volunteers: list[Volunteer]
) -> None:
    for volunteer in volunteers:
        await sign_up_row(session, activity, volunteer)
        session.add(
            Attendance(
                region_id=activity.region_id,
                activity_id=activity.id,
                volunteer_id=volunteer.id,
                checked_in_at=activity.starts_at,
                checkin_latitude=LAT,
                checkin_longitude=LNG,
                checkin_accuracy=10.0,
                method=AttendanceMethod.code,
                flags=[],
            )
        )
    await session.commit()


async def _issue(session: AsyncSession, volunteer: Volunteer, amount: int) -> uuid.UUID:
    tx = await ledger.issue_to_wallet(
        session,
        region_id=volunteer.region_id,
        volunteer_id=volunteer.id,
        amount=amount,
        reference_type="test",
        reference_id=uuid.uuid4().hex,
        actor="test",
    )
    await session.commit()
    return tx.id


async def _redeem(terminal: TerminalClient, http: httpx.AsyncClient, auth: Any) -> Any:
    code = await http.post("/v1/me/redemption-codes", headers=auth)
    assert code.status_code == 201, code.text
    request_no = f"M-{secrets.token_hex(6)}"
    response = await terminal.redeem(code.json()["code"], request_no=request_no, amount=10)
    assert response.status_code == 201, response.text
    return response.json()


async def build_seed(app: Any, client: httpx.AsyncClient) -> Seed:
    async with app.state.db.sessions() as session:
        world = await make_world(session, app)
        await make_staff(session, world.region, username=PASSWORD_USER)
        platform_admin = await create_platform_admin(
            session, username=PASSWORD_USER, password=PASSWORD
        )
        now = minute(clock.now())
        a, b = world.volunteer_a, world.volunteer_b
        station, creator = world.station_x, world.organizer_x

        team = await _team(session, world)
        project = await _project(session, world)
        activity = await make_activity(
            session, station, creator, capacity=200, walk_ins_allowed=True
        )
        await sign_up_row(session, activity, a)
        draft = await make_activity(session, station, creator, status=ActivityStatus.draft)
        finished = await make_activity(
            session,
            station,
            creator,
            starts_at=now - timedelta(days=2),
            minutes=600,
            status=ActivityStatus.finished,
        )
        to_sign_up = await make_activity(
            session, station, creator, starts_at=now + timedelta(days=1)
        )
        signed_up = await make_activity(
            session, station, creator, starts_at=now + timedelta(days=1)
        )
        for volunteer in (a, b):
            await sign_up_row(session, signed_up, volunteer)
        checkout = await make_activity(
            session, station, creator, starts_at=now - timedelta(minutes=130), minutes=120
        )
        await _checked_in(session, checkout, [a, b])
        victim = await make_staff(session, world.region, role=Role.organizer, unit=station)
        second_admin = await make_staff(
            session, world.region, role=Role.center_admin, unit=world.center
        )
        record = _record(finished, a)
        session.add(record)
        await session.commit()

        wallet = await ledger.wallet_account(session, region_id=a.region_id, volunteer_id=a.id)
        issuance = await ledger.system_account(
            session, region_id=world.region.id, kind=AccountKind.issuance
        )
        wallet_id, issuance_id = wallet.id, issuance.id
        await session.commit()
        tx_sealed = await _issue(session, a, 100)
        tx_to_reverse = await _issue(session, a, 100)
        # What A's reservations of merchant M's offer hold, cell after cell.
        await _issue(session, a, 1000)
        adjustment = _pending_adjustment(second_admin, debit=issuance_id, credit=wallet_id)
        session.add(adjustment)
        await notify(
            session,
            region_id=world.region.id,
            volunteer_ids=[a.id],
            kind=NotificationKind.hours_approved,
            key="matrix",
            title="工时已确认",
            body="您的志愿服务工时已确认",
            data={},
        )
        # Both regions' mini-programs have the template a consent report names.
        session.add_all(
            NotificationTemplate(
                region_id=admin.region_id,
                kind=NotificationKind.hours_approved,
                template_id=MATRIX_TEMPLATE,
                fields={"thing1": "activity_title"},
                created_by=admin.id,
            )
            for admin in (world.center_admin, world.other_admin)
        )
        await session.commit()
        notification = await session.scalar(
            select(Notification.id).where(Notification.volunteer_id == a.id)
        )
        # The other region seals a block too, so that its people have a digest to read.
        await _issue(session, world.other_volunteer, 10)

        merchant = await make_merchant(session, world, station=station)
        owner = await make_member(session, world, merchant, MerchantRole.merchant_owner)
        cashier = await make_member(session, world, merchant, MerchantRole.cashier)
        other = await make_merchant(session, world, station=world.station_y, name="文明书店")
        other_cashier = await make_member(session, world, other, MerchantRole.cashier)
        offer = await make_offer(session, merchant)
        _, signer = await make_terminal(session, merchant)
        _, revoked_signer = await make_terminal(session, merchant, status=TerminalStatus.revoked)

    await seal(app)
    clients: dict[str, tuple[uuid.UUID, uuid.UUID, list[str]]] = {}
    for name, scopes in CLIENT_PRINCIPALS.items():
        region = world.other_region if name == "other_client" else world.region
        client_id, _, _ = await make_oauth_client(app, world, scopes=scopes, region=region)
        clients[name] = (client_id, region.id, scopes)
    oauth_client, _, (oauth_secret,) = await make_oauth_client(app, world, scopes=["hours:read"])
    webhook_endpoint, webhook_message = await make_webhook_endpoint(
        app, clients["client_webhooks"][0]
    )
    async with app.state.db.sessions() as session:
        grid_x = await make_grid(session, world.point_x, world.organizer_x)
        await enrol_row(session, grid_x, world.volunteer_a, skills=["first_aid"])
    alert_x = await raise_alert_row(app, world, grid_x.id)
    alert_closed = await raise_alert_row(app, world, grid_x.id, stood_down=True)
    principals = Principals(
        app=app,
        world=world,
        owner=owner,
        cashier=cashier,
        other_cashier=other_cashier,
        terminal=signer,
        revoked_terminal=revoked_signer,
        platform_admin=platform_admin,
        clients=clients,
    )
    terminal = TerminalClient(client, signer)
    redemption = await _redeem(terminal, client, principals.bearer("volunteer_a"))
    to_void = await _redeem(terminal, client, principals.bearer("volunteer_a"))
    targets = Targets(
        region=world.region.id,
        region_code=world.region.code,
        station_x=station.id,
        point_x=world.point_x.id,
        team_x=team.id,
        project_x=project.id,
        activity=activity.id,
        draft=draft.id,
        finished=finished.id,
        to_sign_up=to_sign_up.id,
        signed_up=signed_up.id,
        checkout=checkout.id,
        volunteer_a=a.id,
        volunteer_b=b.id,
        staff_victim=victim.id,
        record=record.id,
        wallet_a=wallet_id,
        issuance_account=issuance_id,
        tx_sealed=tx_sealed,
        tx_to_reverse=tx_to_reverse,
        adjustment=adjustment.id,
        merchant=merchant.id,
        offer=offer.id,
        oauth_client=oauth_client,
        webhook_endpoint=webhook_endpoint,
        webhook_message=webhook_message,
        notification=notification,
        grid=grid_x.id,
        alert=alert_x,
        alert_closed=alert_closed,
        redemption=uuid.UUID(redemption["id"]),
        redemption_request_no=redemption["request_no"],
        void_request_no=to_void["request_no"],
        checkin_secrets={x.id: x.checkin_secret for x in (activity, checkout)},
    )
    return Seed(
        app=app,
        client=client,
        world=world,
        targets=targets,
        principals=principals,
        fresh=Fresh(
            app=app,
            world=world,
            activity=activity,
            finished=finished,
            merchant=merchant,
            second_admin=second_admin,
            issuance_account=issuance_id,
            wallet_a=wallet_id,
            oauth_client=oauth_client,
            oauth_secret=oauth_secret,
            grid_x=grid_x.id,
        ),
    )


async def raise_alert_row(
    app: Any, world: World, grid_id: uuid.UUID, *, stood_down: bool = False
) -> uuid.UUID:
    """An alert of the grid raised through the service by station X's organizer."""
    async with app.state.db.sessions() as session, session.begin():
        staff = await load_staff(session, world.organizer_x)
        board = await emergency.raise_alert(
            session,
            staff=staff,
            data=AlertCreate.model_validate(
                {
                    "grid_ids": [str(grid_id)],
                    "kind": "flood",
                    "muster": {"name": "点X", "address": "松陵", "latitude": LAT, "longitude": LNG},
                    "muster_by": (clock.now() + timedelta(hours=1)).isoformat(),
                    "needed_total": 3,
                }
            ),
            escalate_after_seconds=900,
        )
        if stood_down:
            await emergency.stand_down(session, staff=staff, alert_id=board.id, reason="演练结束")
        return board.id


def yesterday() -> date:
    return (clock.now() - timedelta(days=1)).date()
