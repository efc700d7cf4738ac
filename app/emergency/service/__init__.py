"""Grid emergency mobilisation (网格应急), by use case: `access` (who may act on a grid, an
enrolment, an alert; the audit trail), `grids`, `enrolments`, `callout` (raise, escalate,
stand down, the escalation job) and `board` (answers and the muster board). Their SQL is
in `app.emergency.repository`. Callers import `app.emergency.service`."""

from app.emergency.service.access import alert_for_staff, alert_for_volunteer
from app.emergency.service.board import (
    alert_for_staff_board,
    alert_for_volunteer_board,
    answer,
    board_for_staff,
    board_for_volunteer,
    list_alerts,
)
from app.emergency.service.callout import escalate, escalate_due, raise_alert, stand_down
from app.emergency.service.enrolments import (
    confirm,
    enrol,
    my_enrolments,
    refuse,
    team,
    withdraw,
)
from app.emergency.service.grids import define_grid, get_grid, list_grids, update_grid

__all__ = [
    "alert_for_staff",
    "alert_for_staff_board",
    "alert_for_volunteer",
    "alert_for_volunteer_board",
    "answer",
    "board_for_staff",
    "board_for_volunteer",
    "confirm",
    "define_grid",
    "enrol",
    "escalate",
    "escalate_due",
    "get_grid",
    "list_alerts",
    "list_grids",
    "my_enrolments",
    "raise_alert",
    "refuse",
    "stand_down",
    "team",
    "update_grid",
    "withdraw",
]
