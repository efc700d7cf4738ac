"""The demo's partner platform: the city app 智慧吴江, an OAuth client of the region
with a webhook endpoint, connected before the story begins so that every event of
the story (hours approved, redemptions, voids, refunds, sealed blocks) is a message
to it. In `make run` the endpoint is the development receiver at `/__fake_partner`
(fakes/partner.py), which shows what arrived at `GET /__fake_partner/messages`.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import select

from app.clients import service as clients
from app.clients.models import OAuthClient
from app.clients.schemas import ClientCreate
from app.core.db import Database
from app.demo.timeline import scene, staff
from app.identity.principals import Principal
from app.orgs.models import Region
from app.webhooks import service as webhooks
from app.webhooks.schemas import EndpointCreate

NAME = "智慧吴江 APP"
SCOPES = ["activities:read", "hours:read", "ledger:read", "records:read", "webhooks:manage"]
EVENTS = [
    "hours.approved",
    "ledger.block_sealed",
    "redemption.refunded",
    "redemption.succeeded",
    "redemption.voided",
]
# Where `seed-demo` keeps what `connect` answers, under `var/`: the development
# receiver reads the endpoint's secret from it to verify what it receives.
CREDENTIALS_FILE = "demo-partner-client.json"


def receiver_url(db: Database) -> str:
    """Beside the fake WeChat server the app mounts in development (its origin)."""
    parts = urlsplit(db.settings.wechat_api_base)
    return f"{parts.scheme}://{parts.netloc}/__fake_partner/hooks"


async def connect(db: Database, when: datetime, region: Region) -> dict[str, Any] | None:
    """Registers the client and its endpoint once; their secrets, which nothing else
    keeps, in the answer (None when the partner was connected before): the client's, and
    the endpoint's signing secret."""
    async with scene(db, when) as session:
        known = await session.scalar(
            select(OAuthClient.id).where(
                OAuthClient.region_id == region.id, OAuthClient.name == NAME
            )
        )
        if known is not None:
            return None
        admin = await staff(session, "admin")
        created = await clients.register(
            session,
            staff=admin,
            data=ClientCreate(name=NAME, contact="zhwj-ops@wujiang.example", scopes=SCOPES),
        )
        client = Principal(
            kind="client",
            id=created.client_id,
            region_id=region.id,
            scopes=tuple(SCOPES),
        )
        endpoint = await webhooks.create_endpoint(
            session,
            client=client,
            data=EndpointCreate(
                url=receiver_url(db), description="智慧吴江 消息中心", event_types=EVENTS
            ),
            settings=db.settings,
        )
    return {
        "client_id": str(created.client_id),
        "client_secret": created.client_secret,
        "webhook_endpoint_id": str(endpoint.id),
        "webhook_secret": endpoint.secret,
    }
