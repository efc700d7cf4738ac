"""Who may act where: the checks every feature makes of a staff member's grants.

A staff member's grants are roles on org units (`StaffContext`, loaded with the
token); a role reaches its unit and the units beneath it. The decisions built on
them live here, once, so that every feature refuses the same thing with the same
problem: a center admin's region-wide powers, a role on a unit, an admin role.
"""

from __future__ import annotations

import uuid

from app.identity.principals import StaffContext
from app.orgs.errors import CenterAdminRequired, NotPermittedOnUnit, RegionNotFound, UnitNotFound
from app.orgs.models import ALL_ROLES, OrgUnit, Role


def require_center_admin(staff: StaffContext) -> None:
    """Region-wide settings, the ledger, adjustments, the outbox, settlement."""
    if not staff.is_center_admin:
        raise CenterAdminRequired()


def require_center_admin_of(staff: StaffContext, region_id: uuid.UUID) -> None:
    """A center admin of the region named in the path; another region does not exist for
    the caller, whatever their roles there."""
    if region_id != staff.region_id:
        raise RegionNotFound()
    require_center_admin(staff)


def require_on_unit(staff: StaffContext, unit: OrgUnit, roles: frozenset[Role] = ALL_ROLES) -> None:
    """One of `roles` reaches `unit`; another region's unit does not exist for the caller."""
    if unit.region_id != staff.region_id:
        raise UnitNotFound()
    if not staff.can(unit, roles):
        raise NotPermittedOnUnit()
