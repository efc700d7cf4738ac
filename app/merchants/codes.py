"""Redemption codes: the 18-digit numbers a terminal scans from a volunteer's phone.

Two kinds, told apart by their prefix (no payment wallet uses either: WeChat Pay's
codes start 10-15, Alipay's 25-30):

- online `88` + 16 random digits: created by `POST /v1/me/redemption-codes`, valid
  60 s; a new one retires the last. Only its SHA-256 is stored. The terminal names
  the amount, so the volunteer may bound the code when making it (a maximum amount,
  one offer): what a code can pay is then what its owner agreed to, not what the
  counter types.
- offline `89` + 8-digit wallet number + 8-digit TOTP (RFC 6238, SHA-1, 30-s steps)
  derived by the mini-program from the wallet's secret without a network. The
  current and the previous step are accepted, and a step is accepted once: a
  wallet redeems offline at most once per step, and never with a step older than
  one it already used. A phone without a network cannot ask for a bounded code, so
  the bound is the wallet's: a maximum set when the secret is provisioned holds
  for every offline code.

A code is spent by the first use that resolves it to a volunteer, whatever that use
comes to: a refusal after it (the amount, the offer, its stock and limits, the star
level, the code's own bounds, the balance) does not give it back. A code given back
would let a terminal ask too much, read the refusal, and ask again with the same
code; spent, every further try needs the volunteer to make a new code.

So a code is taken (`take`) before the redemption's savepoint, whose rollback undoes
only the redemption's effects: a good online code is consumed and named by one
conditional UPDATE, so that of many terminals presenting one code at once exactly
one gets it; a code it does not consume (unknown, expired, used, retired, another
region's: never resolved, so not spent) is diagnosed by `resolve`. An offline code
is resolved first, then its step consumed the same way.
"""

from __future__ import annotations

import hashlib
import secrets
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

import pyotp
import segno
from sqlalchemy.ext.asyncio import AsyncSession

from app.core import clock
from app.merchants import repository, schemas
from app.merchants.errors import (
    CodeExpired,
    CodeMalformed,
    CodeOfferNotFound,
    CodeOtherRegion,
    CodeRetired,
    CodeUnknown,
    CodeUsed,
)
from app.merchants.models import CodeKind, CodeStatus, OfflineCodeKey, RedemptionCode
from app.volunteers.models import Volunteer

CODE_LENGTH = 18
ONLINE_PREFIX = "88"
OFFLINE_PREFIX = "89"
ONLINE_TTL = timedelta(seconds=60)
TOTP_STEP_SECONDS = 30
TOTP_DIGITS = 8
WALLET_NO_DIGITS = 8
# Steps accepted besides the current one: the previous (a code shown just before a boundary).
TOTP_PAST_STEPS = 1
# How far back an offline code is recognised as expired rather than unknown.
EXPIRED_LOOKBACK_STEPS = 10


def hash_code(code: str) -> str:
    return hashlib.sha256(code.encode()).hexdigest()


def new_online_code() -> str:
    return ONLINE_PREFIX + f"{secrets.randbelow(10**16):016d}"


def qr_data_uri(code: str) -> str:
    """A PNG QR code of `code` as a data URI, for the mini-program's <image>."""
    qr = segno.make(code, error="m", micro=False)
    return str(qr.png_data_uri(scale=6, border=2))


def totp_step(at: datetime) -> int:
    return int(at.timestamp()) // TOTP_STEP_SECONDS


def offline_code(secret: str, wallet_no: str, step: int) -> str:
    """The offline code of a wallet at a time step, as the mini-program derives it."""
    otp = pyotp.TOTP(secret, digits=TOTP_DIGITS, interval=TOTP_STEP_SECONDS)
    return OFFLINE_PREFIX + wallet_no + str(otp.generate_otp(step))


def kind_of(code: str) -> CodeKind:
    if len(code) != CODE_LENGTH or not code.isdigit():
        raise CodeMalformed()
    if code.startswith(ONLINE_PREFIX):
        return CodeKind.online
    if code.startswith(OFFLINE_PREFIX):
        return CodeKind.offline
    raise CodeMalformed("This is not a 良票 code (did the volunteer show a payment code?)")


async def issue_online_code(
    session: AsyncSession,
    *,
    volunteer: Volunteer,
    max_amount: int | None = None,
    offer_id: uuid.UUID | None = None,
) -> tuple[str, RedemptionCode]:
    """A new online code for the volunteer, bounded as asked; the previous one, if
    unused, is retired. An offer must be of the volunteer's region (another region's
    answers as an unknown one)."""
    if offer_id is not None and not await repository.offer_in_region(
        session, offer_id=offer_id, region_id=volunteer.region_id
    ):
        raise CodeOfferNotFound()
    await repository.lock_volunteer_codes(session, volunteer.id)
    await repository.retire_active_codes(
        session, region_id=volunteer.region_id, volunteer_id=volunteer.id
    )
    now = clock.now()
    code = new_online_code()
    row = RedemptionCode(
        region_id=volunteer.region_id,
        volunteer_id=volunteer.id,
        code_hash=hash_code(code),
        status=CodeStatus.active,
        created_at=now,
        expires_at=now + ONLINE_TTL,
        max_amount=max_amount,
        offer_id=offer_id,
    )
    session.add(row)
    await session.flush()
    return code, row


async def provision_offline_key(
    session: AsyncSession, *, volunteer: Volunteer, max_amount: int | None = None
) -> OfflineCodeKey:
    """The wallet's TOTP secret: created on first call, replaced (the old one dead) after;
    each call sets the bound of the wallet's offline codes anew."""
    await repository.lock_volunteer_codes(session, volunteer.id)
    key = await repository.offline_key_of(session, volunteer.id)
    now = clock.now()
    if key is not None:
        key.secret = pyotp.random_base32()
        key.rotated_at = now
        key.max_amount = max_amount
        await session.flush()
        return key
    while True:
        wallet_no = f"{secrets.randbelow(10**WALLET_NO_DIGITS):0{WALLET_NO_DIGITS}d}"
        if not await repository.wallet_no_taken(session, wallet_no):
            break
    key = OfflineCodeKey(
        region_id=volunteer.region_id,
        volunteer_id=volunteer.id,
        wallet_no=wallet_no,
        secret=pyotp.random_base32(),
        max_amount=max_amount,
        created_at=now,
    )
    session.add(key)
    await session.flush()
    return key


@dataclass(frozen=True)
class ResolvedCode:
    """A code found good: whose it is, what to mark to consume it, and what its owner
    allowed it to pay."""

    kind: CodeKind
    volunteer_id: uuid.UUID
    volunteer_name: str | None
    row_id: uuid.UUID  # RedemptionCode.id or OfflineCodeKey.id
    step: int | None  # the TOTP step of an offline code
    max_amount: int | None = None
    offer_id: uuid.UUID | None = None  # online codes only


async def resolve(session: AsyncSession, *, code: str, region_id: uuid.UUID) -> ResolvedCode:
    """Whose code this is, refusing unknown, expired, used, retired or foreign codes."""
    kind = kind_of(code)
    now = clock.now()
    if kind is CodeKind.online:
        # Looked up in every region, only to tell "another region's" from "unknown".
        row = await repository.online_code(session, hash_code(code))
        if row is None:
            raise CodeUnknown()
        code_id, code_region, volunteer_id, status, expires_at, name, max_amount, offer_id = row
        if code_region != region_id:
            raise CodeOtherRegion()
        if status == CodeStatus.used:
            raise CodeUsed()
        if status == CodeStatus.retired:
            raise CodeRetired()
        if expires_at <= now:
            raise CodeExpired()
        return ResolvedCode(kind, volunteer_id, name, code_id, None, max_amount, offer_id)

    wallet_no, otp = code[2 : 2 + WALLET_NO_DIGITS], code[2 + WALLET_NO_DIGITS :]
    key_row = await repository.offline_key_by_wallet_no(session, wallet_no)
    if key_row is None:
        raise CodeUnknown()
    key, name = key_row
    if key.region_id != region_id:
        raise CodeOtherRegion()
    current = totp_step(now)
    totp = pyotp.TOTP(key.secret, digits=TOTP_DIGITS, interval=TOTP_STEP_SECONDS)
    for step in range(current, current - TOTP_PAST_STEPS - 1, -1):
        if secrets.compare_digest(str(totp.generate_otp(step)), otp):
            if key.last_used_step is not None and step <= key.last_used_step:
                raise CodeUsed()
            return ResolvedCode(kind, key.volunteer_id, name, key.id, step, key.max_amount)
    # A code of a recent step before the window is expired; anything else is unknown.
    for step in range(current - TOTP_PAST_STEPS - 1, current - EXPIRED_LOOKBACK_STEPS, -1):
        if secrets.compare_digest(str(totp.generate_otp(step)), otp):
            raise CodeExpired()
    raise CodeUnknown()


async def take(session: AsyncSession, *, code: str, region_id: uuid.UUID) -> ResolvedCode:
    """Resolve and consume `code` at once: of concurrent redemptions of one code exactly
    one gets it; the others are refused as `resolve` would refuse them."""
    kind = kind_of(code)
    if kind is CodeKind.offline:
        resolved = await resolve(session, code=code, region_id=region_id)
        await _consume_offline(session, resolved)
        return resolved
    taken = await repository.take_online_code(
        session, code_hash=hash_code(code), region_id=region_id, now=clock.now()
    )
    if taken is None:
        await resolve(session, code=code, region_id=region_id)
        # Good a moment ago, gone now: a concurrent redemption took it.
        raise CodeUsed()
    code_id, volunteer_id, name, max_amount, offer_id = taken
    return ResolvedCode(kind, volunteer_id, name, code_id, None, max_amount, offer_id)


async def _consume_offline(session: AsyncSession, resolved: ResolvedCode) -> None:
    """Mark the offline code's step used; of concurrent redemptions of one code exactly
    one gets here (online codes are consumed by `take`'s own statement)."""
    assert resolved.step is not None
    if not await repository.consume_offline_step(
        session, key_id=resolved.row_id, step=resolved.step
    ):
        raise CodeUsed()


async def new_code_for(
    session: AsyncSession,
    *,
    volunteer: Volunteer,
    data: schemas.RedemptionCodeCreate | None = None,
) -> schemas.RedemptionCodeOut:
    data = data or schemas.RedemptionCodeCreate()
    code, row = await issue_online_code(
        session, volunteer=volunteer, max_amount=data.max_amount, offer_id=data.offer_id
    )
    return schemas.RedemptionCodeOut(
        code=code,
        kind=CodeKind.online,
        expires_at=row.expires_at,
        qr_png=qr_data_uri(code),
        max_amount=row.max_amount,
        offer_id=row.offer_id,
    )


async def offline_secret_for(
    session: AsyncSession,
    *,
    volunteer: Volunteer,
    data: schemas.OfflineCodeSecretCreate | None = None,
) -> schemas.OfflineCodeSecret:
    data = data or schemas.OfflineCodeSecretCreate()
    key = await provision_offline_key(session, volunteer=volunteer, max_amount=data.max_amount)
    otp = pyotp.TOTP(key.secret, digits=TOTP_DIGITS, interval=TOTP_STEP_SECONDS)
    return schemas.OfflineCodeSecret(
        secret=key.secret,
        wallet_no=key.wallet_no,
        prefix=OFFLINE_PREFIX,
        digits=TOTP_DIGITS,
        period_seconds=TOTP_STEP_SECONDS,
        format=f"{OFFLINE_PREFIX} + wallet_no ({WALLET_NO_DIGITS} digits) + TOTP "
        f"({TOTP_DIGITS} digits, SHA-1, {TOTP_STEP_SECONDS}-s steps)",
        otpauth_uri=otp.provisioning_uri(name=key.wallet_no, issuer_name="良票"),
        max_amount=key.max_amount,
    )
