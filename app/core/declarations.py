"""What a route declares beneath its route decorator, kept on its endpoint function.

`@limited(...)` (its tight rate limits) and `@client_scope(...)` (the scope an OAuth
client needs) are such declarations: each stores a value under its own name, and the
code that enforces it reads the value back from the route it serves or collects.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

F = TypeVar("F", bound=Callable[..., Any])
T = TypeVar("T")


def declaring(name: str, value: object) -> Callable[[F], F]:
    """A decorator that keeps `value` under `name` on the endpoint and returns it as is."""

    def declare(endpoint: F) -> F:
        setattr(endpoint, name, value)
        return endpoint

    return declare


def declared(endpoint: object, name: str, default: T) -> T:
    """What `endpoint` declared under `name`, or `default`."""
    value: T = getattr(endpoint, name, default)
    return value
