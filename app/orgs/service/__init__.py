"""Regions, org units, teams and staff grants; the checks that scope staff to their subtree.

Reach: a role granted on a unit reaches the unit and everything under it. Reading
the org tree and its teams is open to anyone signed in to the region (it is the
public directory of the mini-program); changing it needs an admin role reaching
the unit. Staff accounts are visible to admins whose subtree holds one of their
grants, and a grant may never reach beyond its granter's own reach. Another
region's rows are always 404, never 403.

By use case: `checks` (what other features call to find a region or a unit in reach),
`regions`, `units`, `teams`, and `staff` (accounts and their grants). Callers import
`app.orgs.service`.
"""

from app.orgs.service.checks import get_region, unit_for_staff, unit_in_region
from app.orgs.service.regions import get_region_of, list_regions, update_region
from app.orgs.service.staff import (
    ROLE_RANK,
    ROLE_UNIT_KIND,
    add_grant,
    create_staff,
    get_staff,
    list_staff,
    revoke_grant,
    update_staff,
)
from app.orgs.service.teams import create_team, get_team, list_teams, update_team
from app.orgs.service.units import create_unit, get_unit, list_units, update_unit

__all__ = [
    "ROLE_RANK",
    "ROLE_UNIT_KIND",
    "add_grant",
    "create_staff",
    "create_team",
    "create_unit",
    "get_region",
    "get_region_of",
    "get_staff",
    "get_team",
    "get_unit",
    "list_regions",
    "list_staff",
    "list_teams",
    "list_units",
    "revoke_grant",
    "unit_for_staff",
    "unit_in_region",
    "update_region",
    "update_staff",
    "update_team",
    "update_unit",
]
