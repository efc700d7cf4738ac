"""Background work of `app.emergency`: the escalation of alerts too few answered."""

from app.emergency.service import escalate_due

__all__ = ["escalate_due"]
