"""The merchants' use cases behind the staff's and volunteers' routes, one module each:

- `merchants`: onboarding, status, paired stations, the receipts account;
- `staff`: the merchant's own logins (owners and cashiers);
- `policy`: the region's merchant policy (the refund window);
- `offers`: offers, managed by their merchant and browsed by volunteers;
- `terminals`: terminal registration and status.

Callers import `app.merchants.service` and nothing below it. The redemption, the
reservations, the codes and the settlement are modules of their own beside it.
"""

from app.merchants.service.merchants import (
    change_status,
    create_merchant,
    get_merchant,
    list_merchants,
    merchant_account_id,
    update_merchant,
)
from app.merchants.service.offers import browse_offers, create_offer, list_offers, update_offer
from app.merchants.service.policy import get_policy, refund_window_days, set_policy
from app.merchants.service.staff import (
    create_merchant_staff,
    list_merchant_staff,
    remove_merchant_staff,
    update_merchant_staff,
)
from app.merchants.service.terminals import list_terminals, register_terminal, set_terminal_status

__all__ = [
    "browse_offers",
    "change_status",
    "create_merchant",
    "create_merchant_staff",
    "create_offer",
    "get_merchant",
    "get_policy",
    "list_merchant_staff",
    "list_merchants",
    "list_offers",
    "list_terminals",
    "merchant_account_id",
    "refund_window_days",
    "register_terminal",
    "remove_merchant_staff",
    "set_policy",
    "set_terminal_status",
    "update_merchant",
    "update_merchant_staff",
    "update_offer",
]
