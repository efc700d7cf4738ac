"""The region's reward policy: read and set by the region's center admin only."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from app.rewards.models import RewardPolicy
from tests.rewards.support import count

POLICY = {
    "rate_per_hour": 12,
    "earning_sources": ["checkin", "makeup"],
    "activity_cap": 100,
    "daily_cap": 60,
    "yearly_cap": 2000,
    "yearly_budget": 1_000_000,
    "adjustment_threshold": 800,
}


def url(region_id: uuid.UUID) -> str:
    return f"/v1/regions/{region_id}/reward-policy"


async def test_a_region_without_a_policy_has_the_defaults(client: Any, world: Any) -> None:
    r = await client.get(url(world.region.id), headers=world.auth["center_admin"])
    assert r.status_code == 200, r.text
    assert r.json() == {
        "region_id": str(world.region.id),
        "rate_per_hour": 10,
        "earning_sources": ["checkin"],
        "activity_cap": None,
        "daily_cap": None,
        "yearly_cap": None,
        "yearly_budget": None,
        "adjustment_threshold": 500,
        "is_default": True,
        "updated_at": None,
        "updated_by_id": None,
    }


async def test_the_center_admin_sets_the_policy_and_reads_it_back(
    client: Any, world: Any, app: Any
) -> None:
    r = await client.put(url(world.region.id), json=POLICY, headers=world.auth["center_admin"])
    assert r.status_code == 200, r.text
    body = r.json()
    assert {k: body[k] for k in POLICY} == POLICY
    assert body["is_default"] is False
    assert body["updated_by_id"] == str(world.center_admin.id)

    again = await client.get(url(world.region.id), headers=world.auth["center_admin"])
    assert again.json() == body
    assert await count(app, RewardPolicy) == 1


async def test_setting_the_policy_twice_replaces_it(client: Any, world: Any, app: Any) -> None:
    await client.put(url(world.region.id), json=POLICY, headers=world.auth["center_admin"])
    r = await client.put(
        url(world.region.id),
        json={"rate_per_hour": 5, "earning_sources": []},
        headers=world.auth["center_admin"],
    )
    assert r.status_code == 200, r.text
    assert r.json()["rate_per_hour"] == 5
    assert r.json()["earning_sources"] == []
    assert r.json()["daily_cap"] is None
    # Left out, the threshold is the default again: the whole policy is replaced.
    assert r.json()["adjustment_threshold"] == 500
    assert await count(app, RewardPolicy) == 1


@pytest.mark.parametrize("method", ["get", "put"])
async def test_another_regions_admin_does_not_find_the_policy(
    client: Any, world: Any, app: Any, method: str
) -> None:
    kwargs = {"json": POLICY} if method == "put" else {}
    r = await getattr(client, method)(
        url(world.region.id), headers=world.auth["other_admin"], **kwargs
    )
    assert r.status_code == 404
    assert r.json()["code"] == "region_not_found"
    assert await count(app, RewardPolicy) == 0


async def test_an_unknown_region_is_not_found(client: Any, world: Any) -> None:
    r = await client.get(url(uuid.uuid4()), headers=world.auth["center_admin"])
    assert r.status_code == 404
    assert r.json()["code"] == "region_not_found"


@pytest.mark.parametrize("who", ["institute_admin_x", "station_admin_x", "organizer_x"])
@pytest.mark.parametrize("method", ["get", "put"])
async def test_staff_below_the_center_may_not_read_or_set_it(
    client: Any, world: Any, app: Any, who: str, method: str
) -> None:
    kwargs = {"json": POLICY} if method == "put" else {}
    r = await getattr(client, method)(url(world.region.id), headers=world.auth[who], **kwargs)
    assert r.status_code == 403
    assert r.json()["code"] == "center_admin_required"
    assert await count(app, RewardPolicy) == 0


async def test_a_volunteer_may_not_set_it(client: Any, world: Any, app: Any) -> None:
    r = await client.put(url(world.region.id), json=POLICY, headers=world.auth["volunteer_a"])
    assert r.status_code == 403
    assert r.json()["code"] == "forbidden"
    anonymous = await client.put(url(world.region.id), json=POLICY)
    assert anonymous.status_code == 401
    assert await count(app, RewardPolicy) == 0


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"rate_per_hour": -1}, "body.rate_per_hour"),
        ({"rate_per_hour": 10_001}, "body.rate_per_hour"),
        ({"rate_per_hour": "ten"}, "body.rate_per_hour"),
        ({"earning_sources": ["checkin", "volunteering"]}, "body.earning_sources.1"),
        ({"earning_sources": ["checkin", "checkin"]}, "body.earning_sources"),
        ({"daily_cap": -5}, "body.daily_cap"),
        ({"yearly_budget": 10**11}, "body.yearly_budget"),
        ({"adjustment_threshold": -1}, "body.adjustment_threshold"),
        # Bounded: one admin cannot lift the two-person rule by policy.
        ({"adjustment_threshold": 10_001}, "body.adjustment_threshold"),
        ({"adjustment_threshold": None}, "body.adjustment_threshold"),
        ({"bonus": 3}, "body.bonus"),
    ],
)
async def test_a_bad_policy_is_refused_and_nothing_changes(
    client: Any, world: Any, app: Any, change: dict[str, Any], field: str
) -> None:
    r = await client.put(
        url(world.region.id), json={**POLICY, **change}, headers=world.auth["center_admin"]
    )
    assert r.status_code == 422, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    assert r.json()["code"] == "validation_failed"
    assert field in [e["field"] for e in r.json()["errors"]]
    assert await count(app, RewardPolicy) == 0


async def test_a_policy_without_its_required_fields_is_refused(
    client: Any, world: Any, app: Any
) -> None:
    r = await client.put(url(world.region.id), json={}, headers=world.auth["center_admin"])
    assert r.status_code == 422
    fields = {e["field"] for e in r.json()["errors"]}
    assert {"body.rate_per_hour", "body.earning_sources"} <= fields
    assert await count(app, RewardPolicy) == 0
