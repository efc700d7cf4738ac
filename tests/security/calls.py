"""One well-formed request per route, against the seeded targets.

`CALLS["METHOD /path/template"]` builds the request a caller makes: the path
parameters (the matrix fills in the template, so the route under test is exactly
the one named) and a valid body. A body is valid whoever sends it, so that a
refusal can only come from who the caller is. Calls that use up what they act on
(a draft to publish, hours to approve, a refresh token, a grant to revoke) act on a
row made for the call, so that every allowed principal finds something to act on;
with randomized targets they name an id nobody holds instead.
"""

from __future__ import annotations

import secrets
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import httpx

from app.activities import codes
from app.activities.models import ActivityStatus
from app.core import clock
from app.core.errors import catalogue
from app.identity.service import volunteer_subject
from app.identity.tokens import TokenIssuer, issue_tokens
from app.merchants.models import TerminalStatus
from tests.activities.support import LAT, LNG
from tests.builders import PASSWORD
from tests.security.seed import (
    MATRIX_TEMPLATE,
    PASSWORD_USER,
    Fresh,
    Seed,
    Targets,
    token_for,
    yesterday,
)

# The outcome of a response as the matrix judges it: its status and problem code.
Outcome = tuple[int, str | None]


def outcome_of(response: httpx.Response) -> Outcome:
    code = None
    if response.headers.get("content-type", "").startswith("application/problem+json"):
        code = response.json().get("code")
    return response.status_code, code


def first_item_outcome(response: httpx.Response) -> Outcome:
    """A bulk decision answers 200 and judges each record: the record's verdict counts."""
    if response.status_code != 200:
        return outcome_of(response)
    result = response.json()["results"][0]
    if result["ok"]:
        return 200, None
    return catalogue()[result["code"]].status, result["code"]


@dataclass
class Req:
    path: dict[str, Any] = field(default_factory=dict)
    json: Any = None
    form: dict[str, str] | None = None  # a form body (OAuth's endpoints) instead of JSON
    headers: dict[str, str] = field(default_factory=dict)
    judge: Callable[[httpx.Response], Outcome] = outcome_of


@dataclass
class Ctx:
    """What a builder needs: the targets (maybe randomized) and the seeded world."""

    seed: Seed
    t: Targets
    real: bool  # False: the targets are randomized, make nothing

    def unique(self, prefix: str) -> str:
        return f"{prefix}{secrets.token_hex(5)}"

    def idempotency(self) -> dict[str, str]:
        return {"Idempotency-Key": uuid.uuid4().hex}

    def activity_code(self, activity_id: uuid.UUID) -> str:
        secret = self.t.checkin_secrets.get(activity_id) or secrets.token_bytes(32)
        return codes.issue(secret, kind="a", subject_id=activity_id, at=clock.now()).code

    async def made(self, make: Callable[[Fresh], Awaitable[uuid.UUID]]) -> uuid.UUID:
        """A row made for this call, or an id nobody holds."""
        return await make(self.seed.fresh) if self.real else uuid.uuid4()

    async def personal_code(self) -> str:
        """The rotating code of a volunteer signed up for the open activity, not yet in."""
        if not self.real:
            return codes.issue(
                secrets.token_bytes(32), kind="v", subject_id=uuid.uuid4(), at=clock.now()
            ).code
        volunteer = await self.seed.fresh.walk_in()
        response = await self.seed.client.get(
            "/v1/me/qr", headers=token_for(self.seed.app, volunteer)
        )
        assert response.status_code == 200, response.text
        return str(response.json()["code"])

    async def redemption_code(self) -> str:
        """A fresh code of volunteer A's wallet (it retires A's previous one)."""
        if not self.real:
            return "88" + "".join(secrets.choice("0123456789") for _ in range(16))
        response = await self.seed.client.post(
            "/v1/me/redemption-codes", headers=self.seed.principals.bearer("volunteer_a")
        )
        assert response.status_code == 201, response.text
        return str(response.json()["code"])

    async def reservation(self) -> dict[str, Any]:
        """A fresh reservation of merchant M's offer by volunteer A: its id and code."""
        if not self.real:
            return {"id": str(uuid.uuid4()), "pickup_code": f"{secrets.randbelow(10**8):08d}"}
        response = await self.seed.client.post(
            "/v1/me/reservations",
            json={"offer_id": str(self.t.offer)},
            headers={
                **self.seed.principals.bearer("volunteer_a"),
                "Idempotency-Key": self.unique("res-"),
            },
        )
        assert response.status_code == 201, response.text
        reserved: dict[str, Any] = response.json()
        return reserved

    async def refresh_token(self) -> str:
        if not self.real:
            return secrets.token_urlsafe(32)
        app = self.seed.app
        issuer = TokenIssuer(
            keyring=app.state.keyring,
            refresh_ttl=timedelta(days=30),
            family_lifetime=timedelta(days=90),
        )
        subject = volunteer_subject(self.seed.world.volunteer_b)
        async with app.state.db.sessions() as session, session.begin():
            tokens = await issue_tokens(session, issuer=issuer, subject=subject)
        return tokens.refresh_token

    async def organizer_grant(self) -> tuple[uuid.UUID, uuid.UUID]:
        """A new organizer of station X and the id of its grant."""
        if not self.real:
            return uuid.uuid4(), uuid.uuid4()
        return await self.seed.fresh.organizer_of_x()


Builder = Callable[[Ctx], Awaitable[Req]]
CALLS: dict[str, Builder] = {}


def call(key: str) -> Callable[[Builder], Builder]:
    def register(builder: Builder) -> Builder:
        assert key not in CALLS, key
        CALLS[key] = builder
        return builder

    return register


def static(*keys: str) -> None:
    """Routes whose request names nothing and carries no body."""

    async def nothing(c: Ctx) -> Req:
        return Req()

    for key in keys:
        call(key)(nothing)


static(
    "GET /healthz",
    "GET /readyz",
    "GET /.well-known/jwks.json",
    "GET /problems",
    "GET /v1/auth/whoami",
    "GET /v1/regions",
    "GET /v1/org-units",
    "GET /v1/teams",
    "GET /v1/staff",
    "GET /v1/me",
    "GET /v1/projects",
    "GET /v1/activities",
    "GET /v1/me/qr",
    "GET /v1/activity-policy",
    "GET /v1/hours",
    "GET /v1/me/hours",
    "GET /v1/me/record",
    "GET /v1/me/wallet",
    "GET /v1/me/wallet/transactions",
    "GET /v1/ledger/digests/latest",
    "GET /v1/merchants",
    "GET /v1/offers",
    "POST /v1/me/redemption-codes",
    "POST /v1/me/offline-code-secret",
    "GET /v1/outbox/dead-letters",
    "GET /v1/platform/regions",
    "GET /v1/clients",
    "GET /.well-known/oauth-authorization-server",
    "GET /v1/webhook-events",
    "GET /v1/webhook-endpoints",
    "GET /v1/notification-kinds",
    "GET /v1/me/notifications",
    "POST /v1/me/notifications/read-all",
    "GET /v1/me/notification-preferences",
    "GET /v1/notification-templates",
    "GET /v1/me/notification-consents",
    "GET /v1/grids",
    "GET /v1/me/grid-enrolments",
    "GET /v1/alerts",
)

CIRCLE = {"shape": "circle", "center": {"latitude": LAT, "longitude": LNG}, "radius_m": 500}


@call("POST /v1/grids")
async def _define_grid(c: Ctx) -> Req:
    point = await c.made(lambda f: f.point_of_x())
    return Req(json={"org_unit_id": str(point), "area": CIRCLE}, headers=c.idempotency())


@call("GET /v1/grids/{grid_id}")
async def _get_grid(c: Ctx) -> Req:
    return Req(path={"grid_id": str(c.t.grid)})


@call("PATCH /v1/grids/{grid_id}")
async def _update_grid(c: Ctx) -> Req:
    return Req(path={"grid_id": str(c.t.grid)}, json={"area": CIRCLE})


@call("POST /v1/grids/{grid_id}/enrolments")
async def _enrol(c: Ctx) -> Req:
    return Req(
        path={"grid_id": str(c.t.grid)},
        json={"skills": ["driving"], "availability": ["weekends"]},
        headers=c.idempotency(),
    )


@call("GET /v1/grids/{grid_id}/enrolments")
async def _team(c: Ctx) -> Req:
    return Req(path={"grid_id": str(c.t.grid)})


@call("POST /v1/grid-enrolments/{enrolment_id}/confirm")
async def _confirm_enrolment(c: Ctx) -> Req:
    return Req(
        path={"enrolment_id": str(await c.made(lambda f: f.pending_enrolment_of_x()))}, json={}
    )


@call("POST /v1/grid-enrolments/{enrolment_id}/refuse")
async def _refuse_enrolment(c: Ctx) -> Req:
    return Req(
        path={"enrolment_id": str(await c.made(lambda f: f.pending_enrolment_of_x()))},
        json={"reason": "不在本网格"},
    )


@call("POST /v1/grid-enrolments/{enrolment_id}/withdraw")
async def _withdraw_enrolment(c: Ctx) -> Req:
    return Req(path={"enrolment_id": str(await c.made(lambda f: f.enrolment_of_a()))})


@call("POST /v1/alerts")
async def _raise_alert(c: Ctx) -> Req:
    return Req(
        json={
            "grid_ids": [str(c.t.grid)],
            "kind": "flood",
            "muster": {"name": "点X", "address": "松陵", "latitude": LAT, "longitude": LNG},
            "muster_by": (clock.now() + timedelta(hours=1)).isoformat(),
            "needed_total": 2,
        },
        headers=c.idempotency(),
    )


@call("GET /v1/alerts/{alert_id}")
async def _get_alert(c: Ctx) -> Req:
    return Req(path={"alert_id": str(c.t.alert)})


@call("GET /v1/alerts/{alert_id}/stream")
async def _stream_alert(c: Ctx) -> Req:
    # A stood-down alert: its stream sends the board and ends.
    return Req(path={"alert_id": str(c.t.alert_closed)})


@call("PUT /v1/alerts/{alert_id}/response")
async def _answer_alert(c: Ctx) -> Req:
    return Req(path={"alert_id": str(c.t.alert)}, json={"answer": "coming", "eta_minutes": 10})


@call("POST /v1/alerts/{alert_id}/escalate")
async def _escalate_alert(c: Ctx) -> Req:
    return Req(path={"alert_id": str(await c.made(lambda f: f.alert_of_x()))})


@call("POST /v1/alerts/{alert_id}/stand-down")
async def _stand_down_alert(c: Ctx) -> Req:
    return Req(
        path={"alert_id": str(await c.made(lambda f: f.alert_of_x()))}, json={"reason": "解除"}
    )


@call("POST /v1/me/notifications/{notification_id}/read")
async def _read_notification(c: Ctx) -> Req:
    return Req(path={"notification_id": str(c.t.notification)})


@call("PUT /v1/me/notification-preferences")
async def _set_notification_preferences(c: Ctx) -> Req:
    return Req(json={"muted_kinds": ["activity.reminder"], "quiet_hours": True})


@call("PUT /v1/notification-templates/{kind}")
async def _put_notification_template(c: Ctx) -> Req:
    return Req(
        path={"kind": "hours.approved"},
        json={"template_id": MATRIX_TEMPLATE, "fields": {"thing1": "activity_title"}},
    )


@call("DELETE /v1/notification-templates/{kind}")
async def _delete_notification_template(c: Ctx) -> Req:
    return Req(path={"kind": "activity.cancelled"})


@call("POST /v1/me/notification-consents")
async def _report_notification_consents(c: Ctx) -> Req:
    return Req(json={"results": {MATRIX_TEMPLATE: "accept"}}, headers=c.idempotency())


@call("GET /problems/{code}")
async def _problem(c: Ctx) -> Req:
    return Req(path={"code": "forbidden"})


# Identity


@call("POST /v1/auth/wechat")
async def _wechat(c: Ctx) -> Req:
    return Req(json={"code": c.unique("matrix-"), "region_code": c.t.region_code})


@call("POST /v1/auth/login")
async def _login(c: Ctx) -> Req:
    return Req(json={"username": PASSWORD_USER, "password": PASSWORD})


@call("POST /v1/auth/refresh")
async def _refresh(c: Ctx) -> Req:
    return Req(json={"refresh_token": await c.refresh_token()})


@call("POST /v1/auth/logout")
async def _logout(c: Ctx) -> Req:
    return Req(json={"refresh_token": await c.refresh_token()})


@call("POST /v1/me/phone")
async def _phone(c: Ctx) -> Req:
    digits = "".join(secrets.choice("0123456789") for _ in range(8))
    return Req(json={"code": f"phone-139{digits}"})


# Regions, org units, teams, staff


@call("GET /v1/regions/{region_id}")
async def _region(c: Ctx) -> Req:
    return Req(path={"region_id": c.t.region})


@call("PATCH /v1/regions/{region_id}")
async def _region_update(c: Ctx) -> Req:
    return Req(path={"region_id": c.t.region}, json={"name": "吴江区"})


@call("POST /v1/org-units")
async def _unit_create(c: Ctx) -> Req:
    return Req(json={"parent_id": str(c.t.station_x), "kind": "point", "name": c.unique("点")})


@call("GET /v1/org-units/{unit_id}")
async def _unit(c: Ctx) -> Req:
    return Req(path={"unit_id": c.t.station_x})


@call("PATCH /v1/org-units/{unit_id}")
async def _unit_update(c: Ctx) -> Req:
    return Req(path={"unit_id": c.t.station_x}, json={"address": "松陵街道1号"})


@call("POST /v1/teams")
async def _team_create(c: Ctx) -> Req:
    return Req(
        json={"org_unit_id": str(c.t.station_x), "name": c.unique("队"), "category": "culture"}
    )


@call("GET /v1/teams/{team_id}")
async def _team(c: Ctx) -> Req:
    return Req(path={"team_id": c.t.team_x})


@call("PATCH /v1/teams/{team_id}")
async def _team_update(c: Ctx) -> Req:
    return Req(path={"team_id": c.t.team_x}, json={"description": "每周六上午"})


@call("POST /v1/staff")
async def _staff_create(c: Ctx) -> Req:
    return Req(
        json={
            "username": c.unique("organizer-"),
            "display_name": "新组织者",
            "password": "a long enough password",
            "grants": [{"org_unit_id": str(c.t.station_x), "role": "organizer"}],
        }
    )


@call("GET /v1/staff/{staff_id}")
async def _staff(c: Ctx) -> Req:
    return Req(path={"staff_id": c.t.staff_victim})


@call("PATCH /v1/staff/{staff_id}")
async def _staff_update(c: Ctx) -> Req:
    return Req(path={"staff_id": c.t.staff_victim}, json={"display_name": "组织者"})


@call("POST /v1/staff/{staff_id}/grants")
async def _grant(c: Ctx) -> Req:
    staff_id, _ = await c.organizer_grant()
    return Req(
        path={"staff_id": staff_id},
        json={"org_unit_id": str(c.t.point_x), "role": "organizer"},
    )


@call("POST /v1/staff/{staff_id}/grants/{grant_id}/revoke")
async def _revoke_grant(c: Ctx) -> Req:
    staff_id, grant_id = await c.organizer_grant()
    return Req(path={"staff_id": staff_id, "grant_id": grant_id}, json={"reason": "调岗"})


# The platform


@call("POST /v1/platform/auth/login")
async def _platform_login(c: Ctx) -> Req:
    return Req(json={"username": PASSWORD_USER, "password": PASSWORD})


@call("POST /v1/platform/regions")
async def _platform_region_create(c: Ctx) -> Req:
    return Req(json={"code": c.unique("matrix-"), "name": "新区"}, headers=c.idempotency())


@call("POST /v1/platform/regions/{region_id}/admins")
async def _platform_first_admin(c: Ctx) -> Req:
    # A first admin is made once per region: each call founds its own.
    return Req(
        path={"region_id": await c.made(lambda fresh: fresh.region())},
        json={"username": c.unique("first-admin-"), "password": "a long enough password"},
    )


# Volunteers


@call("PATCH /v1/me")
async def _profile_update(c: Ctx) -> Req:
    return Req(json={"skills": ["急救"]})


@call("GET /v1/volunteers/{volunteer_id}")
async def _volunteer(c: Ctx) -> Req:
    return Req(path={"volunteer_id": c.t.volunteer_a})


@call("POST /v1/volunteers/{volunteer_id}/id-verification")
async def _verify_id(c: Ctx) -> Req:
    return Req(path={"volunteer_id": await c.made(Fresh.claimant_of_x)})


# Projects and activities


@call("POST /v1/projects")
async def _project_create(c: Ctx) -> Req:
    return Req(
        json={"org_unit_id": str(c.t.station_x), "title": "新项目", "category": "environment"}
    )


@call("GET /v1/projects/{project_id}")
async def _project(c: Ctx) -> Req:
    return Req(path={"project_id": c.t.project_x})


@call("PATCH /v1/projects/{project_id}")
async def _project_update(c: Ctx) -> Req:
    return Req(path={"project_id": c.t.project_x}, json={"description": "守护家门口的河"})


@call("POST /v1/activities")
async def _activity_create(c: Ctx) -> Req:
    starts = clock.now().replace(microsecond=0) + timedelta(days=7)
    return Req(
        json={
            "org_unit_id": str(c.t.station_x),
            "title": "河道清洁",
            "category": "environment",
            "starts_at": starts.isoformat(),
            "ends_at": (starts + timedelta(hours=2)).isoformat(),
            "latitude": LAT,
            "longitude": LNG,
            "address": "松陵街道",
            "capacity": 20,
        }
    )


@call("GET /v1/activities/{activity_id}")
async def _activity(c: Ctx) -> Req:
    # A draft: visible to the staff whose roles reach its unit, to nobody else.
    return Req(path={"activity_id": c.t.draft})


@call("PATCH /v1/activities/{activity_id}")
async def _activity_update(c: Ctx) -> Req:
    return Req(path={"activity_id": c.t.draft}, json={"description": "带手套"})


def _activity_of_x(days: float, status: ActivityStatus) -> Callable[[Fresh], Awaitable[uuid.UUID]]:
    def make(fresh: Fresh) -> Awaitable[uuid.UUID]:
        starts_at = clock.now().replace(second=0, microsecond=0) + timedelta(days=days)
        return fresh.activity_of_x(starts_at=starts_at, status=status)

    return make


@call("POST /v1/activities/{activity_id}/publish")
async def _publish(c: Ctx) -> Req:
    activity_id = await c.made(_activity_of_x(3, ActivityStatus.draft))
    return Req(path={"activity_id": activity_id})


@call("POST /v1/activities/{activity_id}/cancel")
async def _cancel(c: Ctx) -> Req:
    activity_id = await c.made(_activity_of_x(4, ActivityStatus.published))
    return Req(path={"activity_id": activity_id}, json={"reason": "暴雨预警"})


@call("POST /v1/activities/{activity_id}/finish")
async def _finish(c: Ctx) -> Req:
    activity_id = await c.made(_activity_of_x(-0.25, ActivityStatus.published))
    return Req(path={"activity_id": activity_id})


@call("POST /v1/activities/{activity_id}/signups")
async def _sign_up(c: Ctx) -> Req:
    return Req(path={"activity_id": c.t.to_sign_up})


@call("DELETE /v1/activities/{activity_id}/signups")
async def _cancel_signup(c: Ctx) -> Req:
    return Req(path={"activity_id": c.t.signed_up})


@call("GET /v1/activities/{activity_id}/signups")
async def _signups(c: Ctx) -> Req:
    return Req(path={"activity_id": c.t.activity})


@call("GET /v1/activities/{activity_id}/checkin-code")
async def _checkin_code(c: Ctx) -> Req:
    return Req(path={"activity_id": c.t.activity})


def _position(code: str) -> dict[str, Any]:
    return {"code": code, "latitude": LAT, "longitude": LNG, "accuracy": 10.0}


@call("POST /v1/activities/{activity_id}/check-in")
async def _check_in(c: Ctx) -> Req:
    return Req(
        path={"activity_id": c.t.activity},
        json=_position(c.activity_code(c.t.activity)),
        headers=c.idempotency(),
    )


@call("POST /v1/activities/{activity_id}/check-out")
async def _check_out(c: Ctx) -> Req:
    return Req(
        path={"activity_id": c.t.checkout},
        json=_position(c.activity_code(c.t.checkout)),
        headers=c.idempotency(),
    )


@call("POST /v1/activities/{activity_id}/attendances/scan")
async def _scan(c: Ctx) -> Req:
    return Req(
        path={"activity_id": c.t.activity},
        json={"code": await c.personal_code(), "action": "check_in"},
        headers=c.idempotency(),
    )


@call("GET /v1/activities/{activity_id}/attendances")
async def _attendances(c: Ctx) -> Req:
    return Req(path={"activity_id": c.t.checkout})


@call("GET /v1/activities/{activity_id}/checkin-refusals")
async def _refusals(c: Ctx) -> Req:
    return Req(path={"activity_id": c.t.activity})


@call("PATCH /v1/activity-policy")
async def _policy_update(c: Ctx) -> Req:
    return Req(json={"checkin_opens_before_min": 30})


# Hours


@call("GET /v1/hours/{record_id}")
async def _hours(c: Ctx) -> Req:
    return Req(path={"record_id": c.t.record})


@call("POST /v1/hours/{record_id}/approve")
async def _approve(c: Ctx) -> Req:
    return Req(path={"record_id": await c.made(Fresh.pending_record)})


@call("POST /v1/hours/{record_id}/reject")
async def _reject(c: Ctx) -> Req:
    return Req(path={"record_id": await c.made(Fresh.pending_record)}, json={"reason": "未到场"})


@call("POST /v1/hours/bulk-decisions")
async def _bulk_decide(c: Ctx) -> Req:
    record_id = await c.made(Fresh.pending_record)
    return Req(json={"ids": [str(record_id)], "decision": "approve"}, judge=first_item_outcome)


@call("POST /v1/hours/makeup")
async def _makeup(c: Ctx) -> Req:
    return Req(
        json={
            "volunteer_id": str(c.t.volunteer_b),
            "activity_id": str(c.t.finished),
            "minutes": 30,
            "reason": "忘记签到",
        },
        headers=c.idempotency(),
    )


async def _new_volunteer(fresh: Fresh) -> uuid.UUID:
    return (await fresh.volunteer()).id


@call("POST /v1/activities/{activity_id}/bulk-credit")
async def _bulk_credit(c: Ctx) -> Req:
    volunteer_id = await c.made(_new_volunteer)
    return Req(
        path={"activity_id": c.t.finished},
        json={"volunteer_ids": [str(volunteer_id)], "minutes": 60, "reason": "集体补录"},
    )


@call("POST /v1/hours/{record_id}/corrections")
async def _correction(c: Ctx) -> Req:
    return Req(
        path={"record_id": await c.made(Fresh.pending_record_of_a)},
        json={"minutes": 60, "reason": "服务了一小时"},
    )


@call("POST /v1/hours/corrections/{correction_id}/accept")
async def _accept(c: Ctx) -> Req:
    return Req(path={"correction_id": await c.made(Fresh.open_correction)})


@call("POST /v1/hours/corrections/{correction_id}/refuse")
async def _refuse(c: Ctx) -> Req:
    return Req(
        path={"correction_id": await c.made(Fresh.open_correction)},
        json={"reason": "签到记录为半小时"},
    )


@call("GET /v1/regions/{region_id}/star-levels")
async def _stars(c: Ctx) -> Req:
    return Req(path={"region_id": c.t.region})


@call("PUT /v1/regions/{region_id}/star-levels")
async def _stars_update(c: Ctx) -> Req:
    return Req(path={"region_id": c.t.region}, json={"hours": [100, 300, 600, 1000, 1500]})


# The ledger and rewards


@call("GET /v1/ledger/accounts/{account_id}")
async def _account(c: Ctx) -> Req:
    return Req(path={"account_id": c.t.wallet_a})


@call("GET /v1/ledger/accounts/{account_id}/statement.csv")
async def _statement_csv(c: Ctx) -> Req:
    return Req(path={"account_id": c.t.wallet_a})


@call("GET /v1/ledger/transactions/{transaction_id}")
async def _transaction(c: Ctx) -> Req:
    return Req(path={"transaction_id": c.t.tx_sealed})


@call("POST /v1/ledger/adjustments")
async def _adjust(c: Ctx) -> Req:
    return Req(
        json={
            "debit_account_id": str(c.t.issuance_account),
            "credit_account_id": str(c.t.wallet_a),
            "amount": 1,
            "reason": "补发",
        },
        headers=c.idempotency(),
    )


@call("GET /v1/ledger/adjustments")
async def _adjustments(c: Ctx) -> Req:
    return Req()


@call("GET /v1/ledger/adjustments/{adjustment_id}")
async def _adjustment(c: Ctx) -> Req:
    return Req(path={"adjustment_id": c.t.adjustment})


@call("POST /v1/ledger/adjustments/{adjustment_id}/approve")
async def _adjustment_approve(c: Ctx) -> Req:
    adjustment_id = await c.made(lambda fresh: fresh.pending_adjustment())
    return Req(
        path={"adjustment_id": adjustment_id},
        json={"reason": "核对了凭证"},
        headers=c.idempotency(),
    )


@call("POST /v1/ledger/adjustments/{adjustment_id}/refuse")
async def _adjustment_refuse(c: Ctx) -> Req:
    adjustment_id = await c.made(lambda fresh: fresh.pending_adjustment())
    return Req(
        path={"adjustment_id": adjustment_id}, json={"reason": "无凭证"}, headers=c.idempotency()
    )


@call("POST /v1/ledger/transactions/{transaction_id}/reversals")
async def _reverse(c: Ctx) -> Req:
    return Req(
        path={"transaction_id": c.t.tx_to_reverse},
        json={"amount": 1, "reason": "误发"},
        headers=c.idempotency(),
    )


@call("GET /v1/regions/{region_id}/reward-policy")
async def _reward_policy(c: Ctx) -> Req:
    return Req(path={"region_id": c.t.region})


@call("PUT /v1/regions/{region_id}/reward-policy")
async def _reward_policy_update(c: Ctx) -> Req:
    return Req(
        path={"region_id": c.t.region},
        json={"rate_per_hour": 10, "earning_sources": ["checkin"]},
    )


@call("GET /v1/ledger/transactions/{transaction_id}/proof")
async def _proof(c: Ctx) -> Req:
    return Req(path={"transaction_id": c.t.tx_sealed})


@call("GET /v1/regions/{region_id}/ledger-keys")
async def _ledger_keys(c: Ctx) -> Req:
    return Req(path={"region_id": c.t.region})


# Merchants


def _merchant_body(c: Ctx) -> dict[str, Any]:
    return {
        "name": "文明茶馆",
        "address": "松陵镇1号",
        "latitude": LAT,
        "longitude": LNG,
        "category": "food",
        "station_ids": [str(c.t.station_x)],
    }


@call("POST /v1/merchants")
async def _merchant_create(c: Ctx) -> Req:
    return Req(json=_merchant_body(c))


@call("POST /v1/merchants/settlements")
async def _settle(c: Ctx) -> Req:
    last_month = clock.now().replace(day=1) - timedelta(days=1)
    return Req(json={"period": last_month.strftime("%Y-%m")})


@call("GET /v1/merchants/{merchant_id}")
async def _merchant(c: Ctx) -> Req:
    return Req(path={"merchant_id": c.t.merchant})


@call("PATCH /v1/merchants/{merchant_id}")
async def _merchant_update(c: Ctx) -> Req:
    return Req(path={"merchant_id": c.t.merchant}, json={"contact_name": "店长"})


@call("POST /v1/merchants/{merchant_id}/status")
async def _merchant_status(c: Ctx) -> Req:
    merchant_id = await c.made(Fresh.pending_merchant_of_x)
    return Req(path={"merchant_id": merchant_id}, json={"status": "active"})


@call("POST /v1/merchants/{merchant_id}/staff")
async def _merchant_staff_create(c: Ctx) -> Req:
    return Req(
        path={"merchant_id": c.t.merchant},
        json={
            "username": c.unique("cashier-"),
            "display_name": "收银员",
            "password": "a long password",
            "role": "cashier",
        },
    )


@call("GET /v1/merchants/{merchant_id}/staff")
async def _merchant_staff(c: Ctx) -> Req:
    return Req(path={"merchant_id": c.t.merchant})


@call("PATCH /v1/merchants/{merchant_id}/staff/{staff_id}")
async def _merchant_staff_update(c: Ctx) -> Req:
    staff_id = await c.made(lambda fresh: fresh.cashier_of_m())
    return Req(path={"merchant_id": c.t.merchant, "staff_id": staff_id}, json={"is_active": False})


@call("DELETE /v1/merchants/{merchant_id}/staff/{staff_id}")
async def _merchant_staff_remove(c: Ctx) -> Req:
    staff_id = await c.made(lambda fresh: fresh.cashier_of_m())
    return Req(path={"merchant_id": c.t.merchant, "staff_id": staff_id})


@call("POST /v1/merchants/{merchant_id}/offers")
async def _offer_create(c: Ctx) -> Req:
    return Req(path={"merchant_id": c.t.merchant}, json={"title": "一杯绿茶", "price": 5})


@call("GET /v1/merchants/{merchant_id}/offers")
async def _offers(c: Ctx) -> Req:
    return Req(path={"merchant_id": c.t.merchant})


@call("PATCH /v1/merchants/{merchant_id}/offers/{offer_id}")
async def _offer_update(c: Ctx) -> Req:
    return Req(path={"merchant_id": c.t.merchant, "offer_id": c.t.offer}, json={"stock": 100})


@call("POST /v1/merchants/{merchant_id}/terminals")
async def _terminal_create(c: Ctx) -> Req:
    return Req(path={"merchant_id": c.t.merchant}, json={"name": "收银台2"})


@call("GET /v1/merchants/{merchant_id}/terminals")
async def _terminals(c: Ctx) -> Req:
    return Req(path={"merchant_id": c.t.merchant})


async def _terminal_call(c: Ctx, status: TerminalStatus) -> Req:
    terminal_id = await c.made(lambda fresh: fresh.terminal_of_m(status))
    return Req(path={"merchant_id": c.t.merchant, "terminal_id": terminal_id})


@call("POST /v1/merchants/{merchant_id}/terminals/{terminal_id}/suspend")
async def _suspend(c: Ctx) -> Req:
    return await _terminal_call(c, TerminalStatus.active)


@call("POST /v1/merchants/{merchant_id}/terminals/{terminal_id}/resume")
async def _resume(c: Ctx) -> Req:
    return await _terminal_call(c, TerminalStatus.suspended)


@call("POST /v1/merchants/{merchant_id}/terminals/{terminal_id}/revoke")
async def _revoke(c: Ctx) -> Req:
    return await _terminal_call(c, TerminalStatus.active)


@call("POST /v1/merchants/{merchant_id}/redemptions/{redemption_id}/refunds")
async def _refund(c: Ctx) -> Req:
    return Req(
        path={"merchant_id": c.t.merchant, "redemption_id": c.t.redemption},
        json={"refund_no": c.unique("F-"), "amount": 1},
    )


@call("GET /v1/merchants/{merchant_id}/redemptions")
async def _merchant_redemptions(c: Ctx) -> Req:
    return Req(path={"merchant_id": c.t.merchant})


@call("GET /v1/merchants/{merchant_id}/reservations")
async def _merchant_reservations(c: Ctx) -> Req:
    return Req(path={"merchant_id": c.t.merchant})


@call("GET /v1/merchants/{merchant_id}/statements/{day}")
async def _statement(c: Ctx) -> Req:
    return Req(path={"merchant_id": c.t.merchant, "day": yesterday().isoformat()})


@call("GET /v1/regions/{region_id}/merchant-policy")
async def _merchant_policy(c: Ctx) -> Req:
    return Req(path={"region_id": c.t.region})


@call("PUT /v1/regions/{region_id}/merchant-policy")
async def _merchant_policy_update(c: Ctx) -> Req:
    return Req(path={"region_id": c.t.region}, json={"refund_window_days": 7})


# The outbox


@call("POST /v1/outbox/dead-letters/{event_id}/retry")
async def _retry_dead_letter(c: Ctx) -> Req:
    return Req(path={"event_id": await c.made(lambda fresh: fresh.dead_letter())})


# OAuth clients


@call("GET /v1/volunteers/{volunteer_id}/record")
async def _volunteer_record(c: Ctx) -> Req:
    return Req(path={"volunteer_id": c.t.volunteer_a})


@call("POST /v1/clients")
async def _register_client(c: Ctx) -> Req:
    return Req(json={"name": c.unique("平台-"), "contact": "ops@city.example", "scopes": []})


@call("GET /v1/clients/{client_id}")
async def _client(c: Ctx) -> Req:
    return Req(path={"client_id": c.t.oauth_client})


@call("PATCH /v1/clients/{client_id}")
async def _update_client(c: Ctx) -> Req:
    return Req(path={"client_id": c.t.oauth_client}, json={"contact": "ops2@city.example"})


@call("POST /v1/clients/{client_id}/secrets")
async def _add_client_secret(c: Ctx) -> Req:
    async def one_secret(fresh: Fresh) -> uuid.UUID:
        return (await fresh.oauth_client_with(1))[0]

    return Req(path={"client_id": await c.made(one_secret)})


@call("POST /v1/clients/{client_id}/secrets/{secret_id}/retire")
async def _retire_client_secret(c: Ctx) -> Req:
    if not c.real:
        return Req(path={"client_id": uuid.uuid4(), "secret_id": uuid.uuid4()})
    client_id, (old, _) = await c.seed.fresh.oauth_client_with(2)
    return Req(path={"client_id": client_id, "secret_id": old})


def _client_credentials(c: Ctx) -> dict[str, str]:
    """`client_secret_post` of the seeded client; the caller's own bearer token, which the
    matrix adds, is no client authentication and changes nothing."""
    fresh = c.seed.fresh
    client_id = fresh.oauth_client if c.real else uuid.uuid4()
    return {"client_id": str(client_id), "client_secret": fresh.oauth_secret}


@call("POST /v1/oauth/token")
async def _oauth_token(c: Ctx) -> Req:
    return Req(form={"grant_type": "client_credentials", **_client_credentials(c)})


@call("POST /v1/oauth/revoke")
async def _oauth_revoke(c: Ctx) -> Req:
    return Req(form={"token": "not-a-token", **_client_credentials(c)})


# Webhooks: the region's client with webhooks:manage owns the seeded endpoint; every
# client's token may subscribe to the test ping.


@call("POST /v1/webhook-endpoints")
async def _add_webhook_endpoint(c: Ctx) -> Req:
    return Req(json={"url": "http://127.0.0.1:9/hooks", "event_types": ["ping"]})


def _on_endpoint(*keys: str, message: bool = False, body: Any = None) -> None:
    """Routes whose request names the seeded endpoint (and its message), with `body`."""

    async def build(c: Ctx) -> Req:
        path: dict[str, Any] = {"endpoint_id": c.t.webhook_endpoint}
        if message:
            path["message_id"] = c.t.webhook_message
        return Req(path=path, json=body)

    for key in keys:
        call(key)(build)


_on_endpoint(
    "GET /v1/webhook-endpoints/{endpoint_id}",
    "POST /v1/webhook-endpoints/{endpoint_id}/secret/rotate",
    "GET /v1/webhook-endpoints/{endpoint_id}/messages",
    "POST /v1/webhook-endpoints/{endpoint_id}/test",
)
_on_endpoint(
    "GET /v1/webhook-endpoints/{endpoint_id}/messages/{message_id}/attempts",
    "POST /v1/webhook-endpoints/{endpoint_id}/messages/{message_id}/retry",
    message=True,
)
_on_endpoint("PATCH /v1/webhook-endpoints/{endpoint_id}", body={"description": "市App"})
_on_endpoint(
    "POST /v1/webhook-endpoints/{endpoint_id}/recover", body={"since": "2026-01-01T00:00:00Z"}
)


# The terminal's signed routes


@call("POST /v1/me/reservations")
async def _reserve(c: Ctx) -> Req:
    return Req(json={"offer_id": str(c.t.offer)}, headers={"Idempotency-Key": c.unique("res-")})


@call("GET /v1/me/reservations")
async def _my_reservations(c: Ctx) -> Req:
    return Req()


@call("POST /v1/me/reservations/{reservation_id}/cancel")
async def _cancel_reservation(c: Ctx) -> Req:
    return Req(path={"reservation_id": (await c.reservation())["id"]})


@call("POST /v1/terminal/reservations/pickups")
async def _pick_up(c: Ctx) -> Req:
    code = (await c.reservation())["pickup_code"]
    return Req(json={"pickup_code": code, "request_no": c.unique("PU-")})


@call("POST /v1/terminal/redemptions")
async def _redeem(c: Ctx) -> Req:
    return Req(json={"code": await c.redemption_code(), "request_no": c.unique("R-"), "amount": 1})


@call("GET /v1/terminal/redemptions/{request_no}")
async def _redemption(c: Ctx) -> Req:
    return Req(path={"request_no": c.t.redemption_request_no})


@call("POST /v1/terminal/redemptions/{request_no}/void")
async def _void(c: Ctx) -> Req:
    return Req(path={"request_no": c.t.void_request_no})
