"""The WeChat channel under the application role (migration 0025's `liangpiao_app`): a
template set and removed, credits added, spent, given back and dropped, and every
outcome of a send recorded, with no grant missing. PostgreSQL only: SQLite has no roles."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest

from app.core.config import Settings
from app.notifications.models import SendStatus
from tests.builders import World
from tests.conftest import ServerThread, base_settings
from tests.notifications.conftest import (
    FakeSubscribe,
    accept,
    credits_of,
    put_template,
    send_due,
    sends_of,
    tell,
)

pytestmark = pytest.mark.postgres_only


@pytest.fixture
def settings(database_url: str, fake_wechat: ServerThread, tmp_path: Path) -> Settings:
    return base_settings(
        database_url=database_url,
        wechat_api_base=fake_wechat.url,
        var_dir=tmp_path / "var",
        database_role="liangpiao_app",
    )


async def test_the_channel_runs_under_the_application_role(
    client: httpx.AsyncClient, app: Any, world: World, wechat: FakeSubscribe
) -> None:
    assert (await put_template(client, world)).status_code == 200
    volunteer = world.volunteer_a
    await accept(client, app, volunteer, times=3)

    await tell(app, volunteer)
    await send_due(app)
    await wechat.answer_next(-1)
    await tell(app, volunteer)
    await send_due(app)
    await wechat.answer_next(43101)
    await tell(app, volunteer)
    await send_due(app)

    assert [s.status for s in await sends_of(app, volunteer)] == [
        SendStatus.sent,
        SendStatus.pending,
        SendStatus.fallback,
    ]
    assert await credits_of(app, volunteer) == 0
    removed = await client.delete(
        "/v1/notification-templates/hours.approved", headers=world.auth["center_admin"]
    )
    assert removed.status_code == 204
