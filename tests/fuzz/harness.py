"""Schemathesis against the live app, from the committed `openapi/openapi.json`.

One run per principal (a volunteer, an organizer, a center admin, a terminal): the
spec's operations, each generated from its schema (valid and invalid inputs), sent
over HTTP with that principal's credentials, and every response checked against
the spec: never a 5xx, a documented status code, a documented content type (so
problem+json for errors), a body that matches its schema, documented headers.

Bearer principals get a token issued per request; the terminal signs each request
as it goes on the wire (RFC 9421 over the exact bytes sent). Path, query and body
parameters that name rows draw, most of the time, from the seeded world's real
ids (Schemathesis dictionaries), so requests get past the 404s into the code
behind them; the terminal's `code` is, often, a volunteer's valid online or offline code.

The budget is a profile: `ci` (the short seeded run inside `make test`) or `full`
(`make fuzz`: more examples per operation and the stateful phase).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import requests
import schemathesis
from schemathesis.config import SchemathesisConfig
from schemathesis.engine import events, from_schema
from schemathesis.engine.statistic import Statistic

from bench.terminal_client import TerminalSigner
from tests.fuzz.world import FuzzWorld

SPEC = Path(__file__).resolve().parents[2] / "openapi" / "openapi.json"
SEED = 20260509
TERMINAL_PREFIX = "/v1/terminal/"

# Response conformance: what the issue asks of every response.
CHECKS = (
    "not_a_server_error",
    "status_code_conformance",
    "content_type_conformance",
    "response_schema_conformance",
    "response_headers_conformance",
)

# Parameter name (wherever it appears) → the seeded rows it may name.
ID_PARAMETERS = {
    "region_id": "region_id",
    "unit_id": "unit_id",
    "org_unit_id": "unit_id",
    "team_id": "team_id",
    "staff_id": "staff_id",
    "grant_id": "grant_id",
    "volunteer_id": "volunteer_id",
    "project_id": "project_id",
    "activity_id": "activity_id",
    "record_id": "record_id",
    "correction_id": "correction_id",
    "account_id": "account_id",
    "transaction_id": "transaction_id",
    "merchant_id": "merchant_id",
    "offer_id": "offer_id",
    "terminal_id": "terminal_id",
    "redemption_id": "redemption_id",
    "request_no": "request_no",
    "day": "day",
    "code": "code",
}
LOCATIONS = ("path", "query", "body")
# Problem codes name `/problems/{code}` only; a body's `code` is a check-in or redemption code.
PATH_ONLY = {"code"}
# How often a parameter names a seeded row rather than a generated value.
PROBABILITY = 0.8


@dataclass(frozen=True)
class Profile:
    name: str
    max_examples: int
    stateful: bool
    stateful_steps: int


PROFILES = {
    # Without a time limit the engine makes one pass over each phase: a run's length is set
    # by the examples per operation, not by the machine's speed.
    "ci": Profile("ci", max_examples=5, stateful=False, stateful_steps=2),
    "full": Profile("full", max_examples=60, stateful=True, stateful_steps=20),
}


def profile_from_env() -> Profile:
    return PROFILES[os.environ.get("LIANGPIAO_FUZZ_PROFILE", "ci")]


class BearerAuth(requests.auth.AuthBase):
    """A fresh access token on every request."""

    def __init__(self, headers: Callable[[], dict[str, str]]) -> None:
        self.headers = headers

    def __call__(self, r: requests.PreparedRequest) -> requests.PreparedRequest:
        r.headers.update(self.headers())
        return r


class TerminalAuth(requests.auth.AuthBase):
    """Signs the request exactly as it goes on the wire, the way a terminal does."""

    def __init__(self, signer: TerminalSigner) -> None:
        self.signer = signer

    def __call__(self, r: requests.PreparedRequest) -> requests.PreparedRequest:
        url = urlsplit(r.path_url)
        body = r.body.encode() if isinstance(r.body, str) else (r.body or b"")
        signed = self.signer.sign(str(r.method), url.path, query=url.query, body=body)
        for name in ("Content-Digest", "Signature-Input", "Signature"):
            r.headers[name] = signed.headers[name]
        return r


@dataclass(frozen=True)
class Principal:
    name: str
    # Operations run as this principal: the terminal's, or everyone else's.
    terminal: bool
    auth: Callable[[FuzzWorld], requests.auth.AuthBase]
    # The terminal has three operations: it can afford many more examples of each.
    examples_factor: int = 1


def _bearer(person: str) -> Callable[[FuzzWorld], requests.auth.AuthBase]:
    return lambda fw: BearerAuth(lambda: fw.headers(person))


PRINCIPALS = {
    "volunteer": Principal("volunteer", False, _bearer("volunteer_a")),
    "organizer": Principal("organizer", False, _bearer("organizer_x")),
    "center_admin": Principal("center_admin", False, _bearer("center_admin")),
    "terminal": Principal(
        "terminal", True, lambda fw: TerminalAuth(fw.terminal), examples_factor=10
    ),
}


@dataclass
class Outcome:
    principal: str
    operations: int
    cases: int
    failures: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    # Responses by status code: how deep the requests got.
    statuses: Counter[str] = field(default_factory=Counter)
    seconds: float = 0.0
    stop_reason: str = ""

    def summary(self) -> str:
        responses = " ".join(f"{k}={v}" for k, v in sorted(self.statuses.items()))
        return (
            f"{self.principal:<13} operations={self.operations:<4} cases={self.cases:<6} "
            f"failures={len(self.failures)} errors={len(self.errors)} "
            f"[{responses}] ({self.seconds:.1f} s, {self.stop_reason})"
        )


def _config(
    fw: FuzzWorld, base_url: str, profile: Profile, principal: Principal
) -> SchemathesisConfig:
    dictionaries = {name: {"values": values} for name, values in fw.known.items() if values}
    parameters = {
        f"{location}.{parameter}": {"dictionary": dictionary, "probability": PROBABILITY}
        for parameter, dictionary in ID_PARAMETERS.items()
        if dictionary in dictionaries
        for location in LOCATIONS
        if location == "path" or parameter not in PATH_ONLY
    }
    return SchemathesisConfig.from_dict(
        {
            "seed": SEED,
            "base-url": base_url,
            "workers": 1,
            "request-timeout": 30,
            "dictionaries": dictionaries,
            "parameters": parameters,
            "generation": {
                "max-examples": profile.max_examples * principal.examples_factor,
                "deterministic": True,
                "database": "none",
            },
            "checks": {"enabled": False, **{name: {"enabled": True} for name in CHECKS}},
            "phases": {
                "examples": {"enabled": True},
                "coverage": {"enabled": True},
                "fuzzing": {"enabled": True},
                "stateful": {"enabled": profile.stateful, "max-steps": profile.stateful_steps},
            },
        }
    )


def _volunteer_codes(fw: FuzzWorld, base_url: str) -> Callable[..., Any]:
    """A `map_body` hook: a third of the generated codes stay random digits, a third become
    a fresh online code of the seeded volunteer (asked for over HTTP, as the mini-program
    does) and a third the volunteer's current offline code, so that redemptions reach the
    wallet and the ledger."""

    def online_code() -> str:
        response = requests.post(
            f"{base_url}/v1/me/redemption-codes", headers=fw.headers("volunteer_a"), timeout=30
        )
        response.raise_for_status()
        return str(response.json()["code"])

    def map_body(context: Any, body: Any) -> Any:
        if not (isinstance(body, dict) and isinstance(body.get("code"), str)):
            return body
        digest = hashlib.sha256(json.dumps(body, sort_keys=True, default=str).encode()).digest()
        body = dict(body)
        # The spec cannot say "an offer or an amount, not both": most bodies get just one.
        offer, amount = body.get("offer_id"), body.get("amount")
        if (offer is None) == (amount is None) and digest[1] % 4:
            body.pop("offer_id", None)
            body.pop("amount", None)
            if digest[1] % 2:
                body["offer_id"] = offer or fw.known["offer_id"][0]
            else:
                body["amount"] = 5 if amount is None else amount
        # A new attempt needs a new request_no; the same body keeps its own, and replays.
        if digest[2] % 4:
            body["request_no"] = "fz-" + digest.hex()[:24]
        if digest[0] % 3 == 1:
            body["code"] = online_code()
        elif digest[0] % 3 == 2:
            body["code"] = fw.offline_wallet.code()
        return body

    return map_body


def load_schema(fw: FuzzWorld, base_url: str, principal: Principal, profile: Profile) -> Any:
    schema = schemathesis.openapi.from_path(SPEC, config=_config(fw, base_url, profile, principal))
    if principal.terminal:
        schema = schema.include(path_regex=f"^{TERMINAL_PREFIX}")
        schema.hook("map_body")(_volunteer_codes(fw, base_url))
    else:
        schema = schema.exclude(path_regex=f"^{TERMINAL_PREFIX}")
    schema.auth.set_from_requests(principal.auth(fw))
    return schema


_BEARER = re.compile(r"Bearer [A-Za-z0-9._-]+")


def _describe(label: str, group: Any) -> str:
    titles = "; ".join(f"{f.title}: {f.message}".strip() for f in group.failures)
    # The token is issued per request and expires: it reproduces nothing.
    sample = _BEARER.sub("Bearer $TOKEN", group.code_sample)
    return f"{label}: {titles}\n    reproduce: {sample}"


def run(fw: FuzzWorld, base_url: str, principal: Principal, profile: Profile) -> Outcome:
    schema = load_schema(fw, base_url, principal, profile)
    statistic = Statistic()
    outcome = Outcome(principal=principal.name, operations=0, cases=0)
    for event in from_schema(schema).execute():
        if isinstance(event, events.ScenarioFinished) and event.is_test_scenario:
            statistic.on_scenario_finished(event.recorder)
            for interaction in event.recorder.interactions.values():
                if interaction.response is not None:
                    outcome.statuses[str(interaction.response.status_code)] += 1
        elif isinstance(event, events.NonFatalError):
            outcome.errors.append(f"{event.label}: {event.info.title}: {event.info.message}")
        elif isinstance(event, events.FatalError):
            outcome.errors.append(f"fatal: {event.exception!r}")
        elif isinstance(event, events.EngineFinished):
            outcome.seconds = event.running_time
            outcome.stop_reason = str(event.stop_reason)
    outcome.operations = len(statistic.tested_operations)
    outcome.cases = statistic.total_cases
    for label, groups in statistic.failures.items():
        outcome.failures.extend(_describe(label, group) for group in groups.values())
    return outcome
