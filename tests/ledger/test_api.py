"""The ledger over HTTP: the volunteer's wallet, and the ledger for center admins."""

from __future__ import annotations

import csv
import io
import uuid
from datetime import timedelta
from typing import Any

import httpx
import pytest

from app.core import clock
from app.ledger import service
from app.ledger.models import AccountKind, LedgerTransaction
from tests.ledger.support import Ledger

PROBLEM = "application/problem+json"
# Tokens are checked against the server's clock, so these tests keep it and date lots from it.
SOON = (clock.now() + timedelta(days=30)).replace(microsecond=0)
LATER = (clock.now() + timedelta(days=400)).replace(microsecond=0)


def key() -> dict[str, str]:
    return {"Idempotency-Key": uuid.uuid4().hex}


def assert_problem(response: httpx.Response, status: int, code: str) -> None:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith(PROBLEM)
    assert response.json()["code"] == code


@pytest.fixture
async def funded(ledger: Ledger, world: Any) -> dict[str, Any]:
    """Volunteer A: two lots (10 and 20), a spend of 4 at a shop."""
    first = await ledger.issue(world.volunteer_a, 10, reference_id="hours-1", expires_at=SOON)
    await ledger.issue(world.volunteer_a, 20, expires_at=LATER)
    shop = await ledger.merchant(world.region.id)
    spend = await ledger.spend(
        world.volunteer_a,
        4,
        shop,
        reference_id="redemption-1",
        metadata={"description": "一杯咖啡"},
    )
    return {
        "first": first,
        "shop": shop,
        "spend": spend,
        "wallet_id": await ledger.wallet_id(world.volunteer_a),
        "issuance": await ledger.system(world.region.id, AccountKind.issuance),
    }


# The volunteer's wallet


async def test_a_volunteer_sees_balance_lots_and_next_expiry(
    client: httpx.AsyncClient, world: Any, funded: dict[str, Any]
) -> None:
    response = await client.get("/v1/me/wallet", headers=world.auth["volunteer_a"])

    assert response.status_code == 200
    body = response.json()
    assert body["balance"] == {"posted": 26, "pending": 0, "available": 26}
    assert body["spendable"] == 26
    assert [(lot["amount"], lot["remaining"]) for lot in body["lots"]] == [(10, 6), (20, 20)]
    assert body["next_expiry"] == {
        "expires_at": SOON.isoformat().replace("+00:00", "Z"),
        "amount": 6,
    }


async def test_a_volunteer_without_any_良票_sees_an_empty_wallet(
    client: httpx.AsyncClient, world: Any
) -> None:
    response = await client.get("/v1/me/wallet", headers=world.auth["volunteer_b"])
    assert response.json() == {
        "balance": {"posted": 0, "pending": 0, "available": 0},
        "spendable": 0,
        "lots": [],
        "next_expiry": None,
    }


async def test_the_wallet_is_the_volunteers_own(client: httpx.AsyncClient, world: Any) -> None:
    assert_problem(await client.get("/v1/me/wallet"), 401, "unauthorized")
    assert_problem(
        await client.get("/v1/me/wallet", headers=world.auth["center_admin"]), 403, "forbidden"
    )


async def test_wallet_transactions_page_newest_first_with_counterpart_and_cause(
    client: httpx.AsyncClient, world: Any, funded: dict[str, Any]
) -> None:
    headers = world.auth["volunteer_a"]
    first = await client.get("/v1/me/wallet/transactions?limit=2", headers=headers)
    body = first.json()
    spend, second_issue = body["items"]
    assert spend["kind"] == "redeem"
    assert spend["amount"] == -4
    assert spend["cause"] == {"reference_type": "redemption", "reference_id": "redemption-1"}
    assert spend["description"] == "一杯咖啡"
    assert spend["counterparts"] == [
        {
            "account_id": str(funded["shop"].id),
            "kind": "merchant",
            "owner_id": str(funded["shop"].owner_id),
            "amount": 4,
        }
    ]
    assert second_issue["amount"] == 20
    assert second_issue["counterparts"][0]["kind"] == "issuance"

    rest = await client.get(
        "/v1/me/wallet/transactions",
        params={"limit": 2, "cursor": body["next_cursor"]},
        headers=headers,
    )
    (issue,) = rest.json()["items"]
    assert issue["transaction_id"] == str(funded["first"].id)
    assert issue["cause"]["reference_id"] == "hours-1"
    assert rest.json()["next_cursor"] is None

    other = await client.get("/v1/me/wallet/transactions", headers=world.auth["volunteer_b"])
    assert other.json() == {"items": [], "next_cursor": None}


async def test_a_bad_cursor_is_refused(client: httpx.AsyncClient, world: Any) -> None:
    response = await client.get(
        "/v1/me/wallet/transactions?cursor=bm90LWEtY3Vyc29y", headers=world.auth["volunteer_a"]
    )
    assert_problem(response, 400, "invalid_cursor")


# Accounts and transactions, for center admins


async def test_a_center_admin_reads_an_account_and_a_transaction(
    client: httpx.AsyncClient, world: Any, funded: dict[str, Any]
) -> None:
    headers = world.auth["center_admin"]
    account = await client.get(f"/v1/ledger/accounts/{funded['wallet_id']}", headers=headers)
    assert account.status_code == 200
    assert account.json()["kind"] == "wallet"
    assert account.json()["owner_id"] == str(world.volunteer_a.id)
    assert account.json()["balance"] == {"posted": 26, "pending": 0, "available": 26}

    spend = funded["spend"]
    tx = await client.get(f"/v1/ledger/transactions/{spend.id}", headers=headers)
    assert tx.status_code == 200
    body = tx.json()
    assert (body["seq"], body["kind"], body["actor"]) == (spend.seq, "redeem", "terminal:test")
    assert body["metadata"] == {"description": "一杯咖啡"}
    assert sorted((p["account_id"], p["amount"]) for p in body["postings"]) == sorted(
        [(str(funded["wallet_id"]), -4), (str(funded["shop"].id), 4)]
    )


@pytest.mark.parametrize(
    ("who", "status", "code"),
    [
        ("institute_admin_x", 403, "center_admin_required"),
        ("organizer_x", 403, "center_admin_required"),
        ("volunteer_a", 403, "forbidden"),
        ("other_admin", 404, None),
    ],
)
async def test_only_the_regions_center_admins_see_the_ledger(
    client: httpx.AsyncClient,
    world: Any,
    funded: dict[str, Any],
    who: str,
    status: int,
    code: str | None,
) -> None:
    headers = world.auth[who]
    account = await client.get(f"/v1/ledger/accounts/{funded['wallet_id']}", headers=headers)
    tx = await client.get(f"/v1/ledger/transactions/{funded['spend'].id}", headers=headers)
    statement = await client.get(
        f"/v1/ledger/accounts/{funded['wallet_id']}/statement.csv", headers=headers
    )
    assert_problem(account, status, code or "ledger_account_not_found")
    assert_problem(tx, status, code or "ledger_transaction_not_found")
    assert_problem(statement, status, code or "ledger_account_not_found")


async def test_an_unknown_account_or_transaction_is_404(
    client: httpx.AsyncClient, world: Any
) -> None:
    headers = world.auth["center_admin"]
    missing = uuid.uuid4()
    assert_problem(
        await client.get(f"/v1/ledger/accounts/{missing}", headers=headers),
        404,
        "ledger_account_not_found",
    )
    assert_problem(
        await client.get(f"/v1/ledger/transactions/{missing}", headers=headers),
        404,
        "ledger_transaction_not_found",
    )
    assert_problem(
        await client.get("/v1/ledger/transactions/not-a-uuid", headers=headers),
        422,
        "validation_failed",
    )


async def test_a_statement_lists_postings_with_a_running_balance(
    client: httpx.AsyncClient, world: Any, funded: dict[str, Any]
) -> None:
    url = f"/v1/ledger/accounts/{funded['wallet_id']}/statement.csv"
    response = await client.get(url, headers=world.auth["center_admin"])

    assert response.status_code == 200
    assert response.headers["content-type"] == "text/csv; charset=utf-8"
    assert "attachment" in response.headers["content-disposition"]
    rows = list(csv.DictReader(io.StringIO(response.text)))
    assert [(r["kind"], r["amount"], r["balance"]) for r in rows] == [
        ("opening_balance", "0", "0"),
        ("issue", "10", "10"),
        ("issue", "20", "30"),
        ("redeem", "-4", "26"),
    ]
    assert rows[3]["reference_id"] == "redemption-1"

    since = funded["spend"].created_at.isoformat()
    later = await client.get(url, params={"since": since}, headers=world.auth["center_admin"])
    rows = list(csv.DictReader(io.StringIO(later.text)))
    assert [(r["kind"], r["amount"], r["balance"]) for r in rows] == [
        ("opening_balance", "0", "30"),
        ("redeem", "-4", "26"),
    ]
    empty = await client.get(
        url, params={"since": "2030-01-01T00:00:00Z"}, headers=world.auth["center_admin"]
    )
    assert list(csv.DictReader(io.StringIO(empty.text))) == [
        {
            "seq": "",
            "transaction_id": "",
            "created_at": "2030-01-01T00:00:00+00:00",
            "kind": "opening_balance",
            "reference_type": "",
            "reference_id": "",
            "actor": "",
            "amount": "0",
            "balance": "26",
        }
    ]


async def test_a_statement_too_long_for_one_export_is_refused(
    client: httpx.AsyncClient,
    world: Any,
    funded: dict[str, Any],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(service.staff, "STATEMENT_MAX_ROWS", 2)
    response = await client.get(
        f"/v1/ledger/accounts/{funded['wallet_id']}/statement.csv",
        headers=world.auth["center_admin"],
    )
    assert_problem(response, 422, "statement_too_large")


# Adjustments


async def test_an_adjustment_credits_a_wallet_with_a_new_lot_and_an_audit_trail(
    client: httpx.AsyncClient, ledger: Ledger, world: Any, funded: dict[str, Any]
) -> None:
    body = {
        "debit_account_id": str(funded["issuance"].id),
        "credit_account_id": str(funded["wallet_id"]),
        "amount": 7,
        "reason": "补发：3月活动漏记",
        "reference": "ticket-42",
    }
    response = await client.post(
        "/v1/ledger/adjustments", json=body, headers={**world.auth["center_admin"], **key()}
    )

    assert response.status_code == 201, response.text
    tx = response.json()
    assert tx["kind"] == "adjust"
    assert tx["actor"] == f"staff:{world.center_admin.id}"
    assert tx["metadata"] == {
        "reason": "补发：3月活动漏记",
        "adjusted_by": str(world.center_admin.id),
    }
    assert (tx["reference_type"], tx["reference_id"]) == ("adjustment", "ticket-42")
    assert (await ledger.available(world.volunteer_a)) == 33
    assert len(await ledger.lots(world.volunteer_a)) == 3
    assert (await ledger.verify()).ok


async def test_an_adjustment_debiting_a_wallet_draws_its_lots(
    client: httpx.AsyncClient, ledger: Ledger, world: Any, funded: dict[str, Any]
) -> None:
    body = {
        "debit_account_id": str(funded["wallet_id"]),
        "credit_account_id": str(funded["issuance"].id),
        "amount": 8,
        "reason": "误发收回",
    }
    headers = {**world.auth["center_admin"], **key()}
    response = await client.post("/v1/ledger/adjustments", json=body, headers=headers)
    too_much = await client.post(
        "/v1/ledger/adjustments",
        json={**body, "amount": 19},
        headers={**world.auth["center_admin"], **key()},
    )

    assert response.status_code == 201
    assert [lot.remaining for lot in await ledger.lots(world.volunteer_a)] == [0, 18]
    assert_problem(too_much, 409, "insufficient_balance")
    assert too_much.json()["available"] == 18
    assert (await ledger.verify()).ok


async def test_an_adjustment_is_applied_once_per_idempotency_key(
    client: httpx.AsyncClient, ledger: Ledger, world: Any, funded: dict[str, Any]
) -> None:
    body = {
        "debit_account_id": str(funded["issuance"].id),
        "credit_account_id": str(funded["wallet_id"]),
        "amount": 5,
        "reason": "补发",
    }
    headers = {**world.auth["center_admin"], **key()}
    first = await client.post("/v1/ledger/adjustments", json=body, headers=headers)
    again = await client.post("/v1/ledger/adjustments", json=body, headers=headers)
    other = await client.post("/v1/ledger/adjustments", json={**body, "amount": 6}, headers=headers)

    assert first.status_code == again.status_code == 201
    assert again.json() == first.json()
    assert again.headers["idempotent-replayed"] == "true"
    assert_problem(other, 422, "idempotency_key_reused")
    assert (await ledger.available(world.volunteer_a)) == 31
    assert await ledger.count(LedgerTransaction) == 4


async def test_an_adjustment_without_an_idempotency_key_is_refused(
    client: httpx.AsyncClient, ledger: Ledger, world: Any, funded: dict[str, Any]
) -> None:
    body = {
        "debit_account_id": str(funded["issuance"].id),
        "credit_account_id": str(funded["wallet_id"]),
        "amount": 5,
        "reason": "补发",
    }
    response = await client.post(
        "/v1/ledger/adjustments", json=body, headers=world.auth["center_admin"]
    )
    assert_problem(response, 400, "idempotency_key_missing")
    assert await ledger.count(LedgerTransaction) == 3


@pytest.mark.parametrize(
    ("change", "status", "code"),
    [
        ({"amount": 0}, 422, "validation_failed"),
        ({"amount": 1.5}, 422, "validation_failed"),
        ({"reason": ""}, 422, "validation_failed"),
        ({"reason": None}, 422, "validation_failed"),
        ({"note": "extra"}, 422, "validation_failed"),
        ({"debit_account_id": "not-a-uuid"}, 422, "validation_failed"),
        ({"credit_account_id": "DEBIT"}, 422, "invalid_postings"),
        ({"credit_account_id": "OTHER_WALLET"}, 422, "account_kind_not_allowed"),
        ({"credit_account_id": "ELSEWHERE"}, 404, "ledger_account_not_found"),
        ({"credit_account_id": "MISSING"}, 404, "ledger_account_not_found"),
    ],
)
async def test_a_bad_adjustment_is_refused_and_changes_nothing(
    client: httpx.AsyncClient,
    ledger: Ledger,
    world: Any,
    funded: dict[str, Any],
    change: dict[str, Any],
    status: int,
    code: str,
) -> None:
    names = {
        "DEBIT": str(funded["wallet_id"]),
        "OTHER_WALLET": str(await ledger.wallet_id(world.volunteer_b)),
        "ELSEWHERE": str((await ledger.merchant(world.other_region.id)).id),
        "MISSING": str(uuid.uuid4()),
    }
    body: dict[str, Any] = {
        "debit_account_id": str(funded["wallet_id"]),
        "credit_account_id": str(funded["issuance"].id),
        "amount": 3,
        "reason": "收回",
    }
    body.update({k: names.get(v, v) if isinstance(v, str) else v for k, v in change.items()})
    if body.get("reason") is None:
        del body["reason"]

    response = await client.post(
        "/v1/ledger/adjustments", json=body, headers={**world.auth["center_admin"], **key()}
    )

    assert_problem(response, status, code)
    assert await ledger.count(LedgerTransaction) == 3
    assert (await ledger.available(world.volunteer_a)) == 26


async def test_only_a_center_admin_adjusts(
    client: httpx.AsyncClient, ledger: Ledger, world: Any, funded: dict[str, Any]
) -> None:
    body = {
        "debit_account_id": str(funded["issuance"].id),
        "credit_account_id": str(funded["wallet_id"]),
        "amount": 5,
        "reason": "补发",
    }
    for who, status, code in (
        ("institute_admin_x", 403, "center_admin_required"),
        ("other_admin", 404, "ledger_account_not_found"),
        ("volunteer_a", 403, "forbidden"),
    ):
        response = await client.post(
            "/v1/ledger/adjustments", json=body, headers={**world.auth[who], **key()}
        )
        assert_problem(response, status, code)
    assert await ledger.count(LedgerTransaction) == 3


# Reversals


async def test_a_center_admin_reverses_a_spend_once(
    client: httpx.AsyncClient, ledger: Ledger, world: Any, funded: dict[str, Any]
) -> None:
    url = f"/v1/ledger/transactions/{funded['spend'].id}/reversals"
    headers = world.auth["center_admin"]
    first = await client.post(url, json={"reason": "操作失误"}, headers={**headers, **key()})
    second = await client.post(url, json={"reason": "再来"}, headers={**headers, **key()})

    assert first.status_code == 201, first.text
    assert first.json()["reverses_id"] == str(funded["spend"].id)
    assert first.json()["metadata"]["reason"] == "操作失误"
    assert_problem(second, 409, "already_reversed")
    assert (await ledger.available(world.volunteer_a)) == 30
    assert (await ledger.balance(funded["shop"])).posted == 0
    assert (await ledger.verify()).ok


async def test_a_reversal_beyond_the_remainder_or_of_a_reversal_is_refused(
    client: httpx.AsyncClient, ledger: Ledger, world: Any, funded: dict[str, Any]
) -> None:
    headers = world.auth["center_admin"]
    url = f"/v1/ledger/transactions/{funded['spend'].id}/reversals"
    too_much = await client.post(
        url, json={"amount": 5, "reason": "x"}, headers={**headers, **key()}
    )
    partial = await client.post(
        url, json={"amount": 3, "reason": "x"}, headers={**headers, **key()}
    )
    again = await client.post(
        f"/v1/ledger/transactions/{partial.json()['id']}/reversals",
        json={"reason": "x"},
        headers={**headers, **key()},
    )
    elsewhere = await client.post(
        url, json={"reason": "x"}, headers={**world.auth["other_admin"], **key()}
    )

    assert_problem(too_much, 409, "reversal_exceeds_remainder")
    assert partial.status_code == 201
    assert_problem(again, 422, "not_reversible")
    assert_problem(elsewhere, 404, "ledger_transaction_not_found")
    assert (await ledger.available(world.volunteer_a)) == 29
