"""Projects: an activity's umbrella on a unit, with an optional team."""

from __future__ import annotations

import uuid

from sqlalchemy.ext.asyncio import AsyncSession

from app.activities import repository, schemas
from app.activities.errors import ActivityTeamInvalid, ProjectNotFound
from app.activities.models import Project
from app.activities.service.contract import subtree_path
from app.core.pagination import Page, PageParams, decode_keyset, keyset_cursor
from app.identity.principals import StaffContext
from app.orgs import service as orgs
from app.orgs.models import Team, TeamCategory


async def team_in_region(
    session: AsyncSession, *, region_id: uuid.UUID, team_id: uuid.UUID | None
) -> None:
    if team_id is None:
        return
    team = await session.get(Team, team_id)
    if team is None or team.region_id != region_id:
        raise ActivityTeamInvalid()


async def project_in_region(
    session: AsyncSession, *, region_id: uuid.UUID, project_id: uuid.UUID | None
) -> Project | None:
    if project_id is None:
        return None
    project = await session.get(Project, project_id)
    if project is None or project.region_id != region_id:
        raise ProjectNotFound()
    return project


async def create_project(
    session: AsyncSession, *, staff: StaffContext, data: schemas.ProjectCreate
) -> schemas.Project:
    await orgs.unit_for_staff(session, staff=staff, unit_id=data.org_unit_id)
    await team_in_region(session, region_id=staff.region_id, team_id=data.team_id)
    project = Project(
        region_id=staff.region_id,
        org_unit_id=data.org_unit_id,
        team_id=data.team_id,
        title=data.title,
        description=data.description,
        category=data.category,
        created_by=staff.id,
    )
    session.add(project)
    await session.flush()
    return schemas.Project.model_validate(project)


async def get_project(
    session: AsyncSession, *, region_id: uuid.UUID, project_id: uuid.UUID
) -> schemas.Project:
    project = await project_in_region(session, region_id=region_id, project_id=project_id)
    assert project is not None
    return schemas.Project.model_validate(project)


async def update_project(
    session: AsyncSession,
    *,
    staff: StaffContext,
    project_id: uuid.UUID,
    data: schemas.ProjectUpdate,
) -> schemas.Project:
    project = await project_in_region(session, region_id=staff.region_id, project_id=project_id)
    assert project is not None
    await orgs.unit_for_staff(session, staff=staff, unit_id=project.org_unit_id)
    for name in data.model_fields_set:
        value = getattr(data, name)
        if value is not None:
            setattr(project, name, value)
    await session.flush()
    return schemas.Project.model_validate(project)


async def list_projects(
    session: AsyncSession,
    *,
    region_id: uuid.UUID,
    unit_id: uuid.UUID | None,
    category: TeamCategory | None,
    page: PageParams,
) -> Page[schemas.Project]:
    path = await subtree_path(session, region_id=region_id, unit_id=unit_id)
    rows = await repository.projects_page(
        session,
        region_id=region_id,
        subtree=path,
        category=category,
        after=decode_keyset(page.cursor),
        limit=page.limit,
    )
    items = [schemas.Project.model_validate(p) for p in rows[: page.limit]]
    next_cursor = (
        keyset_cursor(rows[page.limit - 1].created_at, rows[page.limit - 1].id)
        if len(rows) > page.limit
        else None
    )
    return Page(items=items, next_cursor=next_cursor)
