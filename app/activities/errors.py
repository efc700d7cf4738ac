"""Problems raised by projects, activities, sign-ups, check-in codes and attendance."""

from app.core.errors import AppError


class ProjectNotFound(AppError):
    status, code, title = 404, "project_not_found", "The project does not exist"


class ActivityNotFound(AppError):
    status, code, title = 404, "activity_not_found", "The activity does not exist"


class ActivityTeamInvalid(AppError):
    status, code, title = 422, "activity_team_invalid", "The team does not exist in this region"


class ActivityTimesInvalid(AppError):
    status, code, title = (
        422,
        "activity_times_invalid",
        "The activity's times are inconsistent (end before start, or a sign-up window "
        "that closes before it opens or after the activity ends)",
    )


class ActivityFieldRequired(AppError):
    status, code, title = (
        422,
        "activity_field_required",
        "This field of an activity cannot be cleared",
    )


class ActivityNotEditable(AppError):
    status, code, title = (
        409,
        "activity_not_editable",
        "A finished or cancelled activity cannot be changed",
    )


class ActivityAlreadyStarted(AppError):
    status, code, title = (
        409,
        "activity_already_started",
        "The time and place of a published activity cannot change once it has started",
    )


class ActivityStateConflict(AppError):
    status, code, title = (
        409,
        "activity_state_conflict",
        "The activity is not in a state that allows this",
    )


class ActivityHasAttendances(AppError):
    status, code, title = (
        409,
        "activity_has_attendances",
        "Volunteers have already checked in; the activity cannot be cancelled",
    )


class ActivityNotEnded(AppError):
    status, code, title = 409, "activity_not_ended", "The activity has not ended yet"


class CapacityBelowSignups(AppError):
    status, code, title = (
        409,
        "capacity_below_signups",
        "The capacity cannot be lower than the places already taken",
    )


class ActivityCancelled(AppError):
    status, code, title = 409, "activity_cancelled", "The activity is cancelled"


class ActivityFull(AppError):
    status, code, title = 409, "activity_full", "The activity has no place left"


class SignupNotOpen(AppError):
    status, code, title = 409, "signup_not_open", "Sign-up for this activity has not opened yet"


class SignupClosed(AppError):
    status, code, title = 409, "signup_closed", "Sign-up for this activity has closed"


class AlreadySignedUp(AppError):
    status, code, title = 409, "already_signed_up", "You are already signed up"


class SignupNotFound(AppError):
    status, code, title = 404, "signup_not_found", "You are not signed up for this activity"


class SignupCancelTooLate(AppError):
    status, code, title = (
        409,
        "signup_cancel_too_late",
        "A sign-up cannot be cancelled once the activity has started",
    )


class CheckinCodeInvalid(AppError):
    status, code, title = 422, "checkin_code_invalid", "The check-in code is not valid"


class CheckinCodeExpired(AppError):
    status, code, title = (
        422,
        "checkin_code_expired",
        "The check-in code has expired; scan the current one",
    )


class CheckinCodeWrongActivity(AppError):
    status, code, title = (
        422,
        "checkin_code_wrong_activity",
        "The check-in code belongs to another activity",
    )


class PersonalCodeInvalid(AppError):
    status, code, title = 422, "personal_code_invalid", "The volunteer's code is not valid"


class PersonalCodeExpired(AppError):
    status, code, title = (
        422,
        "personal_code_expired",
        "The volunteer's code has expired; scan the current one",
    )


class PersonalCodeUsed(AppError):
    status, code, title = (
        409,
        "personal_code_used",
        "This code was shown before the check-in; scan the volunteer's next code",
    )


class OutOfRange(AppError):
    status, code, title = (
        422,
        "checkin_out_of_range",
        "You are too far from the activity's place",
    )


class CheckinTooEarly(AppError):
    status, code, title = 409, "checkin_too_early", "Check-in has not opened yet"


class CheckinTooLate(AppError):
    status, code, title = 409, "checkin_too_late", "Check-in has closed: the activity has ended"


class CheckoutTooEarly(AppError):
    status, code, title = (
        409,
        "checkout_too_early",
        "Check-out opens when the activity starts",
    )


class CheckoutTooLate(AppError):
    status, code, title = 409, "checkout_too_late", "Check-out has closed for this activity"


class OrganizerScanRequired(AppError):
    status, code, title = (
        409,
        "organizer_scan_required",
        "This activity checks volunteers in and out only by the organizer's scan",
    )


class NotSignedUp(AppError):
    status, code, title = (
        403,
        "not_signed_up",
        "You are not signed up and the activity takes no walk-ins",
    )


class AlreadyCheckedIn(AppError):
    status, code, title = 409, "already_checked_in", "You have already checked in"


class NotCheckedIn(AppError):
    status, code, title = 409, "not_checked_in", "You have not checked in to this activity"


class AlreadyCheckedOut(AppError):
    status, code, title = 409, "already_checked_out", "You have already checked out"


class ImpossibleTravel(AppError):
    status, code, title = (
        403,
        "impossible_travel",
        "This place is too far from your last check-in or check-out within the hour",
    )
    # The refused attempt is recorded for the organizer.
    commit = True


class OverlappingAttendance(AppError):
    status, code, title = (
        409,
        "overlapping_attendance",
        "You are still checked in to another activity that has not ended",
    )
    commit = True
