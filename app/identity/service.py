"""Logging in (WeChat, staff passwords), refreshing and revoking tokens, binding a phone."""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from typing import Literal, TypeVar

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.core import clock
from app.core.config import Settings
from app.core.errors import Conflict, Forbidden, TokenInvalid
from app.core.security import KeyRing, hash_password, hash_secret, new_secret, verify_password
from app.identity import repository, revocation, throttle
from app.identity.errors import (
    RefreshFamilyExpired,
    RefreshTokenExpired,
    RefreshTokenInvalid,
    RefreshTokenReused,
    RefreshTokenRevoked,
    RegionCodeRequired,
    RegionCodeUnknown,
    UsernameTaken,
)
from app.identity.models import PlatformAdmin, RefreshToken, StaffKind, StaffUser, SubjectType
from app.identity.principals import PLATFORM_TOKEN_TYPE, Principal
from app.identity.throttle import ThrottleKey, ThrottlePolicy
from app.identity.tokens import Family, IssuedTokens, Subject, TokenIssuer, issue_tokens
from app.identity.wechat import WeChat, WeChatIdentity
from app.orgs.models import Region
from app.volunteers.models import Volunteer

log = logging.getLogger("liangpiao.identity")

# A first login races another for the same openid, or draws a taken volunteer number.
_CREATE_ATTEMPTS = 3


@dataclass(frozen=True)
class VolunteerLogin:
    volunteer_id: uuid.UUID
    is_new: bool
    tokens: IssuedTokens


StaffLoginKind = Literal["staff", "merchant_staff"]

# The access token's `typ` (and the principal's kind) of each kind of account.
_TOKEN_TYPE: dict[StaffKind, StaffLoginKind] = {
    StaffKind.staff: "staff",
    StaffKind.merchant: "merchant_staff",
}


@dataclass(frozen=True)
class StaffLoginOutcome:
    staff_id: uuid.UUID
    kind: StaffLoginKind
    tokens: IssuedTokens


def volunteer_subject(volunteer: Volunteer) -> Subject:
    return Subject(
        type=SubjectType.volunteer,
        id=volunteer.id,
        region_id=volunteer.region_id,
        typ="volunteer",
    )


async def staff_subject(session: AsyncSession, user: StaffUser) -> Subject:
    kind = StaffKind(user.kind)
    return Subject(
        type=SubjectType.staff,
        id=user.id,
        region_id=user.region_id,
        typ=_TOKEN_TYPE[kind],
        scopes=await repository.staff_roles(session, user) if kind is StaffKind.staff else [],
    )


# --- WeChat ---------------------------------------------------------------------------


async def wechat_login(
    session: AsyncSession,
    *,
    wechat: WeChat,
    issuer: TokenIssuer,
    code: str,
    region_code: str | None,
) -> VolunteerLogin:
    """Log a volunteer in with a `wx.login()` code, creating them on their first login."""
    # WeChat first: no transaction is held open while it answers.
    identity = await wechat.identify(code)
    volunteer, is_new = await _volunteer_for(session, identity, region_code=region_code)
    tokens = await issue_tokens(session, issuer=issuer, subject=volunteer_subject(volunteer))
    return VolunteerLogin(volunteer_id=volunteer.id, is_new=is_new, tokens=tokens)


async def _volunteer_for(
    session: AsyncSession, identity: WeChatIdentity, *, region_code: str | None
) -> tuple[Volunteer, bool]:
    region: Region | None = None
    for _ in range(_CREATE_ATTEMPTS):
        volunteer = await _known_volunteer(session, identity)
        if volunteer is not None:
            return volunteer, False
        region = region or await _region_for_newcomer(session, region_code)
        try:
            async with session.begin_nested():
                volunteer = await repository.create_volunteer(
                    session,
                    region_id=region.id,
                    region_code=region.code,
                    openid=identity.openid,
                    unionid=identity.unionid,
                )
        except IntegrityError:
            continue
        log.info("volunteer created", extra={"volunteer_id": str(volunteer.id)})
        return volunteer, True
    raise Conflict("Another login for this WeChat user is in progress; retry")


async def _known_volunteer(session: AsyncSession, identity: WeChatIdentity) -> Volunteer | None:
    volunteer = await repository.volunteer_by_openid(session, identity.openid)
    if volunteer is None:
        if identity.unionid is None:
            return None
        # The same person reached through another app of the same WeChat open platform.
        return await repository.volunteer_by_unionid(session, identity.unionid)
    if identity.unionid is not None and volunteer.unionid is None:
        await _link_unionid(session, volunteer, identity.unionid)
    return volunteer


async def _link_unionid(session: AsyncSession, volunteer: Volunteer, unionid: str) -> None:
    if await repository.volunteer_by_unionid(session, unionid) is not None:
        return  # held by another record; linking it here would merge two people
    try:
        async with session.begin_nested():
            volunteer.unionid = unionid
            await session.flush()
    except IntegrityError:
        await session.refresh(volunteer)


async def _region_for_newcomer(session: AsyncSession, region_code: str | None) -> Region:
    if region_code is not None:
        region = await repository.region_by_code(session, region_code)
        if region is None:
            raise RegionCodeUnknown(f"No region has the code {region_code!r}")
        return region
    regions = await repository.some_regions(session, limit=2)
    if len(regions) != 1:
        raise RegionCodeRequired()
    return regions[0]


async def bind_phone(
    session: AsyncSession, *, wechat: WeChat, principal: Principal, code: str
) -> str:
    """Store the phone number WeChat gives for a `getPhoneNumber` code on the volunteer."""
    if principal.kind != "volunteer":
        raise Forbidden("This needs a volunteer's token")
    # WeChat before the first query: the access-token cache commits in its own short
    # transaction, which must not wait behind this request's (SQLite has one writer).
    phone = await wechat.phone_number(code)
    volunteer = await session.get(Volunteer, principal.id)
    if volunteer is None or volunteer.region_id != principal.region_id:
        raise TokenInvalid("The token's volunteer no longer exists")
    volunteer.phone = phone
    await session.flush()
    return phone


# --- staff passwords ------------------------------------------------------------------

_dummy_hash: str | None = None


async def _spend_a_password_check(password: str) -> None:
    """As much work as a real check, so that timing tells no unknown username apart."""
    global _dummy_hash
    if _dummy_hash is None:
        _dummy_hash = await hash_password(new_secret())
    await verify_password(_dummy_hash, password)


async def staff_login(
    session: AsyncSession,
    *,
    sessions: async_sessionmaker[AsyncSession],
    issuer: TokenIssuer,
    settings: Settings,
    username: str,
    password: str,
    address: str,
) -> StaffLoginOutcome:
    """Check a staff password (see `_checked_password`) and open a login."""
    user = await _checked_password(
        session,
        StaffUser,
        sessions=sessions,
        settings=settings,
        key=ThrottleKey.of(username=username, address=address),
        username=username,
        password=password,
    )
    subject = await staff_subject(session, user)
    tokens = await issue_tokens(session, issuer=issuer, subject=subject)
    return StaffLoginOutcome(
        staff_id=user.id, kind=_TOKEN_TYPE[StaffKind(user.kind)], tokens=tokens
    )


@dataclass(frozen=True)
class PlatformLoginOutcome:
    admin_id: uuid.UUID
    access_token: str
    expires_in: int


async def platform_login(
    session: AsyncSession,
    *,
    sessions: async_sessionmaker[AsyncSession],
    keyring: KeyRing,
    settings: Settings,
    username: str,
    password: str,
    address: str,
) -> PlatformLoginOutcome:
    """Check a platform admin's password, throttled like staff logins, and issue an access
    token naming no region.

    No refresh token: a platform admin signs in for an errand (a new region, its first
    admin) and signs in again after the access token's 15 minutes. Each request reads the
    account, so disabling it ends its token at once.
    """
    admin = await _checked_password(
        session,
        PlatformAdmin,
        sessions=sessions,
        settings=settings,
        # Its own throttle namespace: a platform username may also be a staff one.
        key=ThrottleKey.of(username=f"platform:{username}", address=address),
        username=username,
        password=password,
    )
    token, expires_in = keyring.issue(sub=admin.id, typ=PLATFORM_TOKEN_TYPE, region_id=None)
    return PlatformLoginOutcome(admin_id=admin.id, access_token=token, expires_in=expires_in)


Account = TypeVar("Account", StaffUser, PlatformAdmin)


async def _checked_password(
    session: AsyncSession,
    model: type[Account],
    *,
    sessions: async_sessionmaker[AsyncSession],
    settings: Settings,
    key: ThrottleKey,
    username: str,
    password: str,
) -> Account:
    """The active account whose password this is, throttled per username and address.

    The attempt is counted, and the account read, in a short transaction of its own
    (`sessions`), committed before argon2 runs; only a success writes in the request's
    unit of work, after the check. An unknown username, a disabled account and a wrong
    password cost the same statements and one argon2 verification each, and answer alike.
    """
    async with sessions() as early, early.begin():
        attempt = await throttle.charge(
            early, key=key, policy=ThrottlePolicy.from_settings(settings)
        )
        account = await repository.account_by_username(early, model, username)
    if account is None:
        await _spend_a_password_check(password)
        raise attempt.refusal()
    if not await verify_password(account.password_hash, password) or not account.is_active:
        raise attempt.refusal()
    user = await session.get(model, account.id)
    if user is None or not user.is_active or user.password_hash != account.password_hash:
        # Disabled, or given a new password, while this attempt was being checked.
        raise attempt.refusal()
    await throttle.clear(session, key=key)
    return user


async def create_platform_admin(
    session: AsyncSession, *, username: str, password: str, display_name: str | None = None
) -> PlatformAdmin:
    """A platform admin, from the console (`python -m app create-platform-admin`)."""
    if await repository.account_by_username(session, PlatformAdmin, username) is not None:
        raise UsernameTaken()
    admin = PlatformAdmin(
        username=username,
        display_name=display_name or username,
        password_hash=await hash_password(password),
        is_active=True,
    )
    session.add(admin)
    await session.flush()
    return admin


# --- refresh tokens -------------------------------------------------------------------


async def refresh(
    session: AsyncSession, *, issuer: TokenIssuer, refresh_token: str
) -> IssuedTokens:
    """Rotate a refresh token: the presented one is spent, a new one joins its family."""
    token = await repository.refresh_token_for_update(session, hash_secret(refresh_token))
    if token is None:
        raise RefreshTokenInvalid()
    now = clock.now()
    if token.used_at is not None:
        # A spent token came back: one of its holders is not its owner. End every session
        # of this login, the thief's and the owner's alike.
        await revocation.end_login(
            session, family_id=token.family_id, region_id=token.region_id, at=now
        )
        log.warning("refresh token reused; family revoked", extra={"family": str(token.family_id)})
        raise RefreshTokenReused()
    if token.revoked_at is not None:
        raise RefreshTokenRevoked()
    if token.family_started_at + issuer.family_lifetime <= now:
        raise RefreshFamilyExpired()
    if token.expires_at <= now:
        raise RefreshTokenExpired()
    subject = await _subject_of(session, token)
    token.used_at = now
    family = Family(id=token.family_id, started_at=token.family_started_at)
    return await issue_tokens(session, issuer=issuer, subject=subject, family=family)


async def _subject_of(session: AsyncSession, token: RefreshToken) -> Subject:
    if token.subject_type == SubjectType.volunteer:
        volunteer = await session.get(Volunteer, token.subject_id)
        if volunteer is not None and volunteer.region_id == token.region_id:
            return volunteer_subject(volunteer)
    else:
        user = await session.get(StaffUser, token.subject_id)
        if user is not None and user.is_active and user.region_id == token.region_id:
            return await staff_subject(session, user)
    raise RefreshTokenInvalid("The token's account no longer exists or is disabled")


async def logout(session: AsyncSession, *, refresh_token: str) -> None:
    """End the refresh token's login: its whole family is revoked, and the access tokens
    issued with it are denied until they expire. An unknown token is no error (RFC 7009)."""
    token = await repository.refresh_token_for_update(session, hash_secret(refresh_token))
    if token is None:
        return
    await revocation.end_login(
        session, family_id=token.family_id, region_id=token.region_id, at=clock.now()
    )
