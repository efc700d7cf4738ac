"""Problems raised by `app.volunteers`."""

from app.core.errors import AppError


class VolunteerNotFound(AppError):
    status, code, title = 404, "volunteer_not_found", "The volunteer does not exist"


class IdNumberInvalid(AppError):
    status, code, title = 422, "id_number_invalid", "The ID number is not valid for its type"


class IdNumberInUse(AppError):
    """Told to staff verifying a claim, never to the volunteer making one."""

    status, code, title = (
        409,
        "id_number_in_use",
        "Another volunteer of the region is verified with this ID",
    )


class StarThresholdsInvalid(AppError):
    status, code, title = (
        422,
        "star_thresholds_invalid",
        "Star thresholds must be five strictly increasing whole hours",
    )


class IdNotClaimed(AppError):
    status, code, title = 409, "id_not_claimed", "The volunteer has given no ID number to verify"
