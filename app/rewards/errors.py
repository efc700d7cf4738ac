"""Problems raised by `app.rewards`."""

from app.core.errors import AppError


class BudgetExhausted(AppError):
    status, code, title = (
        409,
        "budget_exhausted",
        "The region's yearly issuance budget has no room for this",
    )
