"""On-site attendance: rotating codes, check-in and check-out (by the volunteer, or by
the organizer scanning the volunteer's code), the anti-fraud checks, and closing
attendances into hours records, forgotten check-outs included.

A refused check-in records nothing, except the likely frauds (impossible travel,
overlapping attendance), kept as `CheckinRefusal` rows for the organizer. Flags that
do not refuse (zero accuracy, shared coordinates, daily cap, auto-closed) are stored
on the attendance and carried to its hours record.

By use case: `checks` (the rotating codes, the position against the radius, the
context), `write` (admit, release, close into hours), `fraud` (the refusals kept for
the organizer), `volunteer` (the volunteer's own check-in and check-out), `organizer`
(the organizer's scan and lists) and `finishing` (forgotten check-outs). Their SQL is
in `app.activities.repository`. Callers import `app.activities.checkin`.
"""

from app.activities.checkin.checks import (
    MAX_ACCURACY_ALLOWANCE_M,
    Position,
    activity_code,
    personal_code,
    rotating_code_out,
)
from app.activities.checkin.finishing import finish, finish_activity
from app.activities.checkin.organizer import list_attendances, list_refusals, scan
from app.activities.checkin.volunteer import check_in, check_out
from app.activities.checkin.write import close_attendance, served_minutes

__all__ = [
    "MAX_ACCURACY_ALLOWANCE_M",
    "Position",
    "activity_code",
    "check_in",
    "check_out",
    "close_attendance",
    "finish",
    "finish_activity",
    "list_attendances",
    "list_refusals",
    "personal_code",
    "rotating_code_out",
    "scan",
    "served_minutes",
]
