"""Problems raised by volunteer hours: decisions, corrections, make-up and bulk credits."""

from app.core.errors import AppError


class HoursRecordNotFound(AppError):
    status, code, title = 404, "hours_record_not_found", "The hours record does not exist"


class HoursAlreadyDecided(AppError):
    status, code, title = 409, "hours_already_decided", "The hours record is already decided"


class OwnEntryApproval(AppError):
    status, code, title = (
        403,
        "own_entry_approval",
        "Hours you entered need another staff member's approval",
    )


class HoursLocked(AppError):
    status, code, title = 409, "hours_locked", "Approved hours are locked"


class HoursSuperseded(AppError):
    status, code, title = (
        409,
        "hours_superseded",
        "The hours record was replaced by a correction; act on its replacement",
    )


class HoursNotCorrectable(AppError):
    status, code, title = (
        409,
        "hours_not_correctable",
        "Only pending or approved hours can be corrected",
    )


class ReasonRequired(AppError):
    status, code, title = 422, "hours_reason_required", "A reason is required for this decision"


class CorrectionNotFound(AppError):
    status, code, title = 404, "hours_correction_not_found", "The correction request does not exist"


class CorrectionAlreadyOpen(AppError):
    status, code, title = (
        409,
        "hours_correction_already_open",
        "The hours record already has an open correction request",
    )


class CorrectionAlreadyDecided(AppError):
    status, code, title = (
        409,
        "hours_correction_already_decided",
        "The correction request is already decided",
    )


class CorrectionUnchanged(AppError):
    status, code, title = (
        422,
        "hours_correction_unchanged",
        "The corrected minutes equal the recorded minutes",
    )


class OverActivityCap(AppError):
    status, code, title = (
        422,
        "hours_over_activity_cap",
        "The minutes exceed the activity's duration",
    )


class OverDailyCap(AppError):
    status, code, title = (
        422,
        "hours_over_daily_cap",
        "The minutes would take the day's credited hours over 12",
    )


class ActivityNotHeld(AppError):
    status, code, title = (
        409,
        "hours_activity_not_held",
        "Hours can only be credited for an activity that has taken place",
    )


class ActivityNotFinished(AppError):
    status, code, title = (
        409,
        "hours_activity_not_finished",
        "Bulk credit is only possible once the activity has finished",
    )


class AlreadyCredited(AppError):
    status, code, title = (
        409,
        "hours_already_credited",
        "The volunteer already has hours for this activity",
    )


class VolunteerNotInRegion(AppError):
    status, code, title = 404, "hours_volunteer_not_found", "The volunteer does not exist"
