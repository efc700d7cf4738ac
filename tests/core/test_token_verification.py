"""Access-token verification: a token's signature is checked once, its lifetime on every use."""

from __future__ import annotations

import base64
import uuid
from collections.abc import Callable
from datetime import timedelta

import pytest
from pydantic import SecretStr

from app.core import clock
from app.core.config import Settings
from app.core.errors import TokenExpired, TokenInvalid
from app.core.security import KeyRing, generate_private_key_pem


@pytest.fixture
def ring() -> KeyRing:
    return KeyRing(
        Settings(
            _env_file=None,  # type: ignore[call-arg]
            environment="test",
            jwt_private_key=SecretStr(generate_private_key_pem()),
            jwt_kid="test-ring",
        )
    )


def _token(ring: KeyRing) -> str:
    token, _ = ring.issue(sub=uuid.uuid4(), typ="volunteer", region_id=uuid.uuid4())
    return token


def test_a_token_verified_before_still_expires(ring: KeyRing) -> None:
    token = _token(ring)
    assert ring.verify(token).typ == "volunteer"

    with clock.travel(clock.now() + timedelta(hours=1)), pytest.raises(TokenExpired):
        ring.verify(token)


def test_a_token_whose_claims_were_changed_is_refused(ring: KeyRing) -> None:
    header, payload, signature = _token(ring).split(".")
    other = _token(ring).split(".")[1]
    ring.verify(f"{header}.{payload}.{signature}")

    with pytest.raises(TokenInvalid):
        ring.verify(f"{header}.{other}.{signature}")


@pytest.mark.parametrize(
    "mangle",
    [
        lambda h, p, s: f"{h}.{p}.{s[:-1]}",  # a signature of a length base64 cannot have
        lambda h, p, s: f"{h}.{p}.{s[:-2]}",  # a signature too short
        lambda h, p, s: f"{h}.{p}.{s}+",  # a character outside base64url
        lambda h, p, s: f"{h}.{p}.{s}=",  # padding, which JWS forbids
        lambda h, p, s: f"{h}.{p}",  # no signature
        lambda h, p, s: f"{h}.{p}.{s}.{s}",  # one part too many
        lambda h, p, s: f"{h}.{base64.urlsafe_b64encode(b'[1]').decode()}.{s}",
    ],
    ids=["odd-length", "short", "not-base64url", "padded", "two-parts", "four-parts", "array"],
)
def test_malformed_tokens_are_refused_not_failed(
    ring: KeyRing, mangle: Callable[[str, str, str], str]
) -> None:
    header, payload, signature = _token(ring).split(".")

    with pytest.raises(TokenInvalid):
        ring.verify(mangle(header, payload, signature))
