"""The merchant's steps: the owner's offer and terminal (its own Ed25519 key), the
volunteer's redemption code, the terminal's signed redemption and today's statement."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from app.tour.client import OWNER, VOLUNTEER, Terminal
from app.tour.settings import OFFER_PRICE
from app.tour.story import Story


async def spend(story: Story) -> None:
    """5. The merchant opens its shop, the volunteer spends at its terminal."""
    tour, run, merchants, region = story.tour, story.run, story.merchants, story.region
    owner, owner_password, expected = story.owner, story.owner_password, story.expected
    await tour.log_in(OWNER, owner["username"], owner_password)
    offer = await tour.step(
        OWNER,
        "create an offer",
        "POST",
        f"{merchants}/offers",
        expect=201,
        body={"title": "一碗阳春面", "price": OFFER_PRICE},
        fact=lambda d: f"{d['title']} for {d['price']} 良票, {d['status']}",
    )
    terminal = Terminal()
    registered = await tour.step(
        OWNER,
        "register the terminal's own Ed25519 key",
        "POST",
        f"{merchants}/terminals",
        expect=201,
        body={"name": "收银台1", "public_key": terminal.public_key},
        fact=lambda d: f"terminal {d['status']}, keyid {d['key_id']}",
    )
    terminal.key_id = registered["key_id"]
    code = await tour.step(
        VOLUNTEER,
        f"show a redemption code (at most {OFFER_PRICE})",
        "POST",
        "/v1/me/redemption-codes",
        expect=201,
        idempotent=True,
        body={"max_amount": OFFER_PRICE},
        fact=lambda d: f"code …{d['code'][-4:]}, max {d['max_amount']}, expires {d['expires_at']}",
    )
    request_no = f"TOUR-{run}-0001"
    receipt = await tour.signed(
        terminal,
        "redeem the offer (signed request)",
        "POST",
        "/v1/terminal/redemptions",
        expect=201,
        payload={"code": code["code"], "offer_id": offer["id"], "request_no": request_no},
        fact=lambda d: f"receipt {d['status']}: {d['amount']} 良票 from {d['volunteer']}",
    )
    await tour.signed(
        terminal,
        "ask again what became of it",
        "GET",
        f"/v1/terminal/redemptions/{request_no}",
        expect=200,
        fact=lambda d: f"{d['status']}, the same receipt: {d['id'] == receipt['id']}",
    )
    await tour.step(
        VOLUNTEER,
        "read my wallet",
        "GET",
        "/v1/me/wallet",
        check=lambda d: d["balance"]["available"] == expected - OFFER_PRICE,
        fact=lambda d: f"balance {d['balance']['available']} 良票",
    )
    today = datetime.now(ZoneInfo(region["timezone"])).date().isoformat()
    await tour.step(
        OWNER,
        f"read today's statement ({today})",
        "GET",
        f"{merchants}/statements/{today}",
        check=lambda d: (
            d["provisional"] and any(line["request_no"] == request_no for line in d["lines"])
        ),
        fact=lambda d: (
            f"provisional={d['provisional']}, {d['totals']['redemptions']} "
            f"redemption(s), net {d['totals']['net']} 良票"
        ),
    )
