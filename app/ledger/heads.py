"""The head log: every signed block head, also written outside the database.

One JSON object a line, appended and never rewritten (the file is opened for
appending only, and each head is one `write` of one line), in the form of the
digest route (`app.ledger.sealing.head_record`). Whoever keeps a copy, or receives
the `ledger.block_sealed` events, can later hold the database's chain to it:
`python -m app verify-ledger --pin FILE --key KEY`. In production the path should
be on storage the database's credentials do not reach (another volume, shipped
off the host).
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from app.core.config import Settings

DEV_HEAD_LOG = "ledger-heads.jsonl"


class HeadLog:
    def __init__(self, path: Path) -> None:
        self.path = path

    @classmethod
    def from_settings(cls, settings: Settings) -> HeadLog:
        return cls(settings.ledger_head_log or settings.var_dir / DEV_HEAD_LOG)

    def append(self, head: dict[str, Any]) -> None:
        """Append one head and flush it to disk (blocking: run it in a thread)."""
        line = (json.dumps(head, sort_keys=True, ensure_ascii=False) + "\n").encode()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            os.write(fd, line)
            os.fsync(fd)
        finally:
            os.close(fd)
