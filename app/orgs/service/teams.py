"""Teams on a unit: the standing categories or a custom one."""

from __future__ import annotations

import uuid

from sqlalchemy.ext.asyncio import AsyncSession

from app.core.pagination import Page, PageParams, keyset_page
from app.identity.principals import Principal, StaffContext
from app.orgs import repository, schemas
from app.orgs.errors import TeamCategoryInvalid, TeamNotFound
from app.orgs.models import ADMIN_ROLES, TEAM_CATEGORY_LABELS, Team, TeamCategory
from app.orgs.service.checks import after_cursor, unit_for_staff


def _team_out(team: Team) -> schemas.Team:
    category = TeamCategory(team.category)
    label = team.custom_category if category is TeamCategory.custom else None
    return schemas.Team(
        id=team.id,
        region_id=team.region_id,
        org_unit_id=team.org_unit_id,
        name=team.name,
        category=category,
        category_label=label or TEAM_CATEGORY_LABELS[category],
        custom_category=team.custom_category,
        description=team.description,
        created_at=team.created_at,
        updated_at=team.updated_at,
    )


def _check_team_category(category: TeamCategory, custom_category: str | None) -> None:
    if category is TeamCategory.custom and custom_category is None:
        raise TeamCategoryInvalid("A custom team needs `custom_category`")
    if category is not TeamCategory.custom and custom_category is not None:
        raise TeamCategoryInvalid("Only a `custom` team takes `custom_category`")


async def create_team(
    session: AsyncSession, *, staff: StaffContext, data: schemas.TeamCreate
) -> schemas.Team:
    unit = await unit_for_staff(session, staff=staff, unit_id=data.org_unit_id, roles=ADMIN_ROLES)
    _check_team_category(data.category, data.custom_category)
    team = Team(
        region_id=unit.region_id,
        org_unit_id=unit.id,
        name=data.name,
        category=data.category,
        custom_category=data.custom_category,
        description=data.description,
    )
    session.add(team)
    await session.flush()
    return _team_out(team)


async def _team(session: AsyncSession, *, region_id: uuid.UUID, team_id: uuid.UUID) -> Team:
    team = await repository.team_in_region(session, region_id=region_id, team_id=team_id)
    if team is None:
        raise TeamNotFound()
    return team


async def get_team(
    session: AsyncSession, *, principal: Principal, team_id: uuid.UUID
) -> schemas.Team:
    if principal.region_id is None:
        raise TeamNotFound()
    return _team_out(await _team(session, region_id=principal.region_id, team_id=team_id))


async def update_team(
    session: AsyncSession,
    *,
    staff: StaffContext,
    team_id: uuid.UUID,
    changes: schemas.TeamUpdate,
) -> schemas.Team:
    team = await _team(session, region_id=staff.region_id, team_id=team_id)
    await unit_for_staff(session, staff=staff, unit_id=team.org_unit_id, roles=ADMIN_ROLES)
    sent = changes.model_fields_set
    category = changes.category or TeamCategory(team.category)
    if "custom_category" in sent:
        custom_category = changes.custom_category
    elif category is TeamCategory.custom:
        custom_category = team.custom_category
    else:
        # Moving to a standing category drops the custom name rather than refusing.
        custom_category = None
    _check_team_category(category, custom_category)
    team.category = category
    team.custom_category = custom_category
    if changes.name is not None:
        team.name = changes.name
    if "description" in sent:
        team.description = changes.description
    await session.flush()
    return _team_out(team)


async def list_teams(
    session: AsyncSession,
    *,
    principal: Principal,
    org_unit_id: uuid.UUID | None,
    category: TeamCategory | None,
    page: PageParams,
) -> Page[schemas.Team]:
    after = after_cursor(page)
    if principal.region_id is None:
        return Page(items=[])
    rows = await repository.teams_page(
        session,
        region_id=principal.region_id,
        org_unit_id=org_unit_id,
        category=category,
        after=after,
        limit=page.limit,
    )
    return keyset_page(rows, page, key=lambda t: (t.created_at, t.id), out=_team_out)
