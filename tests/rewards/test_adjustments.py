"""Manual adjustments under the two-person rule (DESIGN.md §2.12): within the region's
threshold one center admin posts them; above it a second center admin approves
(posting once) or refuses; pieces of a split adjustment are added up per admin,
account and day; posted adjustments count against the yearly budget."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncSession

from app.ledger.models import AccountKind, LedgerTransaction, TxKind
from app.orgs.models import Role
from app.rewards.adjustments.models import Adjustment, AdjustmentStatus
from tests.builders import make_staff, staff_auth
from tests.ledger.support import Ledger
from tests.orgs.support import assert_problem
from tests.rewards.support import approve as approve_hours
from tests.rewards.support import deliver, issuance_of

URL = "/v1/ledger/adjustments"


def key() -> dict[str, str]:
    return {"Idempotency-Key": uuid.uuid4().hex}


@pytest.fixture
def ledger(app: Any) -> Ledger:
    return Ledger(app)


@pytest.fixture
async def second_admin(session: AsyncSession, app: Any, world: Any) -> dict[str, str]:
    """The headers of a second center admin of the region."""
    user = await make_staff(session, world.region, role=Role.center_admin, unit=world.center)
    world.second_admin = user
    return staff_auth(app, user)


@pytest.fixture
async def accounts(ledger: Ledger, world: Any) -> dict[str, uuid.UUID]:
    issuance = await ledger.system(world.region.id, AccountKind.issuance)
    return {
        "issuance": issuance.id,
        "wallet_a": await ledger.wallet_id(world.volunteer_a),
        "wallet_b": await ledger.wallet_id(world.volunteer_b),
    }


def credit(accounts: dict[str, uuid.UUID], amount: int, to: str = "wallet_a") -> dict[str, Any]:
    return {
        "debit_account_id": str(accounts["issuance"]),
        "credit_account_id": str(accounts[to]),
        "amount": amount,
        "reason": "补发：活动漏记",
    }


async def post(client: httpx.AsyncClient, headers: dict[str, str], body: Any) -> httpx.Response:
    return await client.post(URL, json=body, headers={**headers, **key()})


async def rows(app: Any) -> list[Adjustment]:
    async with app.state.db.sessions() as session:
        found = await session.scalars(select(Adjustment).order_by(Adjustment.requested_at))
        return list(found)


async def set_policy(client: httpx.AsyncClient, world: Any, **fields: Any) -> None:
    response = await client.put(
        f"/v1/regions/{world.region.id}/reward-policy",
        json={"rate_per_hour": 10, "earning_sources": ["checkin"], **fields},
        headers=world.auth["center_admin"],
    )
    assert response.status_code == 200, response.text


# Within the threshold


async def test_an_adjustment_within_the_threshold_is_posted_at_once_and_kept(
    client: httpx.AsyncClient, app: Any, ledger: Ledger, world: Any, accounts: Any
) -> None:
    response = await post(client, world.auth["center_admin"], credit(accounts, 500))

    assert response.status_code == 201, response.text
    tx = response.json()
    assert (tx["kind"], tx["reference_type"]) == ("adjust", "adjustment")
    assert await ledger.available(world.volunteer_a) == 500
    [row] = await rows(app)
    assert (row.status, row.amount, row.threshold, row.approval_cause) == ("posted", 500, 500, None)
    assert (row.requested_by_id, row.reason) == (world.center_admin.id, "补发：活动漏记")
    assert row.transaction_id == uuid.UUID(tx["id"])
    # Without a reference of its own the transaction names the adjustment.
    assert tx["reference_id"] == str(row.id)


# Above the threshold: a second admin


async def test_an_adjustment_above_the_threshold_waits_and_posts_nothing(
    client: httpx.AsyncClient, ledger: Ledger, world: Any, accounts: Any
) -> None:
    headers = {**world.auth["center_admin"], **key()}
    response = await client.post(URL, json=credit(accounts, 501), headers=headers)
    replay = await client.post(URL, json=credit(accounts, 501), headers=headers)

    assert response.status_code == 202, response.text
    pending = response.json()
    assert (pending["status"], pending["approval_cause"], pending["amount"]) == (
        "pending",
        "amount",
        501,
    )
    assert (pending["transaction_id"], pending["decided_by_id"]) == (None, None)
    assert pending["requested_by_id"] == str(world.center_admin.id)
    assert (replay.status_code, replay.json()) == (202, pending)
    assert await ledger.available(world.volunteer_a) == 0
    assert await ledger.count(LedgerTransaction) == 0

    queue = await client.get(f"{URL}?status=pending", headers=world.auth["center_admin"])
    assert [a["id"] for a in queue.json()["items"]] == [pending["id"]]
    one = await client.get(f"{URL}/{pending['id']}", headers=world.auth["center_admin"])
    assert one.json() == pending


async def test_a_second_center_admin_approves_and_the_adjustment_posts_once(
    client: httpx.AsyncClient,
    app: Any,
    ledger: Ledger,
    world: Any,
    accounts: Any,
    second_admin: dict[str, str],
) -> None:
    pending = (await post(client, world.auth["center_admin"], credit(accounts, 2000))).json()
    approve_url = f"{URL}/{pending['id']}/approve"
    approval_key = key()

    approved = await client.post(
        approve_url, json={"reason": "核对了名单"}, headers={**second_admin, **approval_key}
    )
    retried = await client.post(
        approve_url, json={"reason": "核对了名单"}, headers={**second_admin, **approval_key}
    )
    again = await client.post(approve_url, headers={**second_admin, **key()})

    assert approved.status_code == 200, approved.text
    body = approved.json()
    assert body["status"] == "approved"
    assert body["decided_by_id"] == str(world.second_admin.id)
    assert body["decision_reason"] == "核对了名单"
    assert body["decided_at"] is not None
    # The ledger transaction has the adjustment's id: it cannot be posted twice.
    assert body["transaction_id"] == pending["id"]
    assert (retried.status_code, retried.json()) == (200, body)
    assert_problem(again, 409, "adjustment_already_decided")
    assert await ledger.available(world.volunteer_a) == 2000
    assert await ledger.count(LedgerTransaction) == 1
    tx = await client.get(
        f"/v1/ledger/transactions/{body['transaction_id']}", headers=world.auth["center_admin"]
    )
    assert tx.json()["metadata"] == {
        "reason": "补发：活动漏记",
        "adjusted_by": str(world.center_admin.id),
        "approved_by": str(world.second_admin.id),
        "adjustment_id": pending["id"],
    }
    assert tx.json()["actor"] == f"staff:{world.second_admin.id}"
    assert (await ledger.verify()).ok


async def test_the_requester_cannot_approve_their_own_adjustment(
    client: httpx.AsyncClient, ledger: Ledger, world: Any, accounts: Any
) -> None:
    pending = (await post(client, world.auth["center_admin"], credit(accounts, 900))).json()

    own = await client.post(
        f"{URL}/{pending['id']}/approve", headers={**world.auth["center_admin"], **key()}
    )

    assert_problem(own, 403, "own_adjustment_approval")
    still = await client.get(f"{URL}/{pending['id']}", headers=world.auth["center_admin"])
    assert still.json()["status"] == "pending"
    assert await ledger.count(LedgerTransaction) == 0


async def test_a_refusal_needs_a_reason_is_kept_and_posts_nothing(
    client: httpx.AsyncClient,
    ledger: Ledger,
    world: Any,
    accounts: Any,
    second_admin: dict[str, str],
) -> None:
    pending = (await post(client, world.auth["center_admin"], credit(accounts, 900))).json()
    refuse_url = f"{URL}/{pending['id']}/refuse"

    reasonless = await client.post(refuse_url, json={}, headers={**second_admin, **key()})
    blank = await client.post(refuse_url, json={"reason": "  "}, headers={**second_admin, **key()})
    refused = await client.post(
        refuse_url, json={"reason": "无凭证"}, headers={**second_admin, **key()}
    )
    approved_after = await client.post(
        f"{URL}/{pending['id']}/approve", headers={**second_admin, **key()}
    )

    assert_problem(reasonless, 422, "validation_failed")
    assert_problem(blank, 422, "validation_failed")
    assert refused.status_code == 200, refused.text
    body = refused.json()
    assert (body["status"], body["decision_reason"]) == ("refused", "无凭证")
    assert body["decided_by_id"] == str(world.second_admin.id)
    assert body["transaction_id"] is None
    assert_problem(approved_after, 409, "adjustment_already_decided")
    assert await ledger.count(LedgerTransaction) == 0


async def test_an_approval_that_the_wallet_cannot_cover_is_refused_and_stays_pending(
    client: httpx.AsyncClient,
    ledger: Ledger,
    world: Any,
    accounts: Any,
    second_admin: dict[str, str],
) -> None:
    await ledger.issue(world.volunteer_a, 600)
    take_back = {
        "debit_account_id": str(accounts["wallet_a"]),
        "credit_account_id": str(accounts["issuance"]),
        "amount": 600,
        "reason": "误发收回",
    }
    pending = (await post(client, world.auth["center_admin"], take_back)).json()
    assert pending["status"] == "pending"
    await ledger.spend(world.volunteer_a, 100, await ledger.merchant(world.region.id))

    approval = await client.post(
        f"{URL}/{pending['id']}/approve", headers={**second_admin, **key()}
    )

    assert_problem(approval, 409, "insufficient_balance")
    still = await client.get(f"{URL}/{pending['id']}", headers=world.auth["center_admin"])
    assert still.json()["status"] == "pending"


async def test_only_the_regions_center_admins_see_and_decide_adjustments(
    client: httpx.AsyncClient, world: Any, accounts: Any
) -> None:
    pending = (await post(client, world.auth["center_admin"], credit(accounts, 900))).json()

    for who, status, code in (
        ("institute_admin_x", 403, "center_admin_required"),
        ("other_admin", 404, "adjustment_not_found"),
    ):
        seen = await client.get(f"{URL}/{pending['id']}", headers=world.auth[who])
        approved = await client.post(
            f"{URL}/{pending['id']}/approve", headers={**world.auth[who], **key()}
        )
        refused = await client.post(
            f"{URL}/{pending['id']}/refuse",
            json={"reason": "x"},
            headers={**world.auth[who], **key()},
        )
        for response in (seen, approved, refused):
            assert_problem(response, status, code)
    elsewhere = await client.get(f"{URL}?status=pending", headers=world.auth["other_admin"])
    assert elsewhere.json()["items"] == []
    unknown = await client.get(f"{URL}/{uuid.uuid4()}", headers=world.auth["center_admin"])
    assert_problem(unknown, 404, "adjustment_not_found")


async def test_the_list_pages_newest_first_and_filters_by_status(
    client: httpx.AsyncClient, world: Any, accounts: Any
) -> None:
    made = [
        (await post(client, world.auth["center_admin"], credit(accounts, amount))).json()
        for amount in (900, 10, 700)
    ]
    posted = await client.get(f"{URL}?status=posted", headers=world.auth["center_admin"])
    first = await client.get(f"{URL}?limit=2", headers=world.auth["center_admin"])
    rest = await client.get(
        f"{URL}?limit=2&cursor={first.json()['next_cursor']}", headers=world.auth["center_admin"]
    )
    bad = await client.get(f"{URL}?status=gone", headers=world.auth["center_admin"])

    assert [a["amount"] for a in posted.json()["items"]] == [10]
    assert [a["amount"] for a in first.json()["items"]] == [700, 10]
    assert [a["amount"] for a in rest.json()["items"]] == [900]
    assert rest.json()["next_cursor"] is None
    assert made[0]["status"] == made[2]["status"] == "pending"
    assert_problem(bad, 422, "validation_failed")


# Splitting: the threshold is per (admin, account, region-local day)


async def test_pieces_of_a_split_credit_wait_once_the_days_total_passes_the_threshold(
    client: httpx.AsyncClient,
    session: AsyncSession,
    app: Any,
    ledger: Ledger,
    world: Any,
    accounts: Any,
    second_admin: dict[str, str],
) -> None:
    admin = world.auth["center_admin"]
    pieces = [await post(client, admin, credit(accounts, 200)) for _ in range(3)]
    other_wallet = await post(client, admin, credit(accounts, 200, to="wallet_b"))
    other_admin = await post(client, second_admin, credit(accounts, 200))

    assert [p.status_code for p in pieces] == [201, 201, 202]
    assert pieces[2].json()["approval_cause"] == "daily_total"
    # Another volunteer's wallet, or another admin, is another tally.
    assert other_wallet.status_code == 201
    assert other_admin.status_code == 201
    assert await ledger.available(world.volunteer_a) == 600
    # An approved piece was two people's doing: it does not count towards the tally.
    approved = await client.post(
        f"{URL}/{pieces[2].json()['id']}/approve", headers={**second_admin, **key()}
    )
    assert approved.status_code == 200
    small = await post(client, admin, credit(accounts, 100))
    over = await post(client, admin, credit(accounts, 101))
    assert (small.status_code, over.status_code) == (201, 202)


async def test_taking_back_counts_towards_the_same_tally(
    client: httpx.AsyncClient, ledger: Ledger, world: Any, accounts: Any
) -> None:
    await ledger.issue(world.volunteer_a, 1000)
    take_back = {
        "debit_account_id": str(accounts["wallet_a"]),
        "credit_account_id": str(accounts["issuance"]),
        "amount": 300,
        "reason": "误发收回",
    }
    admin = world.auth["center_admin"]

    first = await post(client, admin, take_back)
    second = await post(client, admin, credit(accounts, 300))

    assert (first.status_code, second.status_code) == (201, 202)


async def test_concurrent_pieces_of_a_split_credit_are_counted_one_at_a_time(
    client: httpx.AsyncClient, ledger: Ledger, world: Any, accounts: Any
) -> None:
    admin = world.auth["center_admin"]

    responses = await asyncio.gather(
        *(post(client, admin, credit(accounts, 100)) for _ in range(10))
    )

    statuses = sorted(r.status_code for r in responses)
    assert statuses == [201] * 5 + [202] * 5, [r.text for r in responses]
    assert await ledger.available(world.volunteer_a) == 500


async def test_the_threshold_is_the_regions_policy(
    client: httpx.AsyncClient, world: Any, accounts: Any
) -> None:
    await set_policy(client, world, adjustment_threshold=50)
    admin = world.auth["center_admin"]

    assert (await post(client, admin, credit(accounts, 50))).status_code == 201
    waiting = await post(client, admin, credit(accounts, 60, to="wallet_b"))
    assert (waiting.status_code, waiting.json()["threshold"]) == (202, 50)

    await set_policy(client, world, adjustment_threshold=0)
    assert (await post(client, admin, credit(accounts, 1, to="wallet_b"))).status_code == 202


# The yearly budget


async def test_adjustments_and_reward_issuance_share_the_yearly_budget(
    client: httpx.AsyncClient, app: Any, ledger: Ledger, world: Any, accounts: Any
) -> None:
    await set_policy(client, world, yearly_budget=400)
    admin = world.auth["center_admin"]

    posted = await post(client, admin, credit(accounts, 300))
    over = await post(client, admin, credit(accounts, 150, to="wallet_b"))
    assert posted.status_code == 201
    body = assert_problem(over, 409, "budget_exhausted")
    assert (body["budget"], body["issued"]) == (400, 300)

    # Taking 良票 back into the issuance account gives the budget room again.
    take_back = {
        "debit_account_id": str(accounts["wallet_a"]),
        "credit_account_id": str(accounts["issuance"]),
        "amount": 100,
        "reason": "误发收回",
    }
    assert (await post(client, admin, take_back)).status_code == 201
    assert (await post(client, admin, credit(accounts, 150, to="wallet_b"))).status_code == 201

    # 350 of 400 are out: twenty approved hours (200 良票) get the 50 left.
    record = await approve_hours(
        app, region_id=world.region.id, volunteer_id=world.volunteer_b.id, minutes=20 * 60
    )
    await deliver(app)
    issuance = await issuance_of(app, record)
    assert issuance is not None
    assert (issuance.entitled, issuance.granted) == (200, 50)
    assert "budget_exhausted" in issuance.reasons
    assert (await ledger.verify()).ok


async def test_an_approval_past_the_budget_is_refused_and_stays_pending(
    client: httpx.AsyncClient,
    ledger: Ledger,
    world: Any,
    accounts: Any,
    second_admin: dict[str, str],
) -> None:
    await set_policy(client, world, yearly_budget=1000)
    admin = world.auth["center_admin"]
    pending = (await post(client, admin, credit(accounts, 800))).json()
    assert (await post(client, admin, credit(accounts, 400, to="wallet_b"))).status_code == 201

    approval = await client.post(
        f"{URL}/{pending['id']}/approve", headers={**second_admin, **key()}
    )
    too_big = await post(client, admin, credit(accounts, 700))

    assert_problem(approval, 409, "budget_exhausted")
    # One that could not be approved today either is refused when asked.
    assert_problem(too_big, 409, "budget_exhausted")
    still = await client.get(f"{URL}/{pending['id']}", headers=admin)
    assert still.json()["status"] == "pending"
    assert await ledger.available(world.volunteer_a) == 0


# Reversals cannot undo what the threshold and the budget weighed


async def test_an_adjustment_or_a_take_back_into_the_issuance_account_is_not_reversed(
    client: httpx.AsyncClient, ledger: Ledger, world: Any, accounts: Any
) -> None:
    await set_policy(client, world, yearly_budget=1000)
    admin = world.auth["center_admin"]
    await ledger.issue(world.volunteer_a, 400)
    take_back = {
        "debit_account_id": str(accounts["wallet_a"]),
        "credit_account_id": str(accounts["issuance"]),
        "amount": 300,
        "reason": "误发收回",
    }
    adjusted = (await post(client, admin, take_back)).json()
    issuance = await ledger.system(world.region.id, AccountKind.issuance)
    # A claw-back of hours' 良票 goes the same way, outside the adjustments.
    clawed = await ledger.spend(
        world.volunteer_a, 50, issuance, kind=TxKind.adjust, reference_type="hours_record"
    )

    for tx_id in (adjusted["id"], clawed.id):
        response = await client.post(
            f"/v1/ledger/transactions/{tx_id}/reversals",
            json={"reason": "撤销"},
            headers={**admin, **key()},
        )
        assert_problem(response, 422, "not_reversible")
    assert await ledger.available(world.volunteer_a) == 50
    assert await ledger.count(LedgerTransaction) == 3


# Two admins at once (PostgreSQL: real parallel connections)


@pytest.mark.postgres_only
async def test_two_admins_posting_at_once_never_pass_the_budget_together(
    client: httpx.AsyncClient,
    ledger: Ledger,
    world: Any,
    accounts: Any,
    second_admin: dict[str, str],
) -> None:
    await set_policy(client, world, yearly_budget=300)
    bodies = [
        (admin, credit(accounts, 100, to=wallet))
        for admin in (world.auth["center_admin"], second_admin)
        for wallet in ("wallet_a", "wallet_b")
        for _ in range(3)
    ]

    responses = await asyncio.gather(*(post(client, who, body) for who, body in bodies))

    statuses = sorted(r.status_code for r in responses)
    assert statuses == [201] * 3 + [409] * 9, [r.text for r in responses]
    assert {r.json()["code"] for r in responses if r.status_code == 409} == {"budget_exhausted"}
    total = await ledger.available(world.volunteer_a) + await ledger.available(world.volunteer_b)
    assert total == 300
    assert (await ledger.verify()).ok


@pytest.mark.postgres_only
async def test_approvals_and_refusals_at_once_decide_an_adjustment_once(
    client: httpx.AsyncClient,
    session: AsyncSession,
    app: Any,
    ledger: Ledger,
    world: Any,
    accounts: Any,
    second_admin: dict[str, str],
) -> None:
    pending = (await post(client, world.auth["center_admin"], credit(accounts, 700))).json()
    approvers = [second_admin]
    for _ in range(3):
        user = await make_staff(session, world.region, role=Role.center_admin, unit=world.center)
        approvers.append(staff_auth(app, user))
    url = f"{URL}/{pending['id']}"

    responses = await asyncio.gather(
        *(
            client.post(f"{url}/{verb}", json={"reason": "核对"}, headers={**headers, **key()})
            for headers in approvers
            for verb in ("approve", "approve", "refuse")
        )
    )

    decided = [r for r in responses if r.status_code == 200]
    assert len(decided) == 1, [r.text for r in responses]
    assert {r.json()["code"] for r in responses if r.status_code != 200} == {
        "adjustment_already_decided"
    }
    posted = 700 if decided[0].json()["status"] == "approved" else 0
    assert await ledger.available(world.volunteer_a) == posted
    assert await ledger.count(LedgerTransaction) == (1 if posted else 0)


# The rows are kept


@pytest.mark.database_owner
async def test_the_database_refuses_to_delete_or_rewrite_an_adjustment(
    client: httpx.AsyncClient,
    ledger: Ledger,
    world: Any,
    accounts: Any,
    second_admin: dict[str, str],
) -> None:
    admin = world.auth["center_admin"]
    pending = (await post(client, admin, credit(accounts, 900))).json()
    await post(client, admin, credit(accounts, 10))

    with pytest.raises(DBAPIError, match="kept as written"):
        await ledger.execute("DELETE FROM adjustments")
    with pytest.raises(DBAPIError, match="kept as written"):
        await ledger.execute("UPDATE adjustments SET amount = 1 WHERE status = 'pending'")
    with pytest.raises(DBAPIError, match="a decided adjustment does not change"):
        await ledger.execute("UPDATE adjustments SET status = 'pending' WHERE status = 'posted'")
    refused = await client.post(
        f"{URL}/{pending['id']}/refuse",
        json={"reason": "无凭证"},
        headers={**second_admin, **key()},
    )
    assert refused.status_code == 200
    with pytest.raises(DBAPIError, match="a decided adjustment does not change"):
        await ledger.execute(
            "UPDATE adjustments SET decision_reason = 'x' WHERE status = :s",
            s=AdjustmentStatus.refused.value,
        )
