"""Fixtures for notifications: the fake WeChat's subscribe messages seen from the test,
a region's template and a person's credits set through the API, the sender run."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from app.notifications.kinds import NotificationKind
from app.notifications.models import NotificationConsent, WeChatSend
from app.notifications.service import notify
from app.volunteers.models import Volunteer
from app.worker import jobs
from tests.builders import World, volunteer_auth
from tests.conftest import ServerThread

TEMPLATE = "tmpl-hours-approved"
FIELDS = {"thing1": "activity_title", "number2": "hours", "date3": "service_date"}
PAGE = "pages/hours/index"
HOURS = {
    "hours_record_id": "7d2f0e1c-0000-4000-8000-000000000001",
    "activity_id": "7d2f0e1c-0000-4000-8000-000000000002",
    "activity_title": "周六社区环境整治",
    "hours": 2.5,
    "service_date": "2026-12-05",
}


@dataclass
class FakeSubscribe:
    """The fake WeChat's subscribe messages: its templates, scripted answers, records."""

    url: str

    async def _call(self, method: str, path: str, json: Any = None) -> Any:
        async with httpx.AsyncClient(base_url=self.url) as http:
            response = await http.request(method, path, json=json)
            response.raise_for_status()
            return response.json()

    async def add_template(self, template_id: str, keys: list[str]) -> None:
        await self._call(
            "POST", "/__subscribe-templates", {"template_id": template_id, "keys": keys}
        )

    async def answer_next(self, *errcodes: int) -> None:
        await self._call("POST", "/__subscribe-answers", {"errcodes": list(errcodes)})

    async def messages(self) -> list[dict[str, Any]]:
        result: list[dict[str, Any]] = await self._call("GET", "/__subscribe-messages")
        return result

    async def stats(self) -> dict[str, int]:
        result: dict[str, int] = await self._call("GET", "/__stats")
        return result

    async def expire_access_token(self) -> None:
        await self._call("POST", "/__expire_access_token")


@pytest.fixture
async def wechat(fake_wechat: ServerThread) -> FakeSubscribe:
    fake = FakeSubscribe(fake_wechat.url)
    await fake._call("POST", "/__reset")
    await fake.add_template(TEMPLATE, list(FIELDS))
    return fake


async def put_template(
    client: httpx.AsyncClient,
    world: World,
    *,
    kind: str = "hours.approved",
    template_id: str = TEMPLATE,
    fields: dict[str, str] | None = None,
    page: str | None = PAGE,
) -> httpx.Response:
    return await client.put(
        f"/v1/notification-templates/{kind}",
        json={"template_id": template_id, "fields": fields or FIELDS, "page": page},
        headers=world.auth["center_admin"],
    )


async def accept(
    client: httpx.AsyncClient,
    app: Any,
    volunteer: Volunteer,
    template_id: str = TEMPLATE,
    times: int = 1,
) -> None:
    for _ in range(times):
        response = await client.post(
            "/v1/me/notification-consents",
            json={"results": {template_id: "accept"}},
            headers=volunteer_auth(app, volunteer),
        )
        assert response.status_code == 200, response.text


async def tell(
    app: Any,
    volunteer: Volunteer,
    *,
    kind: NotificationKind = NotificationKind.hours_approved,
    data: dict[str, Any] | None = None,
    key: str | None = None,
) -> None:
    async with app.state.db.sessions() as session, session.begin():
        await notify(
            session,
            region_id=volunteer.region_id,
            volunteer_ids=[volunteer.id],
            kind=kind,
            key=key or uuid.uuid4().hex,
            title="工时已确认",
            body="您的志愿服务工时已确认",
            data=HOURS if data is None else data,
        )


async def send_due(app: Any) -> int:
    """The worker's `notification-wechat-sends` job, run until it has nothing left."""
    (job,) = [job for job in jobs(app.state.settings) if job.name == "notification-wechat-sends"]
    total = 0
    while n := await job.run(app.state.db.sessions):
        total += n
    return total


async def sends_of(app: Any, volunteer: Volunteer) -> list[WeChatSend]:
    async with app.state.db.sessions() as session:
        rows = await session.scalars(
            select(WeChatSend)
            .where(WeChatSend.volunteer_id == volunteer.id)
            .order_by(WeChatSend.created_at, WeChatSend.id)
        )
        return list(rows)


async def credits_of(app: Any, volunteer: Volunteer, template_id: str = TEMPLATE) -> int:
    async with app.state.db.sessions() as session:
        credits = await session.scalar(
            select(NotificationConsent.credits).where(
                NotificationConsent.volunteer_id == volunteer.id,
                NotificationConsent.template_id == template_id,
            )
        )
        return int(credits or 0)
