"""The runner: the story's steps in order, the exit status, the command line."""

from __future__ import annotations

import asyncio
import sys
import time
from pathlib import Path
from typing import TextIO

import httpx

from app.tour.admin import set_up_region
from app.tour.client import Tour, TourStopped
from app.tour.evidence import check_evidence
from app.tour.merchant import spend
from app.tour.organizer import enter_makeup_hours, run_activity
from app.tour.story import Story
from app.tour.volunteer import serve


async def play(http: httpx.AsyncClient, *, admin_password: str, out: TextIO) -> None:
    """The story, step by step; raises TourStopped at the first unexpected answer."""
    story = Story(Tour(http, out))
    await set_up_region(story, admin_password=admin_password)
    await run_activity(story)
    await serve(story)
    await enter_makeup_hours(story)
    await spend(story)
    await check_evidence(story)
    story.tour.say(
        "tour", "the loop is closed", "ok", f"in {time.monotonic() - story.started:.1f} s"
    )


async def _main(base_url: str, admin_password: str, out: TextIO) -> int:
    async with httpx.AsyncClient(base_url=base_url, timeout=30.0) as http:
        try:
            await play(http, admin_password=admin_password, out=out)
        except TourStopped:
            return 1
        except httpx.TransportError as exc:
            print(f"cannot reach {base_url}: {exc!r}; is `make run` serving?", file=out)
            return 2
    return 0


def run_cli(*, base_url: str, password_file: str, out: TextIO | None = None) -> int:
    """Exit status: 0 when the loop closed, 1 at an unexpected answer, 2 when the tour
    could not start (no password file, no server)."""
    out = out or sys.stdout
    path = Path(password_file)
    try:
        password = path.read_text().strip()
    except OSError as exc:
        print(f"tour: cannot read the admin's password: {exc}; run `make run` first", file=out)
        return 2
    return asyncio.run(_main(base_url.rstrip("/"), password, out))
