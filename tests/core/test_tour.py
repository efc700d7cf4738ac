"""`python -m app tour`: the walkthrough plays against a served app and leaves its effects."""

from __future__ import annotations

import asyncio
import re
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app import cli
from app.core.config import Settings
from app.demo import seed_organisation
from app.ledger import service as ledger
from app.main import create_app
from app.merchants.models import Redemption, RedemptionStatus
from app.tour import MAKEUP_MINUTES, OFFER_PRICE, RATE_PER_HOUR, VOLUNTEER_CODE
from app.volunteers.models import Volunteer
from fakes.wechat import openid_for
from tests.conftest import ServerThread

PASSWORD = "tour-admin-password"
WALKTHROUGH = Path(__file__).resolve().parents[2] / "docs" / "walkthrough.md"


def _steps(lines: list[str]) -> list[tuple[str, str]]:
    """Each line's role and action (the tour prints them in fixed columns), with what
    changes from run to run (the names' suffix, the region's date) taken out."""

    def action(text: str) -> str:
        text = re.sub(r"-[0-9a-f]{6}\b", "-RUN", text)
        return re.sub(r"\b\d{4}-\d{2}-\d{2}\b", "DATE", text)

    return [(line[:14].strip(), action(line[15:59].strip())) for line in lines]


async def _seeded(session: AsyncSession, tmp_path: Path, password: str = PASSWORD) -> str:
    await seed_organisation(session, admin_password=PASSWORD)
    await session.commit()
    password_file = tmp_path / "demo-admin-password"
    password_file.write_text(password + "\n")
    return str(password_file)


async def _tour(settings: Settings, password_file: str) -> int:
    # Served as `make run` serves: the outbox and the ledger's sealing run in the process.
    served = settings.model_copy(update={"run_jobs_in_process": True})
    with ServerThread(create_app(served)) as server:
        argv = ["tour", "--base-url", server.url, "--admin-password-file", password_file]
        return await asyncio.to_thread(cli.main, argv)


async def test_the_tour_closes_the_loop_and_leaves_its_effects(
    app: Any, session: AsyncSession, settings: Settings, tmp_path: Path, capsys: Any
) -> None:
    password_file = await _seeded(session, tmp_path)

    code = await _tour(settings, password_file)

    out = capsys.readouterr().out
    assert code == 0, out
    lines = out.strip().splitlines()
    assert lines[0].split()[:2] == ["centre", "admin"]
    assert any("403" in line and "own_entry_approval" in line for line in lines), out
    assert lines[-1].split()[:2] == ["tour", "the"]
    assert " ok " in lines[-1]
    # The walkthrough shows a run: the same steps, in the same order.
    shown = WALKTHROUGH.read_text().split("```text\n", 1)[1].split("```", 1)[0]
    assert _steps(lines) == _steps(shown.strip().splitlines())

    volunteer = await session.scalar(
        select(Volunteer).where(Volunteer.openid == openid_for(VOLUNTEER_CODE))
    )
    assert volunteer is not None
    wallet = await ledger.wallet_summary(
        session, region_id=volunteer.region_id, volunteer_id=volunteer.id
    )
    redemptions = list(await session.scalars(select(Redemption)))
    await session.commit()
    earned = MAKEUP_MINUTES * RATE_PER_HOUR // 60
    assert wallet.balance.available == earned - OFFER_PRICE
    assert [(r.status, r.amount, r.volunteer_id) for r in redemptions] == [
        (RedemptionStatus.succeeded, OFFER_PRICE, volunteer.id)
    ]
    assert redemptions[0].request_no.startswith("TOUR-")


async def test_the_tour_stops_at_the_first_unexpected_answer(
    app: Any, session: AsyncSession, settings: Settings, tmp_path: Path, capsys: Any
) -> None:
    password_file = await _seeded(session, tmp_path, password="not-the-password")

    code = await _tour(settings, password_file)

    out = capsys.readouterr().out
    assert code == 1
    assert len(out.strip().splitlines()) == 1, out
    assert out.split()[:5] == ["centre", "admin", "log", "in", "as"]
    assert "401  expected 200; invalid_credentials" in out
