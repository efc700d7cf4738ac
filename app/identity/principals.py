"""Who is calling: the principal behind a bearer token, as `Annotated` dependencies.

Routes name the principal they need: `CurrentVolunteer`, `CurrentStaff`,
`CurrentPrincipal` (anyone signed in to a region), `CurrentPlatformAdmin` (the operators
who create regions, bound to none: their token is good for `/v1/platform` only). A
third-party client (`typ` "client", from `/v1/oauth/token`) is a principal only on
routes that declare a scope it holds (`app.identity.scopes.client_scope`); elsewhere it
is refused 403 `insufficient_scope`. Staff permissions are grants of a role on an org
unit that reach the unit's subtree; `StaffContext.can()` answers for one unit, and
`orgs.authz` turns that into 403/404 refusals. A token whose login has ended (a logout,
a disabled account) is refused by its `jti`.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Annotated, Literal

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy import select

from app.clients.models import ClientStatus, OAuthClient
from app.core.db import SessionDep
from app.core.errors import Forbidden, InsufficientScope, TokenInvalid, Unauthorized
from app.core.security import KeyRing, TokenClaims
from app.identity import revocation
from app.identity.models import PlatformAdmin, StaffKind, StaffUser
from app.identity.scopes import scopes_of_request
from app.orgs.models import ADMIN_ROLES, OrgUnit, Role, StaffGrant
from app.volunteers.models import Volunteer

PrincipalKind = Literal["volunteer", "staff", "merchant_staff", "client"]
# The access token's `typ` of a platform admin; it names no region.
PLATFORM_TOKEN_TYPE = "platform_admin"  # noqa: S105 - a token type, not a secret
_REGION_TOKEN_TYPES = ("volunteer", "staff", "merchant_staff")

_bearer = HTTPBearer(
    auto_error=False,
    bearerFormat="JWT",
    description="An access token from /v1/auth/* (a person) or /v1/oauth/token (a client): "
    "ES256, verifiable against /.well-known/jwks.json",
)


@dataclass(frozen=True)
class Principal:
    kind: PrincipalKind
    id: uuid.UUID
    region_id: uuid.UUID | None
    scopes: tuple[str, ...] = ()

    @property
    def scope_key(self) -> str:
        """Names the caller in idempotency keys and rate limits."""
        return f"{self.kind}:{self.id}"


@dataclass(frozen=True)
class GrantOn:
    role: Role
    unit_id: uuid.UUID
    unit_path: str


@dataclass
class StaffContext:
    user: StaffUser
    grants: list[GrantOn] = field(default_factory=list)

    @property
    def id(self) -> uuid.UUID:
        return self.user.id

    @property
    def region_id(self) -> uuid.UUID:
        return self.user.region_id

    @property
    def scope_key(self) -> str:
        return f"staff:{self.user.id}"

    def roles_on(self, unit: OrgUnit) -> set[Role]:
        """Roles that reach `unit`: granted on it or on one of its ancestors."""
        if unit.region_id != self.user.region_id:
            return set()
        return {g.role for g in self.grants if unit.path.startswith(g.unit_path)}

    def can(self, unit: OrgUnit, roles: frozenset[Role] | set[Role]) -> bool:
        return bool(self.roles_on(unit) & roles)

    @property
    def is_center_admin(self) -> bool:
        """A center admin of the region: region-wide settings, the ledger."""
        return any(g.role == Role.center_admin for g in self.grants)

    def is_admin_of(self, unit: OrgUnit) -> bool:
        return self.can(unit, ADMIN_ROLES)

    @property
    def unit_paths(self) -> list[str]:
        return [g.unit_path for g in self.grants]


async def keyring(request: Request) -> KeyRing:  # async: no thread hop per request
    ring: KeyRing = request.app.state.keyring
    return ring


KeyRingDep = Annotated[KeyRing, Depends(keyring)]


async def token_claims(
    ring: KeyRingDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> TokenClaims:
    if credentials is None or credentials.scheme.lower() != "bearer":
        raise Unauthorized("Send `Authorization: Bearer <access token>`")
    return ring.verify(credentials.credentials)


ClaimsDep = Annotated[TokenClaims, Depends(token_claims)]


def _uuid(value: str | None) -> uuid.UUID:
    try:
        return uuid.UUID(str(value))
    except ValueError as exc:
        raise TokenInvalid() from exc


def _denied_tokens(request: Request) -> revocation.DeniedTokens:
    state = request.app.state
    seen: revocation.DeniedTokens | None = getattr(state, "denied_tokens", None)
    if seen is None:
        seen = state.denied_tokens = revocation.DeniedTokens()
    return seen


async def current_principal(claims: ClaimsDep, request: Request, session: SessionDep) -> Principal:
    if claims.typ == PLATFORM_TOKEN_TYPE:
        # No region's route serves the platform: it reads no region's data.
        raise TokenInvalid("A platform admin's token is good for /v1/platform only")
    if claims.typ not in (*_REGION_TOKEN_TYPES, "client"):
        raise TokenInvalid("The token is not an access token")
    principal = Principal(
        kind=claims.typ,  # type: ignore[arg-type]
        id=_uuid(claims.sub),
        region_id=_uuid(claims.region_id) if claims.region_id else None,
        scopes=tuple(claims.scopes),
    )
    denied = await revocation.is_denied(
        session, db=request.app.state.db, seen=_denied_tokens(request), jti=claims.jti
    )
    if denied:
        # token_invalid, as for any token no longer good: every route already lists it,
        # and the client's remedy is the same, to log in again.
        raise TokenInvalid("The token's login has ended (a logout, or the account changed)")
    if principal.kind == "client":
        await _check_client(principal, request, session)
    return principal


async def _check_client(principal: Principal, request: Request, session: SessionDep) -> None:
    """A client's token reaches the routes that declare one of its scopes (`client_scope`),
    in its own region, while the client is active; every call it makes is logged with
    its id (the access log line, `client_id`), never with its body."""
    request.scope.setdefault("state", {})["client_id"] = str(principal.id)
    client = await session.get(OAuthClient, principal.id)
    if (
        client is None
        or client.status != ClientStatus.active
        or client.region_id != principal.region_id
    ):
        raise TokenInvalid("The token's client is no longer active")
    needed = scopes_of_request(request)
    if not needed:
        raise InsufficientScope("This route is not open to OAuth clients")
    missing = tuple(s for s in needed if s not in principal.scopes)
    if missing:
        raise InsufficientScope(f"The token lacks {' '.join(missing)}", scopes=needed)


CurrentPrincipal = Annotated[Principal, Depends(current_principal)]


async def current_volunteer(principal: CurrentPrincipal, session: SessionDep) -> Volunteer:
    if principal.kind != "volunteer":
        raise Forbidden("This needs a volunteer's token")
    volunteer = await session.get(Volunteer, principal.id)
    if volunteer is None or volunteer.region_id != principal.region_id:
        raise TokenInvalid("The token's volunteer no longer exists")
    return volunteer


CurrentVolunteer = Annotated[Volunteer, Depends(current_volunteer)]


@dataclass(frozen=True)
class VolunteerRef:
    """The volunteer a verified token names, before any read: for routes whose own
    first query confirms the volunteer exists (check-in and check-out), which saves
    the round trip and the row that `CurrentVolunteer` costs."""

    id: uuid.UUID
    region_id: uuid.UUID

    @property
    def scope_key(self) -> str:
        return f"volunteer:{self.id}"


async def volunteer_ref(principal: CurrentPrincipal) -> VolunteerRef:
    if principal.kind != "volunteer":
        raise Forbidden("This needs a volunteer's token")
    if principal.region_id is None:
        raise TokenInvalid("The token names no region")
    return VolunteerRef(id=principal.id, region_id=principal.region_id)


CurrentVolunteerRef = Annotated[VolunteerRef, Depends(volunteer_ref)]


async def load_staff(session: SessionDep, user: StaffUser) -> StaffContext:
    rows = await session.execute(
        select(StaffGrant.role, StaffGrant.org_unit_id, OrgUnit.path)
        .join(OrgUnit, OrgUnit.id == StaffGrant.org_unit_id)
        .where(
            StaffGrant.staff_id == user.id,
            StaffGrant.region_id == user.region_id,
            StaffGrant.revoked_at.is_(None),
        )
    )
    grants = [GrantOn(role=Role(r), unit_id=u, unit_path=p) for r, u, p in rows.all()]
    return StaffContext(user=user, grants=grants)


async def _active_staff_user(
    principal: Principal, session: SessionDep, kind: StaffKind
) -> StaffUser:
    user = await session.get(StaffUser, principal.id)
    if user is None or not user.is_active or user.region_id != principal.region_id:
        raise TokenInvalid("The token's account is no longer active")
    if user.kind != kind:
        raise Forbidden("This account may not do this")
    return user


async def current_staff(principal: CurrentPrincipal, session: SessionDep) -> StaffContext:
    if principal.kind != "staff":
        raise Forbidden("This needs a staff token")
    # The account and its grants in one round trip: every staff request pays for it.
    rows = (
        await session.execute(
            select(StaffUser, StaffGrant.role, StaffGrant.org_unit_id, OrgUnit.path)
            .outerjoin(
                StaffGrant,
                (StaffGrant.staff_id == StaffUser.id)
                & (StaffGrant.region_id == StaffUser.region_id)
                # A revoked grant is history: it gives no role.
                & StaffGrant.revoked_at.is_(None),
            )
            .outerjoin(OrgUnit, OrgUnit.id == StaffGrant.org_unit_id)
            .where(StaffUser.id == principal.id)
        )
    ).all()
    user = rows[0][0] if rows else None
    if user is None or not user.is_active or user.region_id != principal.region_id:
        raise TokenInvalid("The token's account is no longer active")
    if user.kind != StaffKind.staff:
        raise Forbidden("This account may not do this")
    grants = [
        GrantOn(role=Role(role), unit_id=unit_id, unit_path=path)
        for _, role, unit_id, path in rows
        if role is not None
    ]
    return StaffContext(user=user, grants=grants)


CurrentStaff = Annotated[StaffContext, Depends(current_staff)]


async def current_merchant_user(principal: CurrentPrincipal, session: SessionDep) -> StaffUser:
    if principal.kind != "merchant_staff":
        raise Forbidden("This needs a merchant staff token")
    return await _active_staff_user(principal, session, StaffKind.merchant)


CurrentMerchantUser = Annotated[StaffUser, Depends(current_merchant_user)]


async def current_platform_admin(claims: ClaimsDep, session: SessionDep) -> PlatformAdmin:
    """The platform admin behind the token. A region's people are known but refused (403),
    the same whatever the request names; anything else is no access token here (401)."""
    if claims.typ in (*_REGION_TOKEN_TYPES, "client"):
        raise Forbidden("This needs a platform admin's token")
    if claims.typ != PLATFORM_TOKEN_TYPE:
        raise TokenInvalid("The token is not an access token")
    admin = await session.get(PlatformAdmin, _uuid(claims.sub))
    if admin is None or not admin.is_active:
        raise TokenInvalid("The token's account is no longer active")
    return admin


CurrentPlatformAdmin = Annotated[PlatformAdmin, Depends(current_platform_admin)]


async def staff_or_client(
    principal: CurrentPrincipal, session: SessionDep
) -> StaffContext | Principal:
    """A staff member with their grants, or an OAuth client (its route names the scope)."""
    if principal.kind == "client":
        return principal
    return await current_staff(principal, session)


StaffOrClient = Annotated[StaffContext | Principal, Depends(staff_or_client)]


async def current_client(principal: CurrentPrincipal) -> Principal:
    """An OAuth client (checked and scoped by `current_principal`), for routes only
    partner platforms call."""
    if principal.kind != "client" or principal.region_id is None:
        raise Forbidden("This needs an OAuth client's token")
    return principal


CurrentClient = Annotated[Principal, Depends(current_client)]
