"""HTTP routes of `app.identity`: logins, token refresh and logout, phone binding."""

from __future__ import annotations

from fastapi import APIRouter, Request, status

from app.core.config import Settings
from app.core.db import SessionDep
from app.core.errors import (
    Conflict,
    Forbidden,
    MalformedBody,
    TokenExpired,
    TokenInvalid,
    UnsupportedMediaType,
    error_responses,
)
from app.core.ratelimit import Limit, client_ip, limited
from app.core.routing import QueryCheckedRoute
from app.identity import service
from app.identity.errors import (
    AccountLocked,
    InvalidCredentials,
    RefreshFamilyExpired,
    RefreshTokenExpired,
    RefreshTokenInvalid,
    RefreshTokenReused,
    RefreshTokenRevoked,
    RegionCodeRequired,
    RegionCodeUnknown,
    WeChatBusy,
    WeChatCodeInvalid,
    WeChatError,
    WeChatPhoneCodeInvalid,
    WeChatRateLimited,
    WeChatUnreachable,
    WeChatUserBlocked,
)
from app.identity.principals import CurrentPrincipal
from app.identity.schemas import (
    BoundPhone,
    PhoneBinding,
    PlatformLoginResult,
    RefreshRequest,
    StaffLogin,
    StaffLoginResult,
    TokenPair,
    WeChatLogin,
    WeChatLoginResult,
    WhoAmI,
)
from app.identity.tokens import TokenIssuerDep
from app.identity.wechat import WeChatDep

router = APIRouter(route_class=QueryCheckedRoute)

_BODY_ERRORS = (MalformedBody, UnsupportedMediaType)
_TOKEN_ERRORS = (TokenInvalid, TokenExpired)
_WECHAT_ERRORS = (WeChatRateLimited, WeChatBusy, WeChatUserBlocked, WeChatError, WeChatUnreachable)


@router.post(
    "/v1/auth/wechat",
    tags=["auth"],
    summary="Log a volunteer in with a WeChat mini-program login code",
    responses=error_responses(
        *_BODY_ERRORS,
        WeChatCodeInvalid,
        *_WECHAT_ERRORS,
        RegionCodeRequired,
        RegionCodeUnknown,
        Conflict,
    ),
)
@limited(Limit("wechat-login.ip", "ip", "60/minute"))
async def wechat_login(
    body: WeChatLogin, session: SessionDep, wechat: WeChatDep, issuer: TokenIssuerDep
) -> WeChatLoginResult:
    login = await service.wechat_login(
        session, wechat=wechat, issuer=issuer, code=body.code, region_code=body.region_code
    )
    return WeChatLoginResult(
        access_token=login.tokens.access_token,
        expires_in=login.tokens.expires_in,
        refresh_token=login.tokens.refresh_token,
        volunteer_id=login.volunteer_id,
        is_new=login.is_new,
    )


@router.post(
    "/v1/auth/login",
    tags=["auth"],
    summary="Log staff or merchant staff in with a username and password",
    responses=error_responses(*_BODY_ERRORS, InvalidCredentials, AccountLocked),
)
@limited(
    Limit("login.ip", "ip", "10/minute"),
    Limit("login.ip.hour", "ip", "60/hour"),
)
async def staff_login(
    body: StaffLogin, request: Request, session: SessionDep, issuer: TokenIssuerDep
) -> StaffLoginResult:
    settings: Settings = request.app.state.settings
    login = await service.staff_login(
        session,
        sessions=request.app.state.db.sessions,
        issuer=issuer,
        settings=settings,
        username=body.username,
        password=body.password,
        address=client_ip(request.scope),
    )
    return StaffLoginResult(
        access_token=login.tokens.access_token,
        expires_in=login.tokens.expires_in,
        refresh_token=login.tokens.refresh_token,
        staff_id=login.staff_id,
        kind=login.kind,
    )


@router.post(
    "/v1/platform/auth/login",
    tags=["auth"],
    summary="Log a platform admin in: an access token for the /v1/platform routes only",
    responses=error_responses(*_BODY_ERRORS, InvalidCredentials, AccountLocked),
)
async def platform_login(
    body: StaffLogin, request: Request, session: SessionDep
) -> PlatformLoginResult:
    login = await service.platform_login(
        session,
        sessions=request.app.state.db.sessions,
        keyring=request.app.state.keyring,
        settings=request.app.state.settings,
        username=body.username,
        password=body.password,
        address=client_ip(request.scope),
    )
    return PlatformLoginResult(
        access_token=login.access_token,
        expires_in=login.expires_in,
        platform_admin_id=login.admin_id,
    )


@router.post(
    "/v1/auth/refresh",
    tags=["auth"],
    summary="Trade a refresh token for a new token pair (the old one is spent)",
    responses=error_responses(
        *_BODY_ERRORS,
        RefreshTokenInvalid,
        RefreshTokenExpired,
        RefreshFamilyExpired,
        RefreshTokenRevoked,
        RefreshTokenReused,
    ),
)
@limited(Limit("refresh.ip", "ip", "60/minute"))
async def refresh_tokens(
    body: RefreshRequest, session: SessionDep, issuer: TokenIssuerDep
) -> TokenPair:
    tokens = await service.refresh(session, issuer=issuer, refresh_token=body.refresh_token)
    return TokenPair(
        access_token=tokens.access_token,
        expires_in=tokens.expires_in,
        refresh_token=tokens.refresh_token,
    )


@router.post(
    "/v1/auth/logout",
    tags=["auth"],
    summary="End a login: revoke its refresh tokens and deny its access tokens",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=error_responses(*_BODY_ERRORS),
)
async def logout(body: RefreshRequest, session: SessionDep) -> None:
    await service.logout(session, refresh_token=body.refresh_token)


@router.get(
    "/v1/auth/whoami",
    tags=["auth"],
    summary="The principal behind the access token",
    responses=error_responses(*_TOKEN_ERRORS),
)
async def whoami(principal: CurrentPrincipal) -> WhoAmI:
    return WhoAmI(
        kind=principal.kind,
        id=principal.id,
        region_id=principal.region_id,
        scopes=list(principal.scopes),
    )


@router.post(
    "/v1/me/phone",
    tags=["me"],
    summary="Bind the phone number of a WeChat getPhoneNumber code to the volunteer",
    responses=error_responses(
        *_BODY_ERRORS, *_TOKEN_ERRORS, Forbidden, WeChatPhoneCodeInvalid, *_WECHAT_ERRORS
    ),
)
async def bind_phone(
    body: PhoneBinding, principal: CurrentPrincipal, session: SessionDep, wechat: WeChatDep
) -> BoundPhone:
    phone = await service.bind_phone(session, wechat=wechat, principal=principal, code=body.code)
    return BoundPhone(phone=phone)
