"""Projects, activities and sign-ups: who may create and change them, the edit rules,
the listings (by unit, category, date and distance), capacity under concurrency, and
the per-region check-in policy.

By use case: `contract` (the lookups, the organizer's check, durations and rounding
that `checkin`, `hours` and `volunteers` call), `projects`, `lifecycle` (create, edit,
publish, cancel), `reading` (one activity, the listings), `signups` and `policy`. Their
SQL is in `app.activities.repository`. Callers import `app.activities.service`.

Check-in and check-out live in `app.activities.checkin`; hours in `app.activities.hours`.
"""

from app.activities.repository import take_place
from app.activities.service.contract import (
    FULL_HOUR_FROM,
    HALF_HOUR_FROM,
    PUBLIC_COORDINATE_DECIMALS,
    PUBLIC_RADIUS_STEP_M,
    activity_for_organizer,
    activity_out,
    cap_minutes,
    duration_minutes,
    get_activity,
    organizer_unit_check,
    round_minutes,
    visible_activity,
    volunteer_in_reach,
    with_volunteers,
)
from app.activities.service.lifecycle import (
    REQUIRED_FIELDS,
    TIME_AND_PLACE,
    cancel_activity,
    create_activity,
    publish_activity,
    update_activity,
)
from app.activities.service.policy import get_policy, open_policy, policy_out, update_policy
from app.activities.service.projects import (
    create_project,
    get_project,
    list_projects,
    update_project,
)
from app.activities.service.reading import (
    MAX_DISTANCE_KM,
    PUBLIC_STATUSES,
    ActivityFilters,
    get_activity_for,
    list_activities,
)
from app.activities.service.signups import cancel_signup, list_signups, sign_up, take_signup

__all__ = [
    "FULL_HOUR_FROM",
    "HALF_HOUR_FROM",
    "MAX_DISTANCE_KM",
    "PUBLIC_COORDINATE_DECIMALS",
    "PUBLIC_RADIUS_STEP_M",
    "PUBLIC_STATUSES",
    "REQUIRED_FIELDS",
    "TIME_AND_PLACE",
    "ActivityFilters",
    "activity_for_organizer",
    "activity_out",
    "cancel_activity",
    "cancel_signup",
    "cap_minutes",
    "create_activity",
    "create_project",
    "duration_minutes",
    "get_activity",
    "get_activity_for",
    "get_policy",
    "get_project",
    "list_activities",
    "list_projects",
    "list_signups",
    "open_policy",
    "organizer_unit_check",
    "policy_out",
    "publish_activity",
    "round_minutes",
    "sign_up",
    "take_place",
    "take_signup",
    "update_activity",
    "update_policy",
    "update_project",
    "visible_activity",
    "volunteer_in_reach",
    "with_volunteers",
]
