"""The service runs under the application role: its grants are enough.

An app configured with `LIANGPIAO_DATABASE_ROLE=liangpiao_app` (every connection takes
the role at start) serves a volunteer's week end to end through the API — logins, a
sign-up, check-in and check-out, the organizer's approval, the issuance, a redemption
at a terminal and its void, a logout — and its worker runs every job, the purges and
expiry included, until a year later the ledger still verifies. A table the service
updates or deletes from without a grant would fail here with `permission denied`.
PostgreSQL only: SQLite has no roles.
"""

from __future__ import annotations

import uuid
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from app.core import clock
from app.core.config import Settings
from app.merchants.models import MerchantRole
from app.volunteers.models import Volunteer
from app.worker import run_once
from bench.terminal_client import TerminalClient
from tests.activities.support import check_in, check_out, make_activity
from tests.builders import PASSWORD, World
from tests.conftest import ServerThread, base_settings
from tests.merchants.conftest import (
    ledger_verifies,
    make_member,
    make_merchant,
    make_terminal,
    wallet_balance,
)

pytestmark = pytest.mark.postgres_only

ROLE = "liangpiao_app"


@pytest.fixture
def settings(database_url: str, fake_wechat: ServerThread, tmp_path: Path) -> Settings:
    return base_settings(
        database_url=database_url,
        wechat_api_base=fake_wechat.url,
        var_dir=tmp_path / "var",
        database_role=ROLE,
    )


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def staff_login(client: httpx.AsyncClient, username: str) -> dict[str, Any]:
    wrong = await client.post("/v1/auth/login", json={"username": username, "password": "nope"})
    assert wrong.status_code == 401, wrong.text
    right = {"username": username, "password": PASSWORD}
    response = await client.post("/v1/auth/login", json=right)
    assert response.status_code == 200, response.text
    refreshed = await client.post(
        "/v1/auth/refresh", json={"refresh_token": response.json()["refresh_token"]}
    )
    assert refreshed.status_code == 200, refreshed.text
    body: dict[str, Any] = refreshed.json()
    return body


async def code(client: httpx.AsyncClient, me: dict[str, str]) -> str:
    issued = await client.post("/v1/me/redemption-codes", headers=me)
    assert issued.status_code == 201, issued.text
    return str(issued.json()["code"])


async def test_a_volunteers_week_runs_under_the_application_role(
    app: Any, client: httpx.AsyncClient, session: AsyncSession, world: World
) -> None:
    async with app.state.db.engine.connect() as conn:
        assert await conn.scalar(text("SELECT current_user")) == ROLE
    activity = await make_activity(session, world.station_x, world.organizer_x)
    merchant = await make_merchant(session, world, station=world.station_x)
    await make_member(session, world, merchant, MerchantRole.cashier)
    _, signer = await make_terminal(session, merchant)
    terminal = TerminalClient(client, signer)

    login = await client.post(
        "/v1/auth/wechat", json={"code": "rolefriend", "region_code": world.region.code}
    )
    assert login.status_code == 200, login.text
    volunteer = await session.get(Volunteer, uuid.UUID(login.json()["volunteer_id"]))
    assert volunteer is not None
    await session.commit()
    signup = await client.post(
        f"/v1/activities/{activity.id}/signups",
        headers={**bearer(login.json()["access_token"]), "Idempotency-Key": uuid.uuid4().hex},
    )
    assert signup.status_code == 201, signup.text

    with clock.travel(activity.starts_at - timedelta(minutes=5)):
        assert (await check_in(client, app, volunteer, activity)).status_code == 201
    with clock.travel(activity.starts_at + timedelta(minutes=90)):
        out = await check_out(client, app, volunteer, activity)
        assert out.status_code == 200, out.text
        organizer = await staff_login(client, world.organizer_x.username)
        approved = await client.post(
            f"/v1/hours/{out.json()['hours_record_id']}/approve",
            headers=bearer(organizer["access_token"]),
        )
        assert approved.status_code == 200, approved.text
        # The approval, and the `rewards.issued` that tells the volunteer of the 良票.
        assert (await run_once(app.state.db))["outbox"] == 2
        assert await wallet_balance(session, volunteer) == 15
        volunteer_again = await client.post(
            "/v1/auth/wechat", json={"code": "rolefriend", "region_code": world.region.code}
        )
        me = bearer(volunteer_again.json()["access_token"])
        told = await client.get("/v1/me/notifications", headers=me)
        assert told.status_code == 200, told.text
        assert sorted(n["kind"] for n in told.json()["items"]) == [
            "hours.approved",
            "rewards.received",
        ]
        read = await client.post("/v1/me/notifications/read-all", headers=me)
        assert read.json()["marked"] == 2
        spent = await terminal.redeem(await code(client, me), request_no="ROLE-1", amount=5)
        assert spent.status_code == 201, spent.text
        voided = await terminal.void("ROLE-1")
        assert voided.status_code == 200, voided.text
        kept = await terminal.redeem(await code(client, me), request_no="ROLE-2", amount=3)
        assert kept.status_code == 201, kept.text
        wallet = await client.get("/v1/me/wallet", headers=me)
        assert wallet.json()["balance"]["available"] == 12, wallet.text
        logout = await client.post(
            "/v1/auth/logout", json={"refresh_token": organizer["refresh_token"]}
        )
        assert logout.status_code == 204, logout.text
        sealed = await run_once(app.state.db)
        assert sealed["seal-ledger"] > 0

    # A year on: the purges delete what expired, the lots expire, the ledger verifies.
    with clock.travel(activity.starts_at + timedelta(days=400)):
        later = await run_once(app.state.db)
        assert later["purge-idempotency-keys"] > 0
        assert later["purge-terminal-nonces-and-codes"] > 0
        assert later["ledger-lot-expiry"] > 0
        assert await wallet_balance(session, volunteer) == 0
        await ledger_verifies(session)
