"""The committed OpenAPI document is the one the code generates."""

from __future__ import annotations

import json
import re
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


def test_terminal_routes_declare_the_signature_scheme_and_their_refusals(app: Any) -> None:
    spec = app.openapi()
    scheme = spec["components"]["securitySchemes"]["TerminalSignature"]
    assert (scheme["type"], scheme["in"], scheme["name"]) == ("apiKey", "header", "Signature")
    terminal_ops = [
        (method, path, op)
        for path, item in spec["paths"].items()
        if path.startswith("/v1/terminal/")
        for method, op in item.items()
    ]
    assert len(terminal_ops) >= 3
    for method, path, op in terminal_ops:
        assert op.get("security") == [{"TerminalSignature": []}], f"{method} {path}"
        codes = {
            code
            for status, response in op["responses"].items()
            if status.startswith("4")
            for code in re.findall(r"`([a-z_]+)`", response["description"])
        }
        assert {"signature_invalid", "nonce_replayed", "terminal_revoked"} <= codes, path
    bearer_ops = [
        path
        for path, item in spec["paths"].items()
        if not path.startswith("/v1/terminal/")
        for op in item.values()
        if {"TerminalSignature": []} in op.get("security", [])
    ]
    assert bearer_ops == []
