"""Problems raised by grids, enrolments, call-outs and their answers."""

from app.core.errors import AppError


class GridNotFound(AppError):
    status, code, title = 404, "grid_not_found", "The grid does not exist"


class GridUnitNotPoint(AppError):
    status, code, title = 422, "grid_unit_not_point", "Only a point (点) can be a grid"


class GridAlreadyDefined(AppError):
    status, code, title = (
        409,
        "grid_already_defined",
        "The point is a grid already: change its area instead",
    )


class GridAreaInvalid(AppError):
    status, code, title = (
        422,
        "grid_area_invalid",
        "The grid's area is not a region on the map (a polygon with no area, repeated "
        "vertices or crossing edges)",
    )


class EnrolmentNotFound(AppError):
    status, code, title = 404, "enrolment_not_found", "The enrolment does not exist"


class AlreadyEnrolled(AppError):
    status, code, title = (
        409,
        "already_enrolled",
        "The volunteer is in this grid's team, or has asked to be",
    )


class EnrolmentNotPending(AppError):
    status, code, title = (
        409,
        "enrolment_not_pending",
        "Only an enrolment waiting for a decision can be confirmed or refused",
    )


class EnrolmentNotActive(AppError):
    status, code, title = (
        409,
        "enrolment_not_active",
        "The enrolment was refused or withdrawn already",
    )


class AlertNotFound(AppError):
    status, code, title = 404, "alert_not_found", "The alert does not exist"


class MusterByInvalid(AppError):
    status, code, title = (
        422,
        "muster_by_invalid",
        "The muster time must be in the future, and at most 72 hours away",
    )


class AlertNeedsInvalid(AppError):
    status, code, title = (
        422,
        "alert_needs_invalid",
        "No skill can be needed by more people than the alert needs in all",
    )


class AlertClosed(AppError):
    status, code, title = (
        409,
        "alert_closed",
        "The alert was stood down: it takes no more answers or changes",
    )


class AlertFullyEscalated(AppError):
    status, code, title = (
        409,
        "alert_fully_escalated",
        "The alert already calls everyone escalation can reach",
    )
