"""The ledger's evidence: the issuance read back, the proof that a signed block holds it,
checked with the region's public keys alone (`standalone_verify`)."""

from __future__ import annotations

from app.ledger.standalone_verify import verify_proof
from app.tour.client import ADMIN, VOLUNTEER, TourStopped
from app.tour.story import Story


async def check_evidence(story: Story) -> None:
    """6. The ledger's evidence: a signed block holds the volunteer's transaction."""
    tour, issuance, region = story.tour, story.issuance, story.region
    tx = issuance["transaction_id"]
    await tour.step(
        ADMIN,
        "read the issuance in the ledger",
        "GET",
        f"/v1/ledger/transactions/{tx}",
        check=lambda d: sum(p["amount"] for p in d["postings"]) == 0,
        fact=lambda d: (
            f"{d['kind']}, {len(d['postings'])} postings summing to "
            f"{sum(p['amount'] for p in d['postings'])}"
        ),
    )
    proof = await tour.until(
        VOLUNTEER,
        "wait for the proof that a block holds it",
        f"/v1/ledger/transactions/{tx}/proof",
        done=lambda r: r.status_code == 200,
        fact=lambda d: (
            f"block {d['block']['header']['height']}, leaf {d['leaf_index']} of {d['tree_size']}"
        ),
    )
    keys = await tour.step(
        VOLUNTEER,
        "fetch the region's public ledger keys",
        "GET",
        f"/v1/regions/{region['id']}/ledger-keys",
        fact=lambda d: f"{len(d['keys'])} key(s)",
    )
    problems = verify_proof(proof, {k["kid"]: k["x"] for k in keys["keys"]})
    tour.say(
        VOLUNTEER,
        "check the proof with those keys alone",
        "ok" if not problems else "FAIL",
        "; ".join(problems) or "signature and Merkle path hold",
    )
    if problems:
        raise TourStopped()
