"""The demo region that `make run` loads."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.demo import seed_demo
from app.identity.models import StaffUser
from app.orgs.models import OrgUnit, Team, UnitKind
from app.volunteers.models import Volunteer


async def test_seed_demo_builds_the_wujiang_tree_once(session: AsyncSession) -> None:
    first = await seed_demo(session, admin_password="demo-password")
    await session.commit()
    second = await seed_demo(session, admin_password="demo-password")
    await session.commit()
    assert first["created"] is True
    assert second["created"] is False
    kinds = dict(
        (await session.execute(select(OrgUnit.kind, func.count()).group_by(OrgUnit.kind))).all()
    )
    assert kinds == {UnitKind.center: 1, UnitKind.institute: 2, UnitKind.station: 4}
    assert await session.scalar(select(func.count()).select_from(Team)) == 8
    assert await session.scalar(select(func.count()).select_from(Volunteer)) == 3
    admin = await session.scalar(select(StaffUser).where(StaffUser.username == "admin"))
    assert admin is not None
    assert admin.password_hash != "demo-password"
