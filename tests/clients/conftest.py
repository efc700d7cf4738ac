"""Fixtures of the OAuth client tests."""

from __future__ import annotations

from typing import Any

import pytest

from tests.orgs.support import Reader


@pytest.fixture
def db(app: Any) -> Reader:
    """Reads back the rows the app committed."""
    return Reader(app)
