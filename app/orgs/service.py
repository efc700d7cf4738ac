"""Regions, org units, teams and staff grants; the checks that scope staff to their subtree.

Reach: a role granted on a unit reaches the unit and everything under it. Reading
the org tree and its teams is open to anyone signed in to the region (it is the
public directory of the mini-program); changing it needs an admin role reaching
the unit. Staff accounts are visible to admins whose subtree holds one of their
grants, and a grant may never reach beyond its granter's own reach. Another
region's rows are always 404, never 403.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.db import new_id
from app.core.pagination import Keyset, Page, PageParams, decode_keyset, keyset_cursor
from app.core.security import hash_password
from app.identity import revocation
from app.identity.errors import UsernameTaken
from app.identity.models import StaffKind, StaffUser
from app.identity.principals import Principal, StaffContext
from app.orgs import repository, schemas
from app.orgs.authz import require_center_admin
from app.orgs.errors import (
    AdminRoleRequired,
    GrantExceedsReach,
    GrantExists,
    GrantNotFound,
    LastCenterAdmin,
    NotPermittedOnUnit,
    RegionNotFound,
    RoleUnitMismatch,
    SelfDeactivation,
    StaffNotFound,
    TeamCategoryInvalid,
    TeamNotFound,
    UnitKindInvalid,
    UnitNotFound,
)
from app.orgs.models import (
    ADMIN_ROLES,
    ALL_ROLES,
    CHILD_KIND,
    TEAM_CATEGORY_LABELS,
    OrgUnit,
    Region,
    Role,
    StaffGrant,
    Team,
    TeamCategory,
    UnitKind,
)

# How far a role reaches, for "a grant may not exceed its granter's reach".
ROLE_RANK: dict[Role, int] = {
    Role.organizer: 0,
    Role.station_admin: 1,
    Role.institute_admin: 2,
    Role.center_admin: 3,
}
# Admin roles belong on their own level of the tree; organizers work on any unit.
ROLE_UNIT_KIND: dict[Role, UnitKind] = {
    Role.center_admin: UnitKind.center,
    Role.institute_admin: UnitKind.institute,
    Role.station_admin: UnitKind.station,
}


# Checks other features use


async def get_region(session: AsyncSession, region_id: uuid.UUID) -> Region:
    region = await session.get(Region, region_id)
    if region is None:
        raise RegionNotFound()
    return region


async def unit_in_region(
    session: AsyncSession, *, region_id: uuid.UUID, unit_id: uuid.UUID
) -> OrgUnit:
    """The unit, or 404 when it does not exist or belongs to another region."""
    unit = await session.get(OrgUnit, unit_id)
    if unit is None or unit.region_id != region_id:
        raise UnitNotFound()
    return unit


async def unit_for_staff(
    session: AsyncSession,
    *,
    staff: StaffContext,
    unit_id: uuid.UUID,
    roles: frozenset[Role] = ALL_ROLES,
) -> OrgUnit:
    """The unit if one of `roles` reaches it; 404 across regions, 403 outside the subtree."""
    unit = await unit_in_region(session, region_id=staff.region_id, unit_id=unit_id)
    if not staff.can(unit, roles):
        raise NotPermittedOnUnit()
    return unit


# Paging


def _after(page: PageParams) -> Keyset | None:
    return decode_keyset(page.cursor)


def _next_cursor(rows: Sequence[Any], limit: int) -> str | None:
    if len(rows) <= limit:
        return None
    last = rows[limit - 1]
    return keyset_cursor(last.created_at, last.id)


# Regions


def _region_out(region: Region) -> schemas.Region:
    return schemas.Region.model_validate(region, from_attributes=True)


async def list_regions(
    session: AsyncSession, *, principal: Principal, page: PageParams
) -> Page[schemas.Region]:
    """Only the caller's own region: no principal lists the other tenants."""
    after = _after(page)
    if principal.region_id is None:
        return Page(items=[])
    region = await session.get(Region, principal.region_id)
    if region is None or (after is not None and (region.created_at, region.id) <= after):
        return Page(items=[])
    return Page(items=[_region_out(region)])


async def get_region_of(
    session: AsyncSession, *, principal: Principal, region_id: uuid.UUID
) -> schemas.Region:
    if region_id != principal.region_id:
        raise RegionNotFound()
    return _region_out(await get_region(session, region_id))


async def update_region(
    session: AsyncSession,
    *,
    staff: StaffContext,
    region_id: uuid.UUID,
    changes: schemas.RegionUpdate,
) -> schemas.Region:
    if region_id != staff.region_id:
        raise RegionNotFound()
    region = await get_region(session, region_id)
    require_center_admin(staff)
    if changes.name is not None:
        region.name = changes.name
    if changes.timezone is not None:
        region.timezone = changes.timezone
    await session.flush()
    return _region_out(region)


# Org units


def _unit_out(unit: OrgUnit) -> schemas.OrgUnit:
    stored = unit.seven_haves or {}
    seven = schemas.SevenHaves.model_validate(
        {k: v for k, v in stored.items() if k in schemas.SevenHaves.model_fields}
    )
    return schemas.OrgUnit(
        id=unit.id,
        region_id=unit.region_id,
        parent_id=unit.parent_id,
        kind=UnitKind(unit.kind),
        name=unit.name,
        address=unit.address,
        latitude=unit.latitude,
        longitude=unit.longitude,
        seven_haves=seven,
        created_at=unit.created_at,
        updated_at=unit.updated_at,
    )


def _readable_region(principal: Principal) -> uuid.UUID:
    if principal.region_id is None:
        raise UnitNotFound()
    return principal.region_id


async def create_unit(
    session: AsyncSession, *, staff: StaffContext, data: schemas.OrgUnitCreate
) -> schemas.OrgUnit:
    parent = await unit_for_staff(session, staff=staff, unit_id=data.parent_id, roles=ADMIN_ROLES)
    expected = CHILD_KIND[UnitKind(parent.kind)]
    if expected is None:
        raise UnitKindInvalid("A point is a leaf: nothing sits under it")
    if data.kind != expected:
        raise UnitKindInvalid(f"Under a {parent.kind} comes a {expected.value}, not a {data.kind}")
    unit_id = new_id()
    unit = OrgUnit(
        id=unit_id,
        region_id=parent.region_id,
        parent_id=parent.id,
        kind=data.kind,
        name=data.name,
        path=f"{parent.path}{unit_id}/",
        address=data.address,
        latitude=data.latitude,
        longitude=data.longitude,
        seven_haves=data.seven_haves.model_dump(),
    )
    session.add(unit)
    await session.flush()
    return _unit_out(unit)


async def get_unit(
    session: AsyncSession, *, principal: Principal, unit_id: uuid.UUID
) -> schemas.OrgUnit:
    region_id = _readable_region(principal)
    return _unit_out(await unit_in_region(session, region_id=region_id, unit_id=unit_id))


async def update_unit(
    session: AsyncSession,
    *,
    staff: StaffContext,
    unit_id: uuid.UUID,
    changes: schemas.OrgUnitUpdate,
) -> schemas.OrgUnit:
    unit = await unit_for_staff(session, staff=staff, unit_id=unit_id, roles=ADMIN_ROLES)
    sent = changes.model_fields_set
    if changes.name is not None:
        unit.name = changes.name
    if "address" in sent:
        unit.address = changes.address
    if "latitude" in sent:
        unit.latitude = changes.latitude
        unit.longitude = changes.longitude
    if changes.seven_haves is not None:
        current = _unit_out(unit).seven_haves.model_dump()
        current.update(changes.seven_haves.model_dump(include=changes.seven_haves.model_fields_set))
        unit.seven_haves = current
    await session.flush()
    return _unit_out(unit)


async def list_units(
    session: AsyncSession,
    *,
    principal: Principal,
    parent_id: uuid.UUID | None,
    kind: UnitKind | None,
    page: PageParams,
) -> Page[schemas.OrgUnit]:
    after = _after(page)
    if principal.region_id is None:
        return Page(items=[])
    rows = await repository.units_page(
        session,
        region_id=principal.region_id,
        parent_id=parent_id,
        kind=kind,
        after=after,
        limit=page.limit,
    )
    return Page(
        items=[_unit_out(u) for u in rows[: page.limit]],
        next_cursor=_next_cursor(rows, page.limit),
    )


# Teams


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
    after = _after(page)
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
    return Page(
        items=[_team_out(t) for t in rows[: page.limit]],
        next_cursor=_next_cursor(rows, page.limit),
    )


# Staff and grants


def _admin_paths(staff: StaffContext) -> list[str]:
    paths = [g.unit_path for g in staff.grants if g.role in ADMIN_ROLES]
    if not paths:
        raise AdminRoleRequired()
    return paths


def _region_wide(paths: Sequence[str]) -> bool:
    # A root unit's path is "/<its id>/": an admin there reaches the whole region.
    return any(p.count("/") == 2 for p in paths)


def _rank_at(staff: StaffContext, unit: OrgUnit) -> int:
    """The highest admin rank reaching `unit`, or -1 when no admin role does."""
    return max((ROLE_RANK[r] for r in staff.roles_on(unit) & ADMIN_ROLES), default=-1)


def _check_grantable(staff: StaffContext, unit: OrgUnit, role: Role) -> None:
    rank = _rank_at(staff, unit)
    if rank < 0:
        raise GrantExceedsReach("The unit is outside your subtree")
    if ROLE_RANK[role] > rank:
        raise GrantExceedsReach(f"You may not grant {role.value} on this unit")
    kind = ROLE_UNIT_KIND.get(role)
    if kind is not None and unit.kind != kind:
        raise RoleUnitMismatch(f"{role.value} is held on a {kind.value}, not a {unit.kind}")


def _grant_out(grant: StaffGrant) -> schemas.Grant:
    return schemas.Grant(
        id=grant.id,
        staff_id=grant.staff_id,
        org_unit_id=grant.org_unit_id,
        role=Role(grant.role),
        granted_by=grant.granted_by,
        created_at=grant.created_at,
        revoked_at=grant.revoked_at,
        revoked_by=grant.revoked_by,
        revoked_reason=grant.revoked_reason,
    )


def _staff_out(user: StaffUser, grants: Sequence[StaffGrant]) -> schemas.Staff:
    return schemas.Staff(
        id=user.id,
        region_id=user.region_id,
        username=user.username,
        display_name=user.display_name,
        is_active=user.is_active,
        grants=[_grant_out(g) for g in grants],
        created_at=user.created_at,
        updated_at=user.updated_at,
    )


async def _visible_staff(
    session: AsyncSession, *, staff: StaffContext, staff_id: uuid.UUID
) -> tuple[StaffUser, list[tuple[StaffGrant, OrgUnit]]]:
    """The account and its grants, if one of its grants lies in the caller's admin subtree.

    An account without grants is visible to region-wide admins only. Anything
    else is 404: an admin cannot tell a colleague elsewhere from nobody.
    """
    paths = _admin_paths(staff)
    user = await repository.staff_in_region(session, region_id=staff.region_id, staff_id=staff_id)
    if user is None:
        raise StaffNotFound()
    grants = await repository.grants_of(session, region_id=staff.region_id, staff_ids=[user.id])
    if _region_wide(paths):
        return user, grants
    if not any(unit.path.startswith(p) for _, unit in grants for p in paths):
        raise StaffNotFound()
    return user, grants


async def create_staff(
    session: AsyncSession, *, staff: StaffContext, data: schemas.StaffCreate
) -> schemas.Staff:
    _admin_paths(staff)
    units = []
    for wanted in data.grants:
        unit = await unit_in_region(session, region_id=staff.region_id, unit_id=wanted.org_unit_id)
        _check_grantable(staff, unit, wanted.role)
        units.append(unit)
    if await repository.username_exists(session, username=data.username):
        raise UsernameTaken()
    user = StaffUser(
        region_id=staff.region_id,
        kind=StaffKind.staff,
        username=data.username,
        display_name=data.display_name,
        password_hash=await hash_password(data.password.get_secret_value()),
        is_active=True,
    )
    try:
        # A savepoint: losing a race for the username must not poison the unit of work.
        async with session.begin_nested():
            session.add(user)
            await session.flush()
    except IntegrityError as exc:
        raise UsernameTaken() from exc
    grants = [
        StaffGrant(
            region_id=staff.region_id,
            staff_id=user.id,
            org_unit_id=unit.id,
            role=wanted.role,
            granted_by=staff.id,
        )
        for wanted, unit in zip(data.grants, units, strict=True)
    ]
    session.add_all(grants)
    await session.flush()
    return _staff_out(user, grants)


async def get_staff(
    session: AsyncSession, *, staff: StaffContext, staff_id: uuid.UUID
) -> schemas.Staff:
    user, grants = await _visible_staff(session, staff=staff, staff_id=staff_id)
    return _staff_out(user, [g for g, _ in grants])


async def list_staff(
    session: AsyncSession, *, staff: StaffContext, page: PageParams
) -> Page[schemas.Staff]:
    paths = _admin_paths(staff)
    after = _after(page)
    rows = await repository.staff_page(
        session,
        region_id=staff.region_id,
        within=None if _region_wide(paths) else paths,
        after=after,
        limit=page.limit,
    )
    users = rows[: page.limit]
    grants = await repository.grants_of(
        session, region_id=staff.region_id, staff_ids=[u.id for u in users]
    )
    by_user: dict[uuid.UUID, list[StaffGrant]] = {}
    for grant, _ in grants:
        by_user.setdefault(grant.staff_id, []).append(grant)
    return Page(
        items=[_staff_out(u, by_user.get(u.id, [])) for u in users],
        next_cursor=_next_cursor(rows, page.limit),
    )


async def update_staff(
    session: AsyncSession,
    *,
    staff: StaffContext,
    staff_id: uuid.UUID,
    changes: schemas.StaffUpdate,
) -> schemas.Staff:
    user, grants = await _visible_staff(session, staff=staff, staff_id=staff_id)
    # Changing an account touches every unit it works on: all of them must be in reach.
    for grant, unit in grants:
        if ROLE_RANK[Role(grant.role)] > _rank_at(staff, unit):
            raise GrantExceedsReach("This account holds roles beyond your reach")
    if changes.is_active is False and user.id == staff.id:
        raise SelfDeactivation()
    if changes.display_name is not None:
        user.display_name = changes.display_name
    if changes.is_active is not None:
        user.is_active = changes.is_active
    if changes.password is not None:
        user.password_hash = await hash_password(changes.password.get_secret_value())
    await session.flush()
    if changes.is_active is False or changes.password is not None:
        # A disabled account, or one whose password was reset, keeps no login alive.
        await revocation.end_staff_logins(session, user=user)
    return _staff_out(user, [g for g, _ in grants])


async def add_grant(
    session: AsyncSession,
    *,
    staff: StaffContext,
    staff_id: uuid.UUID,
    data: schemas.GrantCreate,
) -> schemas.Grant:
    user, _ = await _visible_staff(session, staff=staff, staff_id=staff_id)
    unit = await unit_in_region(session, region_id=staff.region_id, unit_id=data.org_unit_id)
    _check_grantable(staff, unit, data.role)
    if await repository.grant_exists(
        session, staff_id=user.id, org_unit_id=unit.id, role=data.role
    ):
        raise GrantExists()
    grant = StaffGrant(
        region_id=staff.region_id,
        staff_id=user.id,
        org_unit_id=unit.id,
        role=data.role,
        granted_by=staff.id,
    )
    try:
        async with session.begin_nested():
            session.add(grant)
            await session.flush()
    except IntegrityError as exc:
        raise GrantExists() from exc
    return _grant_out(grant)


async def revoke_grant(
    session: AsyncSession,
    *,
    staff: StaffContext,
    staff_id: uuid.UUID,
    grant_id: uuid.UUID,
    reason: str,
) -> schemas.Grant:
    """Revoke a live grant: the row stays, with who revoked it, when and why."""
    user, grants = await _visible_staff(session, staff=staff, staff_id=staff_id)
    found = next(((g, u) for g, u in grants if g.id == grant_id), None)
    if found is None:
        raise GrantNotFound()
    grant, unit = found
    role = Role(grant.role)
    if ROLE_RANK[role] > _rank_at(staff, unit):
        raise GrantExceedsReach(f"You may not revoke {role.value} on this unit")
    if (
        role is Role.center_admin
        and user.is_active
        and await repository.count_center_admins(session, region_id=staff.region_id) <= 1
    ):
        raise LastCenterAdmin()
    revoked = await repository.revoke_grant(session, grant_id=grant.id, by=staff.id, reason=reason)
    if revoked is None:
        raise GrantNotFound()
    return _grant_out(revoked)
