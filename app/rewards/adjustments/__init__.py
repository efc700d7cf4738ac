"""Manual ledger adjustments by center admins, under the two-person rule.

An adjustment up to the region's threshold is posted at once by the one admin
who asks; a larger one, or one that takes that admin's adjustments of the same
account on the same region-local day past the threshold, waits for a second
center admin, who approves it (posting it, once) or refuses it with a reason.
Every adjustment, immediate or approved, counts against the region's yearly
issuance budget as reward issuance does.
"""
