"""A header the API document marks required is one a route refuses a request without,
and a header it marks optional is one the route does without.

Each operation with an `Idempotency-Key` or a terminal's signature headers is called by
a caller the authorization matrix allows, with the well-formed request of `calls.py`
minus that header.
"""

from __future__ import annotations

from typing import Any

import pytest
from fastapi import FastAPI

from tests.security.calls import outcome_of
from tests.security.runner import Matrix
from tests.security.test_authorization_matrix import CLIENTS, MATRIX

# The header → what a request without it gets, where the document says it is required.
REFUSED_WITHOUT = {
    "Idempotency-Key": (400, "idempotency_key_missing"),
    "Signature": (401, "signature_missing"),
    "Signature-Input": (401, "signature_missing"),
    "Content-Digest": (401, "signature_missing"),
}


def _header_parameters(app: FastAPI) -> list[tuple[str, str, bool]]:
    spec: dict[str, Any] = app.openapi()
    found = []
    for path, item in spec["paths"].items():
        for method, op in item.items():
            for parameter in op.get("parameters", ()):
                if parameter["in"] == "header" and parameter["name"] in REFUSED_WITHOUT:
                    found.append(
                        (f"{method.upper()} {path}", parameter["name"], parameter["required"])
                    )
    return found


def test_the_document_requires_the_headers_of_the_refusing_routes(matrix_app: FastAPI) -> None:
    required = {(route, name) for route, name, needed in _header_parameters(matrix_app) if needed}
    assert ("POST /v1/activities/{activity_id}/check-in", "Idempotency-Key") in required
    assert ("POST /v1/ledger/adjustments", "Idempotency-Key") in required
    for header in ("Signature", "Signature-Input", "Content-Digest"):
        assert ("POST /v1/terminal/redemptions", header) in required
    optional = {(r, n) for r, n, needed in _header_parameters(matrix_app) if not needed}
    assert ("POST /v1/projects", "Idempotency-Key") in optional


async def test_each_header_is_refused_without_exactly_where_the_document_requires_it(
    matrix_app: FastAPI, matrix: Matrix
) -> None:
    failures = []
    for route, header, required in _header_parameters(matrix_app):
        # A person where one may call; a client where only clients may (webhooks).
        allowed = MATRIX[route].allow
        who = sorted(allowed - CLIENTS or allowed)[0]
        req = await matrix.build(route, real=True)
        response = await matrix.send(route, req, who, without=frozenset({header}))
        outcome = outcome_of(response)
        if required and outcome != REFUSED_WITHOUT[header]:
            failures.append(f"{route} without {header}: {outcome}, {response.text[:200]}")
        if not required and (outcome[1] == REFUSED_WITHOUT[header][1] or outcome[0] >= 500):
            failures.append(f"{route} without its optional {header}: {outcome}")
    assert failures == []


@pytest.mark.parametrize("header", ["Idempotency-Key"])
async def test_a_missing_key_with_an_invalid_body_is_a_validation_failure(
    matrix: Matrix, header: str
) -> None:
    route = "POST /v1/activities/{activity_id}/check-in"
    req = await matrix.build(route, real=True)
    req.json = {"code": 7}
    response = await matrix.send(route, req, "volunteer_a", without=frozenset({header}))
    assert outcome_of(response) == (422, "validation_failed")
    fields = {error["field"] for error in response.json()["errors"]}
    assert "header.Idempotency-Key" in fields
