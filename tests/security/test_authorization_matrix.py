"""Who may call what: every route of the app against every kind of caller.

`MATRIX` is the specification, one row per operation ("METHOD /path/template"):
the principals allowed, and for each of the others the refusal it must get —
401 (no valid credentials for this route), 403 (known, but may not) or 404 (may
not know the thing exists). A route of the app without a row fails the suite.

Each cell sends a valid request (see `calls.py`) that names seeded rows owned by
volunteer A, station X or merchant M, and checks:

- allowed: the answer is no refusal (not 401/403/404, and no 5xx);
- refused: the expected status as problem+json, no row written, and the same
  answer as for ids that exist nowhere: a refusal must not tell another region's
  caller, or another person, whether the row exists. Staff of the same region are
  the exception: their region's directory is theirs to see, so a 403 for a row out
  of their reach may differ from the 404 of a row that does not exist.
"""

from __future__ import annotations

from dataclasses import dataclass

import httpx
import pytest
from fastapi import FastAPI

from app.identity.scopes import SCOPES
from tests.security.calls import CALLS, Outcome
from tests.security.runner import Matrix, route_keys

# The principals.
ANONYMOUS = "anonymous"
EXPIRED = "expired_token"  # a center admin's token, an hour past its expiry
TERMINAL = "terminal"  # merchant M's active terminal, signing its requests
REVOKED_TERMINAL = "revoked_terminal"  # merchant M's revoked terminal, signing too
VOLUNTEER_A = "volunteer_a"
VOLUNTEER_B = "volunteer_b"
OTHER_VOLUNTEER = "other_volunteer"  # of another region
ORGANIZER_X = "organizer_x"  # organizer on station X
ORGANIZER_Y = "organizer_y"  # organizer on station Y
STATION_ADMIN = "station_admin"  # station admin of station X
CENTER_ADMIN = "center_admin"
OTHER_ADMIN = "other_admin"  # center admin of another region
OWNER = "owner"  # merchant M's owner
CASHIER = "cashier"  # merchant M's cashier
OTHER_CASHIER = "other_cashier"  # merchant N's cashier (paired with station Y)
# An operator of the whole service, bound to no region: its token opens /v1/platform only,
# and is no valid token anywhere else.
PLATFORM_ADMIN = "platform_admin"

# OAuth clients' tokens (seed.CLIENT_PRINCIPALS): one of the region's clients per scope,
# one with no scope, and another region's client with every scope.
CLIENT_NONE = "client_none"
OTHER_CLIENT = "other_client"
CLIENT_WITH = {scope: f"client_{scope.split(':')[0]}" for scope in SCOPES}
CLIENTS = frozenset({CLIENT_NONE, OTHER_CLIENT, *CLIENT_WITH.values()})

NO_VALID_TOKEN = frozenset({ANONYMOUS, EXPIRED, TERMINAL, REVOKED_TERMINAL, PLATFORM_ADMIN})
VOLUNTEERS_HERE = frozenset({VOLUNTEER_A, VOLUNTEER_B})
VOLUNTEERS = VOLUNTEERS_HERE | {OTHER_VOLUNTEER}
ORGANIZERS = frozenset({ORGANIZER_X, ORGANIZER_Y})
ADMINS_X = frozenset({STATION_ADMIN, CENTER_ADMIN})  # admin roles reaching station X
REACH_X = ADMINS_X | {ORGANIZER_X}  # any role reaching station X
STAFF_HERE = ORGANIZERS | ADMINS_X
STAFF = STAFF_HERE | {OTHER_ADMIN}
NOT_CENTER_ADMINS = ORGANIZERS | {STATION_ADMIN}
MERCHANT_STAFF = frozenset({OWNER, CASHIER, OTHER_CASHIER})
ELSEWHERE = frozenset({OTHER_ADMIN, OTHER_VOLUNTEER})
BEARERS = VOLUNTEERS | STAFF | MERCHANT_STAFF
IN_REGION = VOLUNTEERS_HERE | STAFF_HERE | MERCHANT_STAFF
EVERYONE = BEARERS | NO_VALID_TOKEN | CLIENTS
# Who may see that a row of their region exists even where their roles do not reach.
REGION_STAFF = STAFF_HERE | MERCHANT_STAFF

REFUSALS = (401, 403, 404)


@dataclass(frozen=True)
class Access:
    """One row: who is allowed, and who gets which refusal; everyone is named once."""

    allow: frozenset[str]
    e401: frozenset[str] = frozenset()
    e403: frozenset[str] = frozenset()
    e404: frozenset[str] = frozenset()

    def __post_init__(self) -> None:
        groups = (self.allow, self.e401, self.e403, self.e404)
        named = [p for group in groups for p in group]
        assert len(named) == len(set(named)), f"a principal is named twice: {sorted(named)}"
        assert set(named) == EVERYONE, f"not named: {sorted(EVERYONE - set(named))}"

    def expected(self, who: str) -> int | None:
        """The refusal `who` must get, or None when `who` is allowed."""
        for status, group in ((401, self.e401), (403, self.e403), (404, self.e404)):
            if who in group:
                return status
        return None


def public() -> Access:
    return Access(allow=EVERYONE)


def bearer(
    allow: frozenset[str] | set[str],
    *,
    e403: frozenset[str] | set[str] = frozenset(),
    e404: frozenset[str] | set[str] = frozenset(),
) -> Access:
    """A route for access tokens: without one (or with an expired one), 401. An OAuth
    client not named is refused 403 `insufficient_scope` (see `for_clients`)."""
    allow, e404 = frozenset(allow), frozenset(e404)
    return Access(
        allow=allow,
        e401=NO_VALID_TOKEN,
        e403=frozenset(e403) | (CLIENTS - allow - e404),
        e404=e404,
    )


def for_clients(access: Access, scope: str, *, row: bool) -> Access:
    """`access` opened to the region's clients with `scope` (`@client_scope`): they are
    allowed; another region's client with the scope is told a row does not exist
    (`row`), or reads a list of its own region. On a row some callers of the region may
    not see (a draft), a client is told it does not exist too."""
    scoped = CLIENT_WITH[scope]
    other = frozenset({OTHER_CLIENT})
    allow, e404 = access.allow | {scoped}, access.e404 - {scoped, OTHER_CLIENT}
    if row:
        e404 |= other
    else:
        allow |= other
    return Access(
        allow=allow,
        e401=access.e401,
        e403=access.e403 - allow - e404,
        e404=e404,
    )


def row_hidden_from_clients(access: Access, scope: str) -> Access:
    """A row of the region a client with `scope` may not see (a draft): 404, as for
    another region's client."""
    hidden = frozenset({CLIENT_WITH[scope], OTHER_CLIENT})
    return Access(
        allow=access.allow,
        e401=access.e401,
        e403=access.e403 - hidden,
        e404=access.e404 | hidden,
    )


def signed() -> Access:
    """A terminal's route: only a signature counts, and a revoked terminal's is refused."""
    return Access(
        allow=frozenset({TERMINAL}),
        e401=EVERYONE - {TERMINAL, REVOKED_TERMINAL},
        e403=frozenset({REVOKED_TERMINAL}),
    )


def client_managing_webhooks(*, row: bool) -> Access:
    """A client's own webhooks: the region's client with `webhooks:manage` (whose the
    seeded endpoint is); another region's client with the scope has endpoints of its
    own, never this one (404); people's tokens and clients without the scope, 403."""
    owner = CLIENT_WITH["webhooks:manage"]
    allow = {owner} if row else {owner, OTHER_CLIENT}
    e404 = {OTHER_CLIENT} if row else set()
    return Access(
        allow=frozenset(allow),
        e401=NO_VALID_TOKEN,
        e403=EVERYONE - NO_VALID_TOKEN - allow - e404,
        e404=frozenset(e404),
    )


def volunteers_only() -> Access:
    return bearer(VOLUNTEERS, e403=STAFF | MERCHANT_STAFF)


def center_admin_only() -> Access:
    """The region's settings and its ledger: its center admin alone; another region's
    center admin is told the region or the row does not exist."""
    return bearer(
        {CENTER_ADMIN},
        e403=VOLUNTEERS | MERCHANT_STAFF | NOT_CENTER_ADMINS,
        e404={OTHER_ADMIN},
    )


def admins_of_x() -> Access:
    """Changing station X's part of the tree: admin roles reaching it."""
    return bearer(ADMINS_X, e403=VOLUNTEERS | MERCHANT_STAFF | ORGANIZERS, e404={OTHER_ADMIN})


def reaching_x() -> Access:
    """Station X's projects, activities and hours: any role reaching it."""
    return bearer(REACH_X, e403=VOLUNTEERS | MERCHANT_STAFF | {ORGANIZER_Y}, e404={OTHER_ADMIN})


def readable_in_region() -> Access:
    """A row of the region's public directory: anyone of the region reads it."""
    return bearer(IN_REGION, e404=ELSEWHERE)


def any_bearer() -> Access:
    """Lists and settings scoped to the caller's own region (or self)."""
    return bearer(BEARERS)


def volunteer_on_activity() -> Access:
    """A volunteer acting on an activity of their region."""
    return bearer(VOLUNTEERS_HERE, e403=STAFF | MERCHANT_STAFF, e404={OTHER_VOLUNTEER})


def merchant_m(*, cashier: bool) -> Access:
    """Merchant M: its managers (center admin, station X's admin), its owner, and for
    reading, its cashier; merchant N's cashier is refused, another region's admin 404."""
    allow = ADMINS_X | {OWNER} | ({CASHIER} if cashier else set())
    return bearer(
        allow,
        e403=VOLUNTEERS | ORGANIZERS | (MERCHANT_STAFF - allow),
        e404={OTHER_ADMIN},
    )


def managers_of_m() -> Access:
    """Merchant M's record itself: region staff who manage it, not its own staff."""
    return bearer(ADMINS_X, e403=VOLUNTEERS | ORGANIZERS | MERCHANT_STAFF, e404={OTHER_ADMIN})


def a_region_center_admin() -> Access:
    """Region-wide acts with nothing named: the center admin of any region, on its own."""
    return bearer({CENTER_ADMIN, OTHER_ADMIN}, e403=VOLUNTEERS | MERCHANT_STAFF | NOT_CENTER_ADMINS)


def platform_admins_only() -> Access:
    """The platform's routes: its admins alone. A region's people are refused before
    anything is read, so that what they name, a region or nothing, makes no difference."""
    return Access(
        allow=frozenset({PLATFORM_ADMIN}),
        e401=NO_VALID_TOKEN - {PLATFORM_ADMIN},
        e403=BEARERS | CLIENTS,
    )


MATRIX: dict[str, Access] = {
    # Platform
    "GET /healthz": public(),
    "GET /readyz": public(),
    "GET /.well-known/jwks.json": public(),
    "GET /problems": public(),
    "GET /problems/{code}": public(),
    # Identity
    "POST /v1/auth/wechat": public(),
    "POST /v1/auth/login": public(),
    "POST /v1/auth/refresh": public(),
    "POST /v1/auth/logout": public(),
    "GET /v1/auth/whoami": any_bearer(),
    "POST /v1/me/phone": volunteers_only(),
    # Regions, the org tree, teams, staff
    "GET /v1/regions": for_clients(any_bearer(), "orgs:read", row=False),
    "GET /v1/regions/{region_id}": for_clients(readable_in_region(), "orgs:read", row=True),
    "PATCH /v1/regions/{region_id}": center_admin_only(),
    # The platform: regions (tenants) and their first center admins
    "POST /v1/platform/auth/login": public(),
    "POST /v1/platform/regions": platform_admins_only(),
    "GET /v1/platform/regions": platform_admins_only(),
    "POST /v1/platform/regions/{region_id}/admins": platform_admins_only(),
    "POST /v1/org-units": admins_of_x(),
    "GET /v1/org-units": for_clients(any_bearer(), "orgs:read", row=False),
    "GET /v1/org-units/{unit_id}": for_clients(readable_in_region(), "orgs:read", row=True),
    "PATCH /v1/org-units/{unit_id}": admins_of_x(),
    "POST /v1/teams": admins_of_x(),
    "GET /v1/teams": for_clients(any_bearer(), "orgs:read", row=False),
    "GET /v1/teams/{team_id}": for_clients(readable_in_region(), "orgs:read", row=True),
    "PATCH /v1/teams/{team_id}": admins_of_x(),
    "POST /v1/staff": admins_of_x(),
    "GET /v1/staff": bearer(
        ADMINS_X | {OTHER_ADMIN}, e403=VOLUNTEERS | MERCHANT_STAFF | ORGANIZERS
    ),
    "GET /v1/staff/{staff_id}": admins_of_x(),
    "PATCH /v1/staff/{staff_id}": admins_of_x(),
    "POST /v1/staff/{staff_id}/grants": admins_of_x(),
    "POST /v1/staff/{staff_id}/grants/{grant_id}/revoke": admins_of_x(),
    # Volunteers
    "GET /v1/me": volunteers_only(),
    "PATCH /v1/me": volunteers_only(),
    # Volunteer A signed up at station X: staff reaching X see A; others are told nothing.
    # A volunteer's service record for partner platforms: clients with records:read only.
    "GET /v1/volunteers/{volunteer_id}/record": for_clients(
        bearer(set(), e403=BEARERS), "records:read", row=True
    ),
    "GET /v1/volunteers/{volunteer_id}": for_clients(
        bearer(REACH_X, e403=VOLUNTEERS | MERCHANT_STAFF, e404={OTHER_ADMIN, ORGANIZER_Y}),
        "volunteers:read",
        row=True,
    ),
    # A volunteer signed up at station X, with a claim: those who may read them verify it.
    "POST /v1/volunteers/{volunteer_id}/id-verification": bearer(
        REACH_X, e403=VOLUNTEERS | MERCHANT_STAFF, e404={OTHER_ADMIN, ORGANIZER_Y}
    ),
    # Projects and activities
    "POST /v1/projects": reaching_x(),
    "GET /v1/projects": for_clients(any_bearer(), "activities:read", row=False),
    "GET /v1/projects/{project_id}": for_clients(readable_in_region(), "activities:read", row=True),
    "PATCH /v1/projects/{project_id}": reaching_x(),
    "POST /v1/activities": reaching_x(),
    "GET /v1/activities": for_clients(any_bearer(), "activities:read", row=False),
    # The row names a draft: only staff reaching its unit know it exists.
    "GET /v1/activities/{activity_id}": row_hidden_from_clients(
        bearer(REACH_X, e403={ORGANIZER_Y}, e404=VOLUNTEERS | MERCHANT_STAFF | {OTHER_ADMIN}),
        "activities:read",
    ),
    "PATCH /v1/activities/{activity_id}": reaching_x(),
    "POST /v1/activities/{activity_id}/publish": reaching_x(),
    "POST /v1/activities/{activity_id}/cancel": reaching_x(),
    "POST /v1/activities/{activity_id}/finish": reaching_x(),
    "POST /v1/activities/{activity_id}/signups": volunteer_on_activity(),
    "DELETE /v1/activities/{activity_id}/signups": volunteer_on_activity(),
    "GET /v1/activities/{activity_id}/signups": reaching_x(),
    "GET /v1/activities/{activity_id}/checkin-code": reaching_x(),
    "GET /v1/me/qr": volunteers_only(),
    "POST /v1/activities/{activity_id}/check-in": volunteer_on_activity(),
    "POST /v1/activities/{activity_id}/check-out": volunteer_on_activity(),
    "POST /v1/activities/{activity_id}/attendances/scan": reaching_x(),
    "GET /v1/activities/{activity_id}/attendances": reaching_x(),
    "GET /v1/activities/{activity_id}/checkin-refusals": reaching_x(),
    "GET /v1/activity-policy": any_bearer(),
    "PATCH /v1/activity-policy": a_region_center_admin(),
    # Hours
    "GET /v1/hours": for_clients(
        bearer(STAFF, e403=VOLUNTEERS | MERCHANT_STAFF), "hours:read", row=False
    ),
    "GET /v1/hours/{record_id}": for_clients(reaching_x(), "hours:read", row=True),
    "POST /v1/hours/{record_id}/approve": reaching_x(),
    "POST /v1/hours/{record_id}/reject": reaching_x(),
    "POST /v1/hours/bulk-decisions": reaching_x(),
    "POST /v1/hours/makeup": reaching_x(),
    "POST /v1/activities/{activity_id}/bulk-credit": reaching_x(),
    "POST /v1/hours/{record_id}/corrections": bearer(
        {VOLUNTEER_A}, e403=STAFF | MERCHANT_STAFF, e404={VOLUNTEER_B, OTHER_VOLUNTEER}
    ),
    "POST /v1/hours/corrections/{correction_id}/accept": reaching_x(),
    "POST /v1/hours/corrections/{correction_id}/refuse": reaching_x(),
    "GET /v1/me/hours": volunteers_only(),
    "GET /v1/me/record": volunteers_only(),
    "GET /v1/regions/{region_id}/star-levels": readable_in_region(),
    "PUT /v1/regions/{region_id}/star-levels": center_admin_only(),
    # The ledger and rewards
    "GET /v1/me/wallet": volunteers_only(),
    "GET /v1/me/wallet/transactions": volunteers_only(),
    "GET /v1/ledger/accounts/{account_id}": center_admin_only(),
    "GET /v1/ledger/accounts/{account_id}/statement.csv": center_admin_only(),
    "GET /v1/ledger/transactions/{transaction_id}": center_admin_only(),
    "POST /v1/ledger/adjustments": center_admin_only(),
    "GET /v1/ledger/adjustments": a_region_center_admin(),
    # A pending adjustment the region's other center admin asked for.
    "GET /v1/ledger/adjustments/{adjustment_id}": center_admin_only(),
    "POST /v1/ledger/adjustments/{adjustment_id}/approve": center_admin_only(),
    "POST /v1/ledger/adjustments/{adjustment_id}/refuse": center_admin_only(),
    "POST /v1/ledger/transactions/{transaction_id}/reversals": center_admin_only(),
    "GET /v1/regions/{region_id}/reward-policy": center_admin_only(),
    "PUT /v1/regions/{region_id}/reward-policy": center_admin_only(),
    # The row names an issuance to A's wallet.
    "GET /v1/ledger/transactions/{transaction_id}/proof": bearer(
        {VOLUNTEER_A, CENTER_ADMIN},
        e403=NOT_CENTER_ADMINS | MERCHANT_STAFF,
        e404={VOLUNTEER_B, OTHER_VOLUNTEER, OTHER_ADMIN},
    ),
    "GET /v1/ledger/digests/latest": for_clients(any_bearer(), "ledger:read", row=False),
    "GET /v1/regions/{region_id}/ledger-keys": public(),
    # Merchants
    "POST /v1/merchants": admins_of_x(),
    "GET /v1/merchants": bearer(STAFF | MERCHANT_STAFF, e403=VOLUNTEERS),
    "POST /v1/merchants/settlements": a_region_center_admin(),
    "GET /v1/merchants/{merchant_id}": merchant_m(cashier=True),
    "PATCH /v1/merchants/{merchant_id}": managers_of_m(),
    "POST /v1/merchants/{merchant_id}/status": managers_of_m(),
    "POST /v1/merchants/{merchant_id}/staff": merchant_m(cashier=False),
    "GET /v1/merchants/{merchant_id}/staff": merchant_m(cashier=False),
    "PATCH /v1/merchants/{merchant_id}/staff/{staff_id}": merchant_m(cashier=False),
    "DELETE /v1/merchants/{merchant_id}/staff/{staff_id}": merchant_m(cashier=False),
    "POST /v1/merchants/{merchant_id}/offers": merchant_m(cashier=False),
    "GET /v1/merchants/{merchant_id}/offers": merchant_m(cashier=True),
    "PATCH /v1/merchants/{merchant_id}/offers/{offer_id}": merchant_m(cashier=False),
    "GET /v1/offers": volunteers_only(),
    "POST /v1/merchants/{merchant_id}/terminals": merchant_m(cashier=False),
    "GET /v1/merchants/{merchant_id}/terminals": merchant_m(cashier=False),
    "POST /v1/merchants/{merchant_id}/terminals/{terminal_id}/suspend": merchant_m(cashier=False),
    "POST /v1/merchants/{merchant_id}/terminals/{terminal_id}/resume": merchant_m(cashier=False),
    "POST /v1/merchants/{merchant_id}/terminals/{terminal_id}/revoke": merchant_m(cashier=False),
    "POST /v1/merchants/{merchant_id}/redemptions/{redemption_id}/refunds": merchant_m(
        cashier=False
    ),
    "GET /v1/merchants/{merchant_id}/redemptions": merchant_m(cashier=True),
    "GET /v1/merchants/{merchant_id}/reservations": merchant_m(cashier=True),
    "GET /v1/merchants/{merchant_id}/statements/{day}": merchant_m(cashier=False),
    "GET /v1/regions/{region_id}/merchant-policy": bearer(
        STAFF_HERE, e403=VOLUNTEERS | MERCHANT_STAFF, e404={OTHER_ADMIN}
    ),
    "PUT /v1/regions/{region_id}/merchant-policy": center_admin_only(),
    "POST /v1/me/redemption-codes": volunteers_only(),
    # Merchant M's offer: a volunteer of another region is told it does not exist.
    "POST /v1/me/reservations": volunteer_on_activity(),
    "GET /v1/me/reservations": volunteers_only(),
    "POST /v1/me/reservations/{reservation_id}/cancel": bearer(
        {VOLUNTEER_A}, e403=STAFF | MERCHANT_STAFF, e404={VOLUNTEER_B, OTHER_VOLUNTEER}
    ),
    "POST /v1/me/offline-code-secret": volunteers_only(),
    # The outbox: the region's dead letters, its center admin's to see and retry.
    "GET /v1/outbox/dead-letters": a_region_center_admin(),
    "POST /v1/outbox/dead-letters/{event_id}/retry": center_admin_only(),
    # OAuth clients: the region's registry is its center admins'; the OAuth endpoints
    # authenticate the client in the request, whoever else's token comes along.
    "POST /v1/clients": a_region_center_admin(),
    "GET /v1/clients": a_region_center_admin(),
    "GET /v1/clients/{client_id}": center_admin_only(),
    "PATCH /v1/clients/{client_id}": center_admin_only(),
    "POST /v1/clients/{client_id}/secrets": center_admin_only(),
    "POST /v1/clients/{client_id}/secrets/{secret_id}/retire": center_admin_only(),
    "POST /v1/oauth/token": public(),
    "POST /v1/oauth/revoke": public(),
    "GET /.well-known/oauth-authorization-server": public(),
    # Webhooks: the catalogue is public; endpoints are their client's alone.
    "GET /v1/webhook-events": public(),
    # Notifications: a volunteer's own inbox; another's notification does not exist.
    "GET /v1/notification-kinds": public(),
    "GET /v1/me/notifications": volunteers_only(),
    # Grids are the region's map: its volunteers and staff read them; staff reaching the
    # point change them. An enrolment is a person's: staff out of reach are told nothing.
    "POST /v1/grids": reaching_x(),
    "GET /v1/grids": bearer(VOLUNTEERS | STAFF, e403=MERCHANT_STAFF),
    "GET /v1/grids/{grid_id}": bearer(
        VOLUNTEERS_HERE | STAFF_HERE, e403=MERCHANT_STAFF, e404=ELSEWHERE
    ),
    "PATCH /v1/grids/{grid_id}": reaching_x(),
    "POST /v1/grids/{grid_id}/enrolments": volunteer_on_activity(),
    "GET /v1/grids/{grid_id}/enrolments": reaching_x(),
    "POST /v1/grid-enrolments/{enrolment_id}/confirm": bearer(
        REACH_X, e403=VOLUNTEERS | MERCHANT_STAFF, e404={OTHER_ADMIN, ORGANIZER_Y}
    ),
    "POST /v1/grid-enrolments/{enrolment_id}/refuse": bearer(
        REACH_X, e403=VOLUNTEERS | MERCHANT_STAFF, e404={OTHER_ADMIN, ORGANIZER_Y}
    ),
    "POST /v1/grid-enrolments/{enrolment_id}/withdraw": bearer(
        {VOLUNTEER_A}, e403=STAFF | MERCHANT_STAFF, e404={VOLUNTEER_B, OTHER_VOLUNTEER}
    ),
    "GET /v1/me/grid-enrolments": volunteers_only(),
    # An alert of point X's grid: staff reaching it run it, the volunteers it called (A)
    # read it and answer; to everyone else it does not exist.
    "POST /v1/alerts": bearer(
        REACH_X, e403=VOLUNTEERS | MERCHANT_STAFF, e404={ORGANIZER_Y, OTHER_ADMIN}
    ),
    "GET /v1/alerts": bearer(VOLUNTEERS | STAFF, e403=MERCHANT_STAFF),
    "GET /v1/alerts/{alert_id}": bearer(
        REACH_X | {VOLUNTEER_A},
        e403=MERCHANT_STAFF,
        e404={VOLUNTEER_B, OTHER_VOLUNTEER, ORGANIZER_Y, OTHER_ADMIN},
    ),
    "GET /v1/alerts/{alert_id}/stream": bearer(
        REACH_X | {VOLUNTEER_A},
        e403=MERCHANT_STAFF,
        e404={VOLUNTEER_B, OTHER_VOLUNTEER, ORGANIZER_Y, OTHER_ADMIN},
    ),
    "PUT /v1/alerts/{alert_id}/response": bearer(
        {VOLUNTEER_A}, e403=STAFF | MERCHANT_STAFF, e404={VOLUNTEER_B, OTHER_VOLUNTEER}
    ),
    "POST /v1/alerts/{alert_id}/escalate": bearer(
        REACH_X, e403=VOLUNTEERS | MERCHANT_STAFF, e404={ORGANIZER_Y, OTHER_ADMIN}
    ),
    "POST /v1/alerts/{alert_id}/stand-down": bearer(
        REACH_X, e403=VOLUNTEERS | MERCHANT_STAFF, e404={ORGANIZER_Y, OTHER_ADMIN}
    ),
    "POST /v1/me/notifications/{notification_id}/read": bearer(
        {VOLUNTEER_A}, e403=STAFF | MERCHANT_STAFF, e404={VOLUNTEER_B, OTHER_VOLUNTEER}
    ),
    "POST /v1/me/notifications/read-all": volunteers_only(),
    "GET /v1/me/notification-preferences": volunteers_only(),
    "PUT /v1/me/notification-preferences": volunteers_only(),
    # The region's WeChat templates: its center admins, each on their own region's.
    "GET /v1/notification-templates": a_region_center_admin(),
    "PUT /v1/notification-templates/{kind}": a_region_center_admin(),
    "DELETE /v1/notification-templates/{kind}": a_region_center_admin(),
    "GET /v1/me/notification-consents": volunteers_only(),
    "POST /v1/me/notification-consents": volunteers_only(),
    "POST /v1/webhook-endpoints": client_managing_webhooks(row=False),
    "GET /v1/webhook-endpoints": client_managing_webhooks(row=False),
    "GET /v1/webhook-endpoints/{endpoint_id}": client_managing_webhooks(row=True),
    "PATCH /v1/webhook-endpoints/{endpoint_id}": client_managing_webhooks(row=True),
    "POST /v1/webhook-endpoints/{endpoint_id}/secret/rotate": client_managing_webhooks(row=True),
    "GET /v1/webhook-endpoints/{endpoint_id}/messages": client_managing_webhooks(row=True),
    "GET /v1/webhook-endpoints/{endpoint_id}/messages/{message_id}/attempts": (
        client_managing_webhooks(row=True)
    ),
    "POST /v1/webhook-endpoints/{endpoint_id}/messages/{message_id}/retry": (
        client_managing_webhooks(row=True)
    ),
    "POST /v1/webhook-endpoints/{endpoint_id}/recover": client_managing_webhooks(row=True),
    "POST /v1/webhook-endpoints/{endpoint_id}/test": client_managing_webhooks(row=True),
    # The terminal's signed routes
    "POST /v1/terminal/redemptions": signed(),
    "GET /v1/terminal/redemptions/{request_no}": signed(),
    "POST /v1/terminal/redemptions/{request_no}/void": signed(),
    "POST /v1/terminal/reservations/pickups": signed(),
}


def test_every_route_of_the_app_has_a_row_and_a_call(matrix_app: FastAPI) -> None:
    routes = route_keys(matrix_app)
    assert routes - MATRIX.keys() == set(), "add these routes to MATRIX"
    assert MATRIX.keys() - routes == set(), "these rows name no route of the app"
    assert CALLS.keys() == MATRIX.keys()


def _refusal_problems(response: httpx.Response, outcome: Outcome, expected: int) -> list[str]:
    status, code = outcome
    if status != expected:
        return [f"expected {expected}, got {status} {code}: {response.text[:300]}"]
    if response.status_code < 400:  # refused item by item: the outcome has been checked
        return []
    problems = []
    if response.headers.get("content-type") != "application/problem+json":
        problems.append(f"not problem+json: {response.headers.get('content-type')}")
    else:
        body = response.json()
        if body.get("status") != expected or not body.get("code"):
            problems.append(f"malformed problem: {body}")
    return problems


@pytest.mark.parametrize("route", sorted(MATRIX))
async def test_each_principal_is_allowed_or_refused_as_the_matrix_says(
    route: str, matrix: Matrix
) -> None:
    access = MATRIX[route]
    failures: list[str] = []

    # Requests are built first: building may make rows (a grant to revoke, a code to
    # redeem) that must not count as written by the refused calls.
    planned = []
    for who in sorted(EVERYONE - access.allow):
        expected = access.expected(who)
        assert expected is not None
        real = await matrix.build(route, real=True)
        # The same request naming ids nobody holds; same-region staff may learn that a
        # row out of their reach exists (403) where a missing one is 404.
        exempt = expected == 403 and who in REGION_STAFF
        nowhere = None if exempt else await matrix.build(route, real=False)
        planned.append((who, expected, real, nowhere))
    rows_before = await matrix.row_counts()
    for who, expected, real, nowhere in planned:
        response = await matrix.send(route, real, who)
        outcome = real.judge(response)
        failures += [f"{who}: {p}" for p in _refusal_problems(response, outcome, expected)]
        if nowhere is None:
            continue
        blank = nowhere.judge(await matrix.send(route, nowhere, who))
        if blank != outcome:
            failures.append(f"{who}: answers {outcome} for a real row, {blank} for none")
    rows_after = await matrix.row_counts()
    written = {t: rows_after[t] - n for t, n in rows_before.items() if rows_after[t] != n}
    if written:
        failures.append(f"refused calls wrote rows: {written}")

    succeeded = False
    for who in sorted(access.allow):
        req = await matrix.build(route, real=True)
        response = await matrix.send(route, req, who)
        status, code = req.judge(response)
        if status in REFUSALS or status >= 500:
            failures.append(f"{who}: allowed but got {status} {code}: {response.text[:300]}")
        succeeded = succeeded or 200 <= status < 300
    if not succeeded:
        failures.append("no allowed principal got a 2xx: the call does not exercise the route")

    assert not failures, f"{route}:\n  " + "\n  ".join(failures)
