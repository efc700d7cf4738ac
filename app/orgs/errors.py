"""Problems raised by `app.orgs`."""

from app.core.errors import AppError


class UnitNotFound(AppError):
    status, code, title = 404, "org_unit_not_found", "The org unit does not exist"


class NotPermittedOnUnit(AppError):
    status, code, title = 403, "not_permitted_on_unit", "Your roles do not reach this org unit"
