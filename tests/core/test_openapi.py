"""The committed OpenAPI document is the one the code generates."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

SPEC = Path(__file__).resolve().parents[2] / "openapi" / "openapi.json"


def test_committed_openapi_matches_the_app(app: Any) -> None:
    committed = json.loads(SPEC.read_text())
    assert committed == app.openapi(), "run `make openapi` and commit openapi/openapi.json"


def test_every_operation_has_an_id_a_summary_and_error_responses(app: Any) -> None:
    spec = app.openapi()
    seen: set[str] = set()
    for path, item in spec["paths"].items():
        for method, op in item.items():
            assert op.get("operationId"), f"{method} {path} has no operationId"
            assert op["operationId"] not in seen, f"duplicate operationId {op['operationId']}"
            seen.add(op["operationId"])
            assert op.get("summary"), f"{method} {path} has no summary"
            errors = [s for s in op["responses"] if s.startswith(("4", "5"))]
            assert errors, f"{method} {path} documents no error response"
