"""Staff accounts and their grants, within the caller's admin reach: a grant never reaches
beyond its granter's, the last centre admin is never revoked."""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.pagination import Page, PageParams, keyset_page
from app.core.security import hash_password
from app.identity import revocation
from app.identity.errors import UsernameTaken
from app.identity.models import StaffKind, StaffUser
from app.identity.principals import StaffContext
from app.orgs import repository, schemas
from app.orgs.errors import (
    AdminRoleRequired,
    GrantExceedsReach,
    GrantExists,
    GrantNotFound,
    LastCenterAdmin,
    RoleUnitMismatch,
    SelfDeactivation,
    StaffNotFound,
)
from app.orgs.models import ADMIN_ROLES, OrgUnit, Role, StaffGrant, UnitKind
from app.orgs.service.checks import after_cursor, unit_in_region

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
    return schemas.Grant.model_validate(grant)


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
    after = after_cursor(page)
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
    return keyset_page(
        rows,
        page,
        key=lambda u: (u.created_at, u.id),
        out=lambda u: _staff_out(u, by_user.get(u.id, [])),
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
