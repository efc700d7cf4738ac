"""Problems raised by `app.orgs`."""

from app.core.errors import AppError


class RegionNotFound(AppError):
    status, code, title = 404, "region_not_found", "The region does not exist"


class UnitNotFound(AppError):
    status, code, title = 404, "org_unit_not_found", "The org unit does not exist"


class NotPermittedOnUnit(AppError):
    status, code, title = 403, "not_permitted_on_unit", "Your roles do not reach this org unit"


class CenterAdminRequired(AppError):
    """The one refusal for what only a center admin of the region may do.

    It replaces `not_center_admin`, `ledger_admin_required`, `outbox_admin_required`
    and `activity_policy_admin_required`, four names for the same rule.
    """

    status, code, title = 403, "center_admin_required", "This needs a center admin of the region"


class AdminRoleRequired(AppError):
    status, code, title = 403, "admin_role_required", "This needs an admin role on an org unit"


class UnitKindInvalid(AppError):
    status, code, title = (
        422,
        "unit_kind_invalid",
        "This kind of unit cannot sit under that parent",
    )


class TeamNotFound(AppError):
    status, code, title = 404, "team_not_found", "The team does not exist"


class TeamCategoryInvalid(AppError):
    status, code, title = (
        422,
        "team_category_invalid",
        "A custom team names its category; a standing one does not",
    )


class StaffNotFound(AppError):
    status, code, title = 404, "staff_not_found", "The staff account does not exist"


class GrantNotFound(AppError):
    status, code, title = 404, "grant_not_found", "The grant does not exist"


class GrantExists(AppError):
    status, code, title = 409, "grant_exists", "The staff member already holds this role here"


class GrantExceedsReach(AppError):
    status, code, title = 403, "grant_exceeds_reach", "This role or unit is beyond your reach"


class RoleUnitMismatch(AppError):
    status, code, title = 422, "role_unit_mismatch", "This role cannot be held on this kind of unit"


class LastCenterAdmin(AppError):
    status, code, title = (
        409,
        "last_center_admin",
        "The region's last center admin cannot be removed",
    )


class SelfDeactivation(AppError):
    status, code, title = 409, "self_deactivation", "You cannot deactivate your own account"


class RegionCodeTaken(AppError):
    status, code, title = 409, "region_code_taken", "A region with this code already exists"


class RegionHasCenterAdmin(AppError):
    status, code, title = (
        409,
        "region_has_center_admin",
        "The region already has a center admin: its own admins manage its staff",
    )
