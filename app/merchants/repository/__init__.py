"""The merchants' SQL, one module per kind of row: `merchants` (merchants, pairings,
their staff, the region's policy), `offers` (offers, their listing, stock and use),
`terminals`, `codes` (redemption codes and offline keys), `redemptions` (the
counter's attempts and refunds, statements and settlement) and `reservations`.

The services decide and call these through the package, `repository.<function>`;
nothing here commits. The counter's hot statements are built once at import and sent
with `core.db.fetch_rows`, one round trip each.
"""

from app.merchants.repository.merchants import (
    end_pairings,
    lock_member,
    members_of,
    membership_of,
    merchant,
    merchants_by_id,
    merchants_page,
    paired_units,
    policy,
    refund_window_days,
    region,
    remember_ledger_account,
    stations_of,
    username_taken,
)
from app.merchants.repository.offers import (
    active_offer_conditions,
    active_offers,
    count_usage,
    give_back,
    offer,
    offer_in_region,
    offers_of,
    take_stock,
)
from app.merchants.repository.terminals import (
    terminal,
    terminals_of,
)

__all__ = [
    "active_offer_conditions",
    "active_offers",
    "count_usage",
    "end_pairings",
    "give_back",
    "lock_member",
    "members_of",
    "membership_of",
    "merchant",
    "merchants_by_id",
    "merchants_page",
    "offer",
    "offer_in_region",
    "offers_of",
    "paired_units",
    "policy",
    "refund_window_days",
    "region",
    "remember_ledger_account",
    "stations_of",
    "take_stock",
    "terminal",
    "terminals_of",
    "username_taken",
]
