"""What one run of the tour carries from step to step: the run's suffix, what the server
made (the region, the station, the organizer, the merchant, the activity) and what the
volunteer's wallet should hold. Each role's steps read what earlier ones left here."""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from app.tour.client import Tour

Body = dict[str, Any]


@dataclass
class Story:
    tour: Tour
    run: str = field(default_factory=lambda: secrets.token_hex(3))
    started: float = field(default_factory=time.monotonic)
    region: Body = field(default_factory=dict)
    station: Body = field(default_factory=dict)
    organizer: Body = field(default_factory=dict)
    organizer_password: str = ""
    merchants: str = ""
    owner: Body = field(default_factory=dict)
    owner_password: str = ""
    activity: Body = field(default_factory=dict)
    activities: str = ""
    volunteer_id: str = ""
    balance_before: int = 0
    expected: int = 0
    issuance: Body = field(default_factory=dict)


def instant(value: datetime) -> str:
    return value.isoformat(timespec="seconds")
