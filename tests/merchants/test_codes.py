"""Redemption codes: online (60 s, single use, only a hash stored) and offline (TOTP)."""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import httpx
import pyotp
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.core import clock
from app.merchants.codes import offline_code, totp_step
from app.merchants.models import CodeStatus, OfflineCodeKey, RedemptionCode
from tests.merchants.conftest import (
    Shop,
    fetch_all,
    fetch_one,
    fund,
    redemptions,
    wallet_balance,
)


async def test_a_code_is_18_digits_with_a_prefix_no_wallet_uses_and_only_its_hash_is_kept(
    client: httpx.AsyncClient, session: AsyncSession, shop: Shop
) -> None:
    response = await client.post("/v1/me/redemption-codes", headers=shop.auth("volunteer_a"))

    assert response.status_code == 201
    body = response.json()
    code = body["code"]
    assert len(code) == 18
    assert code.isdigit()
    assert code.startswith("88")
    assert body["kind"] == "online"
    assert body["qr_png"].startswith("data:image/png;base64,")
    assert base64.b64decode(body["qr_png"].split(",", 1)[1])[:8] == b"\x89PNG\r\n\x1a\n"
    row = await fetch_one(session, select(RedemptionCode))
    assert row.code_hash == hashlib.sha256(code.encode()).hexdigest()
    assert code not in str(vars(row))
    assert (row.expires_at - row.created_at) == timedelta(seconds=60)


async def test_a_new_code_retires_the_last(
    client: httpx.AsyncClient, session: AsyncSession, shop: Shop
) -> None:
    await fund(session, shop.world.volunteer_a, 50)
    old = await shop.code(client)
    new = await shop.code(client)

    refused = await shop.client.redeem(old, request_no="C-1", amount=1)
    accepted = await shop.client.redeem(new, request_no="C-2", amount=1)

    assert (refused.status_code, refused.json()["code"]) == (422, "code_retired")
    assert accepted.status_code == 201
    statuses = sorted(r.status for r in await fetch_all(session, select(RedemptionCode)))
    assert statuses == [CodeStatus.retired, CodeStatus.used]


async def test_a_code_expires_after_60_seconds(
    client: httpx.AsyncClient, session: AsyncSession, shop: Shop
) -> None:
    await fund(session, shop.world.volunteer_a, 50)
    code = await shop.code(client)

    with clock.travel(clock.now() + timedelta(seconds=61)):
        response = await shop.client.redeem(code, request_no="C-1", amount=1)

    assert (response.status_code, response.json()["code"]) == (422, "code_expired")
    assert await wallet_balance(session, shop.world.volunteer_a) == 50


async def test_a_code_is_used_once(
    client: httpx.AsyncClient, session: AsyncSession, shop: Shop
) -> None:
    await fund(session, shop.world.volunteer_a, 50)
    code = await shop.code(client)
    assert (await shop.client.redeem(code, request_no="C-1", amount=1)).status_code == 201

    again = await shop.client.redeem(code, request_no="C-2", amount=1)

    assert (again.status_code, again.json()["code"]) == (409, "code_used")
    assert await wallet_balance(session, shop.world.volunteer_a) == 49


async def test_unknown_foreign_and_malformed_codes_are_refused_and_recorded(
    client: httpx.AsyncClient, session: AsyncSession, shop: Shop
) -> None:
    await fund(session, shop.world.volunteer_a, 50)
    foreign = await shop.code(client, "other_volunteer")
    cases = [
        ("880000000000000000", 422, "code_unknown"),
        ("890000000000000000", 422, "code_unknown"),
        (foreign, 422, "code_other_region"),
        ("134567890123456789", 422, "code_malformed"),  # a WeChat Pay payment code
        ("281234567890123456", 422, "code_malformed"),  # an Alipay payment code
    ]
    for n, (code, status, problem) in enumerate(cases):
        response = await shop.client.redeem(code, request_no=f"C-{n}", amount=1)
        assert (response.status_code, response.json()["code"]) == (status, problem), code
    assert [r.refusal_code for r in await redemptions(session)] == [c[2] for c in cases]
    foreign_row = await fetch_one(
        session,
        select(RedemptionCode).where(RedemptionCode.volunteer_id == shop.world.other_volunteer.id),
    )
    assert foreign_row.status == CodeStatus.active
    assert await wallet_balance(session, shop.world.volunteer_a) == 50


# Offline codes


@pytest.fixture(autouse=True)
def _early_in_a_step() -> Iterator[None]:
    """Start 2 s into a TOTP step, so that no test straddles a step boundary."""
    now = clock.now()
    start = datetime.fromtimestamp((totp_step(now) + 1) * 30 + 2, tz=UTC)
    with clock.travel(start):
        yield


async def _provision(client: httpx.AsyncClient, shop: Shop) -> dict[str, str]:
    response = await client.post("/v1/me/offline-code-secret", headers=shop.auth("volunteer_a"))
    assert response.status_code == 201, response.text
    return dict(response.json())


async def test_the_offline_secret_lets_the_mini_program_derive_codes(
    client: httpx.AsyncClient, session: AsyncSession, shop: Shop
) -> None:
    await fund(session, shop.world.volunteer_a, 50)
    secret = await _provision(client, shop)
    assert secret["prefix"] == "89"
    assert secret["otpauth_uri"].startswith("otpauth://totp/")
    # What a phone computes without the server's code: prefix, wallet number, TOTP.
    totp = pyotp.TOTP(secret["secret"], digits=int(secret["digits"]), interval=30)
    code = "89" + secret["wallet_no"] + totp.at(clock.now())

    response = await shop.client.redeem(code, request_no="O-1", amount=7)

    assert response.status_code == 201, response.text
    assert response.json()["code_kind"] == "offline"
    assert await wallet_balance(session, shop.world.volunteer_a) == 43


async def test_an_offline_step_is_accepted_once_and_the_previous_step_still_counts(
    client: httpx.AsyncClient, session: AsyncSession, shop: Shop
) -> None:
    await fund(session, shop.world.volunteer_a, 50)
    secret = await _provision(client, shop)
    step = totp_step(clock.now())
    previous = offline_code(secret["secret"], secret["wallet_no"], step - 1)
    current = offline_code(secret["secret"], secret["wallet_no"], step)

    accepted_previous = await shop.client.redeem(previous, request_no="O-1", amount=1)
    reused = await shop.client.redeem(previous, request_no="O-2", amount=1)
    accepted_current = await shop.client.redeem(current, request_no="O-3", amount=1)
    reused_current = await shop.client.redeem(current, request_no="O-4", amount=1)

    assert accepted_previous.status_code == 201, accepted_previous.text
    assert (reused.status_code, reused.json()["code"]) == (409, "code_used")
    assert accepted_current.status_code == 201, accepted_current.text
    assert (reused_current.status_code, reused_current.json()["code"]) == (409, "code_used")
    assert await wallet_balance(session, shop.world.volunteer_a) == 48
    key = await fetch_one(session, select(OfflineCodeKey))
    assert key.last_used_step == step


async def test_an_old_offline_code_is_expired_and_a_wrong_one_unknown(
    client: httpx.AsyncClient, session: AsyncSession, shop: Shop
) -> None:
    await fund(session, shop.world.volunteer_a, 50)
    secret = await _provision(client, shop)
    step = totp_step(clock.now())
    old = offline_code(secret["secret"], secret["wallet_no"], step - 3)
    wrong = "89" + secret["wallet_no"] + ("00000000" if not old.endswith("00000000") else "1" * 8)

    expired = await shop.client.redeem(old, request_no="O-1", amount=1)
    unknown = await shop.client.redeem(wrong, request_no="O-2", amount=1)

    assert (expired.status_code, expired.json()["code"]) == (422, "code_expired")
    assert (unknown.status_code, unknown.json()["code"]) == (422, "code_unknown")
    assert await wallet_balance(session, shop.world.volunteer_a) == 50


async def test_provisioning_again_replaces_the_secret(
    client: httpx.AsyncClient, session: AsyncSession, shop: Shop
) -> None:
    await fund(session, shop.world.volunteer_a, 50)
    first = await _provision(client, shop)
    second = await _provision(client, shop)
    step = totp_step(clock.now())
    assert first["wallet_no"] == second["wallet_no"]
    assert first["secret"] != second["secret"]

    old = await shop.client.redeem(
        offline_code(first["secret"], first["wallet_no"], step), request_no="O-1", amount=1
    )
    new = await shop.client.redeem(
        offline_code(second["secret"], second["wallet_no"], step), request_no="O-2", amount=1
    )

    assert old.json()["code"] in ("code_unknown", "code_expired")
    assert new.status_code == 201, new.text
    assert len(await fetch_all(session, select(OfflineCodeKey))) == 1


async def test_code_routes_need_a_volunteer(client: httpx.AsyncClient, shop: Shop) -> None:
    for path in ("/v1/me/redemption-codes", "/v1/me/offline-code-secret"):
        anonymous = await client.post(path)
        staff = await client.post(path, headers=shop.auth("owner"))
        assert (anonymous.status_code, anonymous.json()["code"]) == (401, "unauthorized")
        assert (staff.status_code, staff.json()["code"]) == (403, "forbidden")
