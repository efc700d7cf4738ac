"""Refusals of manual adjustments and their approval, each with its problem code."""

from app.core.errors import AppError


class AdjustmentNotFound(AppError):
    status, code, title = 404, "adjustment_not_found", "The adjustment does not exist"


class AdjustmentAlreadyDecided(AppError):
    status, code, title = (
        409,
        "adjustment_already_decided",
        "The adjustment is not pending: it was posted, approved or refused already",
    )


class OwnAdjustmentApproval(AppError):
    status, code, title = (
        403,
        "own_adjustment_approval",
        "An adjustment needs another center admin's approval than its requester's",
    )
