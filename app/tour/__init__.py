"""`python -m app tour`: the walkthrough of docs/walkthrough.md, played against a running server.

Every role takes its turn over HTTP, as its own client would: the centre admin sets the
region up, an organizer runs an activity, a volunteer serves and spends, a merchant
owner opens a shop and its terminal signs a redemption (RFC 9421, Ed25519). Each step
prints one line — role, action, HTTP status, the fact that matters — and the first
unexpected answer stops the tour with exit status 1. Names carry a per-run suffix, so
the tour runs again and again against the same server.

It needs the demo region (`python -m app seed-demo`) and a server that logs volunteers
in, such as `make run` with its fake WeChat; the centre admin's password is read from
the file `seed-demo` writes.
"""

from app.tour.client import Terminal, Tour, TourStopped
from app.tour.runner import play, run_cli
from app.tour.settings import (
    EARNING_SOURCES,
    JOB_WAIT_SECONDS,
    MAKEUP_MINUTES,
    OFFER_PRICE,
    RATE_PER_HOUR,
    STATION_NAME,
    VOLUNTEER_CODE,
)

__all__ = [
    "EARNING_SOURCES",
    "JOB_WAIT_SECONDS",
    "MAKEUP_MINUTES",
    "OFFER_PRICE",
    "RATE_PER_HOUR",
    "STATION_NAME",
    "VOLUNTEER_CODE",
    "Terminal",
    "Tour",
    "TourStopped",
    "play",
    "run_cli",
]
