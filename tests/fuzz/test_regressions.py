"""What the fuzzer found, kept as plain requests: each failing case, minimised, with the
behaviour it must have now."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest

from app.activities.hours.models import HoursCorrection, HoursRecord
from app.activities.models import Activity, Project
from app.identity.models import StaffUser
from app.ledger.models import LedgerTransaction
from app.merchants.models import Merchant, MerchantSettlement, Offer, Terminal
from app.volunteers.models import StarThresholds
from tests.builders import World
from tests.fuzz.world import FuzzWorld
from tests.orgs.support import Reader, assert_problem

NOT_JSON = b'{"reason": '


def documented(app: Any, method: str, path: str) -> set[str]:
    return set(app.openapi()["paths"][path][method.lower()]["responses"])


def test_every_operation_with_a_json_body_documents_its_refusal_of_the_body(app: Any) -> None:
    """Found on the hours routes: a body that is not JSON answered 400 `malformed_body`
    (and a non-JSON media type 415), neither of which their spec listed."""
    missing = []
    for path, item in app.openapi()["paths"].items():
        for method, operation in item.items():
            if "requestBody" not in operation:
                continue
            # OAuth's form-encoded endpoints refuse any other body as `invalid_request`.
            json_body = "application/json" in operation["requestBody"]["content"]
            needed = {"400", "415"} if json_body else {"400"}
            if not needed <= set(operation["responses"]):
                missing.append(
                    f"{method.upper()} {path}: {sorted(needed - set(operation['responses']))}"
                )
    assert missing == []


@pytest.mark.parametrize(
    ("method", "path", "spec_path", "who"),
    [
        ("POST", "/v1/hours/{record}/corrections", "/v1/hours/{record_id}/corrections", "a"),
        ("POST", "/v1/hours/{record}/reject", "/v1/hours/{record_id}/reject", "org"),
        ("POST", "/v1/hours/bulk-decisions", "/v1/hours/bulk-decisions", "org"),
        ("PUT", "/v1/regions/{region}/star-levels", "/v1/regions/{region_id}/star-levels", "adm"),
    ],
)
async def test_a_body_that_is_not_json_is_a_documented_400_and_changes_nothing(
    app: Any,
    client: httpx.AsyncClient,
    world: World,
    method: str,
    path: str,
    spec_path: str,
    who: str,
) -> None:
    reader = Reader(app)
    headers = {
        "a": world.auth["volunteer_a"],
        "org": world.auth["organizer_x"],
        "adm": world.auth["center_admin"],
    }[who]
    url = path.format(record="0f8a6535-8731-232d-adc8-e7fa93622339", region=world.region.id)

    response = await client.request(
        method, url, content=NOT_JSON, headers={**headers, "Content-Type": "application/json"}
    )

    assert_problem(response, 400, "malformed_body")
    assert "400" in documented(app, method, spec_path)
    assert await reader.count(HoursRecord) == 0
    assert await reader.count(HoursCorrection) == 0
    assert await reader.count(StarThresholds) == 0


@pytest.mark.parametrize("period", ["0000-01", "9999-12", "1999-12"])
async def test_a_settlement_period_outside_the_calendar_is_refused_not_a_500(
    app: Any, client: httpx.AsyncClient, world: World, period: str
) -> None:
    """Found on POST /v1/merchants/settlements: period "0000-01" built `date(0, 1, 1)` and
    answered 500; "9999-12" would have built the month after it, in year 10000."""
    response = await client.post(
        "/v1/merchants/settlements",
        json={"period": period},
        headers=world.auth["center_admin"],
    )

    body = assert_problem(response, 422, "validation_failed")
    assert [e["field"] for e in body["errors"]] == ["body.period"]
    assert await Reader(app).count(MerchantSettlement) == 0


async def test_a_past_settlement_period_still_settles(
    client: httpx.AsyncClient, world: World
) -> None:
    response = await client.post(
        "/v1/merchants/settlements",
        json={"period": "2025-01"},
        headers=world.auth["center_admin"],
    )

    assert response.status_code == 200, response.text
    assert response.json()["period"] == "2025-01"


NUL = "清洁\x00家园"


def nul_cases(fw: FuzzWorld) -> list[tuple[str | None, str, str, dict[str, Any], str]]:
    """(who, method, path, body, the field holding the NUL)."""
    known = fw.known
    merchant, activity = known["merchant_id"][0], known["activity_id"][0]
    station = str(fw.world.station_x.id)
    activity_body = {
        "org_unit_id": station,
        "title": "活动",
        "category": "environment",
        "starts_at": "2030-01-01T00:00:00Z",
        "ends_at": "2030-01-01T02:00:00Z",
        "latitude": 31.16,
        "longitude": 120.64,
        "address": NUL,
        "capacity": 5,
    }
    shop = {"address": "中山路1号", "latitude": 31.16, "longitude": 120.64, "category": "food"}
    adjustment = {
        "debit_account_id": known["account_id"][0],
        "credit_account_id": known["account_id"][1],
        "amount": 1,
        "reason": "对账",
        "reference": NUL,
    }
    return [
        ("center_admin", "POST", "/v1/merchants", {**shop, "name": NUL}, "name"),
        (
            "center_admin",
            "PATCH",
            f"/v1/merchants/{merchant}",
            {"contact_name": NUL},
            "contact_name",
        ),
        (
            "center_admin",
            "POST",
            f"/v1/merchants/{merchant}/offers",
            {"title": NUL, "price": 3},
            "title",
        ),
        ("center_admin", "POST", f"/v1/merchants/{merchant}/terminals", {"name": NUL}, "name"),
        (
            "center_admin",
            "POST",
            f"/v1/merchants/{merchant}/staff",
            {
                "username": "cashier9",
                "display_name": NUL,
                "password": "0123456789a",
                "role": "cashier",
            },
            "display_name",
        ),
        (
            "organizer_x",
            "POST",
            "/v1/projects",
            {"org_unit_id": station, "title": NUL, "category": "environment"},
            "title",
        ),
        ("organizer_x", "POST", "/v1/activities", activity_body, "address"),
        ("organizer_x", "PATCH", f"/v1/activities/{activity}", {"description": NUL}, "description"),
        ("organizer_x", "POST", f"/v1/activities/{activity}/cancel", {"reason": NUL}, "reason"),
        (
            "organizer_x",
            "POST",
            f"/v1/hours/{known['record_id'][1]}/reject",
            {"reason": NUL},
            "reason",
        ),
        (
            "center_admin",
            "POST",
            "/v1/hours/makeup",
            {
                "volunteer_id": known["volunteer_id"][0],
                "activity_id": activity,
                "minutes": 5,
                "reason": NUL,
            },
            "reason",
        ),
        ("center_admin", "POST", "/v1/ledger/adjustments", adjustment, "reference"),
        (None, "POST", "/v1/auth/login", {"username": NUL, "password": "whatever"}, "username"),
        (None, "POST", "/v1/auth/wechat", {"code": "xiaoming", "region_code": NUL}, "region_code"),
    ]


async def test_text_with_a_nul_character_is_refused_as_invalid_and_stores_nothing(
    app: Any, client: httpx.AsyncClient, fuzz_world: FuzzWorld
) -> None:
    """Found on PostgreSQL, which cannot store U+0000 in text: POST /v1/merchants with a
    NUL in `address` answered 500, and so did every free-text field below (and a login
    whose username held one). Both databases now refuse it before it reaches them."""
    reader = Reader(app)
    tables = (
        Merchant,
        Offer,
        Terminal,
        StaffUser,
        Project,
        Activity,
        HoursRecord,
        LedgerTransaction,
    )
    before = [await reader.count(table) for table in tables]

    for who, method, path, body, field_name in nul_cases(fuzz_world):
        headers = {"Idempotency-Key": uuid.uuid4().hex}
        if who is not None:
            headers.update(fuzz_world.headers(who))
        response = await client.request(method, path, json=body, headers=headers)

        problem = assert_problem(response, 422, "validation_failed")
        assert [e["field"] for e in problem["errors"]] == [f"body.{field_name}"], (method, path)

    assert [await reader.count(table) for table in tables] == before
