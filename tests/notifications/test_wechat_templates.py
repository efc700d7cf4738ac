"""A region's subscribe-message templates and each person's send credits, through the API."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest

from tests.builders import World
from tests.notifications.conftest import (
    FIELDS,
    PAGE,
    TEMPLATE,
    accept,
    credits_of,
    put_template,
)

TEMPLATES = "/v1/notification-templates"
CONSENTS = "/v1/me/notification-consents"


def problem(response: httpx.Response, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    body: dict[str, Any] = response.json()
    assert body["code"] == code
    return body


async def test_a_center_admin_sets_reads_and_removes_the_regions_template_for_a_kind(
    client: httpx.AsyncClient, world: World
) -> None:
    put = await put_template(client, world)
    assert put.status_code == 200, put.text
    assert put.json() | {"created_at": None, "updated_at": None} == {
        "kind": "hours.approved",
        "template_id": TEMPLATE,
        "fields": FIELDS,
        "page": PAGE,
        "created_by": str(world.center_admin.id),
        "created_at": None,
        "updated_at": None,
    }

    listed = await client.get(TEMPLATES, headers=world.auth["center_admin"])
    assert [t["template_id"] for t in listed.json()] == [TEMPLATE]
    # Another region has templates of its own, not this one.
    elsewhere = await client.get(TEMPLATES, headers=world.auth["other_admin"])
    assert elsewhere.json() == []

    gone = await client.delete(f"{TEMPLATES}/hours.approved", headers=world.auth["center_admin"])
    assert gone.status_code == 204
    assert (await client.get(TEMPLATES, headers=world.auth["center_admin"])).json() == []
    again = await client.delete(f"{TEMPLATES}/hours.approved", headers=world.auth["center_admin"])
    assert again.status_code == 204


async def test_putting_a_kinds_template_again_replaces_it(
    client: httpx.AsyncClient, world: World
) -> None:
    await put_template(client, world)
    replaced = await put_template(
        client, world, template_id="tmpl-v2", fields={"thing1": "activity_title"}, page=None
    )
    assert replaced.status_code == 200, replaced.text
    listed = (await client.get(TEMPLATES, headers=world.auth["center_admin"])).json()
    assert [(t["template_id"], t["fields"], t["page"]) for t in listed] == [
        ("tmpl-v2", {"thing1": "activity_title"}, None)
    ]


async def test_only_center_admins_manage_templates(client: httpx.AsyncClient, world: World) -> None:
    for who in ("station_admin_x", "organizer_x"):
        problem(await client.get(TEMPLATES, headers=world.auth[who]), 403, "center_admin_required")
        put = await client.put(
            f"{TEMPLATES}/hours.approved",
            json={"template_id": TEMPLATE, "fields": FIELDS},
            headers=world.auth[who],
        )
        problem(put, 403, "center_admin_required")
    assert (await client.get(TEMPLATES, headers=world.auth["volunteer_a"])).status_code == 403


@pytest.mark.parametrize(
    ("fields", "why"),
    [
        ({"title1": "activity_title"}, "not a WeChat field"),
        ({"thing": "activity_title"}, "not a WeChat field"),
        ({"thing1": "merchant_name"}, "not a data field"),
        ({"phone_number1": "activity_title"}, "phone number"),
    ],
)
async def test_a_template_field_must_be_a_wechat_type_fed_by_the_kinds_data(
    client: httpx.AsyncClient, world: World, fields: dict[str, str], why: str
) -> None:
    body = problem(
        await put_template(client, world, fields=fields), 422, "notification_template_field_invalid"
    )
    assert why in body["detail"]
    assert (await client.get(TEMPLATES, headers=world.auth["center_admin"])).json() == []


async def test_an_unknown_kind_or_an_unknown_body_field_is_refused(
    client: httpx.AsyncClient, world: World
) -> None:
    problem(await put_template(client, world, kind="hours.lost"), 422, "notification_kind_unknown")
    problem(
        await client.delete(f"{TEMPLATES}/hours.lost", headers=world.auth["center_admin"]),
        422,
        "notification_kind_unknown",
    )
    extra = await client.put(
        f"{TEMPLATES}/hours.approved",
        json={"template_id": TEMPLATE, "fields": FIELDS, "colour": "red"},
        headers=world.auth["center_admin"],
    )
    problem(extra, 422, "validation_failed")


async def test_one_template_id_serves_one_kind_of_the_region(
    client: httpx.AsyncClient, world: World
) -> None:
    await put_template(client, world)
    taken = await put_template(
        client, world, kind="hours.corrected", fields={"thing1": "activity_title"}
    )
    problem(taken, 409, "notification_template_id_taken")
    # Another region may use the same id of its own mini-program account.
    elsewhere = await client.put(
        f"{TEMPLATES}/hours.approved",
        json={"template_id": TEMPLATE, "fields": FIELDS},
        headers=world.auth["other_admin"],
    )
    assert elsewhere.status_code == 200, elsewhere.text


async def test_each_accept_adds_a_credit_and_a_reject_or_ban_takes_them_all(
    client: httpx.AsyncClient, app: Any, world: World
) -> None:
    await put_template(client, world)
    await put_template(
        client,
        world,
        kind="activity.reminder",
        template_id="tmpl-reminder",
        fields={"thing1": "activity_title", "time2": "starts_at"},
    )
    a = world.auth["volunteer_a"]

    before = await client.get(CONSENTS, headers=a)
    assert before.json() == {
        "items": [
            {"kind": "activity.reminder", "template_id": "tmpl-reminder", "credits": 0},
            {"kind": "hours.approved", "template_id": TEMPLATE, "credits": 0},
        ]
    }

    await accept(client, app, world.volunteer_a, times=2)
    reported = await client.post(
        CONSENTS, json={"results": {"tmpl-reminder": "accept", TEMPLATE: "filter"}}, headers=a
    )
    assert reported.status_code == 200, reported.text
    assert [(c["template_id"], c["credits"]) for c in reported.json()["items"]] == [
        ("tmpl-reminder", 1),
        (TEMPLATE, 2),
    ]
    assert await credits_of(app, world.volunteer_b) == 0

    for refusal in ("reject", "ban"):
        await accept(client, app, world.volunteer_a)
        answer = await client.post(CONSENTS, json={"results": {TEMPLATE: refusal}}, headers=a)
        assert answer.status_code == 200
        assert await credits_of(app, world.volunteer_a) == 0


async def test_a_template_id_the_region_does_not_have_is_refused_and_nothing_counts(
    client: httpx.AsyncClient, app: Any, world: World
) -> None:
    await put_template(client, world)
    other = await client.put(
        f"{TEMPLATES}/hours.approved",
        json={"template_id": "tmpl-elsewhere", "fields": FIELDS},
        headers=world.auth["other_admin"],
    )
    assert other.status_code == 200
    refused = await client.post(
        CONSENTS,
        json={"results": {TEMPLATE: "accept", "tmpl-elsewhere": "accept"}},
        headers=world.auth["volunteer_a"],
    )
    body = problem(refused, 422, "notification_template_not_configured")
    assert "tmpl-elsewhere" in body["detail"]
    assert await credits_of(app, world.volunteer_a) == 0

    bad = await client.post(
        CONSENTS, json={"results": {TEMPLATE: "maybe"}}, headers=world.auth["volunteer_a"]
    )
    problem(bad, 422, "validation_failed")


async def test_a_report_retried_with_its_idempotency_key_counts_once(
    client: httpx.AsyncClient, app: Any, world: World
) -> None:
    await put_template(client, world)
    headers = world.auth["volunteer_a"] | {"Idempotency-Key": "report-1"}
    for _ in range(2):
        answer = await client.post(
            CONSENTS, json={"results": {TEMPLATE: "accept"}}, headers=headers
        )
        assert answer.status_code == 200, answer.text
    assert await credits_of(app, world.volunteer_a) == 1


async def test_staff_have_no_consents(client: httpx.AsyncClient, world: World) -> None:
    problem(await client.get(CONSENTS, headers=world.auth["center_admin"]), 403, "forbidden")


@pytest.mark.postgres_only
async def test_concurrent_accepts_each_add_a_credit(
    client: httpx.AsyncClient, app: Any, world: World
) -> None:
    await put_template(client, world)
    await asyncio.gather(*(accept(client, app, world.volunteer_a) for _ in range(20)))
    assert await credits_of(app, world.volunteer_a) == 20
