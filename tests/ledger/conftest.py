"""Fixtures of the ledger tests."""

from __future__ import annotations

from typing import Any

import pytest

from tests.ledger.support import Ledger


@pytest.fixture
def ledger(app: Any) -> Ledger:
    return Ledger(app)
