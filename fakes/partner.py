"""A partner platform's webhook receiver, for the local demo.

`make run` mounts it at `/__fake_partner`; the demo's client (app/demo/partner.py)
subscribes `/__fake_partner/hooks`. It verifies every message with the
`standardwebhooks` library against the endpoint's secret that `seed-demo` kept in
`var/demo-partner-client.json`, answers 204, and lists the last 200 messages it
received at `GET /__fake_partner/messages`, newest first, de-duplicated by
`webhook-id` as a receiver should.
"""

from __future__ import annotations

import json
from collections import OrderedDict
from typing import Any

from standardwebhooks.webhooks import Webhook, WebhookVerificationError
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from app.core import clock
from app.core.config import Settings
from app.demo.partner import CREDENTIALS_FILE

KEPT = 200


def create_fake_partner(settings: Settings) -> Starlette:
    received: OrderedDict[str, dict[str, Any]] = OrderedDict()

    def secret() -> str | None:
        path = settings.var_dir / CREDENTIALS_FILE
        if not path.exists():
            return None
        kept: str | None = json.loads(path.read_text()).get("webhook_secret")
        return kept

    async def hooks(request: Request) -> Response:
        body = await request.body()
        key = secret()
        try:
            if key is None:
                raise WebhookVerificationError("no secret kept")
            message = Webhook(key).verify(body, dict(request.headers))
        except WebhookVerificationError:
            return Response(status_code=401)
        msg_id = request.headers["webhook-id"]
        if msg_id not in received:
            received[msg_id] = {
                "webhook_id": msg_id,
                "received_at": clock.now().isoformat(),
                "type": message["type"],
                "data": message["data"],
                "attempts": 0,
            }
            while len(received) > KEPT:
                received.popitem(last=False)
        received[msg_id]["attempts"] += 1
        return Response(status_code=204)

    async def messages(request: Request) -> JSONResponse:
        return JSONResponse({"items": list(reversed(received.values()))})

    return Starlette(
        routes=[
            Route("/hooks", hooks, methods=["POST"]),
            Route("/messages", messages, methods=["GET"]),
        ]
    )
