"""Staff login throttling: attempts counted per username and client address.

Failures from one address slow down only that address's next attempts on that
username, so that nobody can keep an account's owner out by guessing from
elsewhere. After `login_max_failures` failures each further attempt must wait
`login_delay_seconds`, doubling with every failure, at most
`login_lockout_seconds`; a success clears the count. Known and unknown usernames
are counted alike, so the answers tell them apart no more than the passwords do.

Every attempt is charged before its password is checked, in a short transaction
of its own: concurrent guesses cannot slip past the count, a client that hangs up
during argon2 has still spent its attempt, and no write transaction (on SQLite,
the database's single writer) stays open while argon2 runs. The counts live in
the database, so every replica sees the same ones.
"""

from __future__ import annotations

import ipaddress
import math
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from app.core import clock
from app.core.config import Settings
from app.core.ratelimit import hashed
from app.identity import repository
from app.identity.errors import AccountLocked, InvalidCredentials

# A pair quiet this long starts afresh, and its row may be swept.
FORGET_AFTER = timedelta(days=1)
# An IPv6 customer is routinely given a whole /64: counting its addresses one by one
# would give a guesser 2^64 fresh starts.
IPV6_PREFIX = 64


@dataclass(frozen=True)
class ThrottlePolicy:
    max_failures: int
    delay: timedelta
    longest: timedelta

    @classmethod
    def from_settings(cls, settings: Settings) -> ThrottlePolicy:
        return cls(
            max_failures=settings.login_max_failures,
            delay=timedelta(seconds=settings.login_delay_seconds),
            longest=timedelta(seconds=settings.login_lockout_seconds),
        )

    def wait_after(self, failures: int) -> timedelta | None:
        """How long the pair must wait after its `failures`-th failure, if at all."""
        if failures < self.max_failures:
            return None
        doublings = min(failures - self.max_failures, 32)
        wait: timedelta = self.delay * (1 << doublings)
        return min(self.longest, wait)


@dataclass(frozen=True)
class ThrottleKey:
    username_key: str
    address_key: str

    @classmethod
    def of(cls, *, username: str, address: str) -> ThrottleKey:
        return cls(hashed("username", username), hashed("address", network_of(address)))


def network_of(address: str) -> str:
    """The part of a client address one party holds: an IPv4 address, an IPv6 /64."""
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return address
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return str(ip.ipv4_mapped)
        return str(ipaddress.ip_network(f"{ip}/{IPV6_PREFIX}", strict=False))
    return str(ip)


@dataclass(frozen=True)
class Attempt:
    """A charged attempt: if its password turns out wrong, how the refusal reads."""

    blocked_until: datetime | None

    def refusal(self) -> InvalidCredentials | AccountLocked:
        if self.blocked_until is None:
            return InvalidCredentials()
        return locked(self.blocked_until)


def locked(until: datetime) -> AccountLocked:
    seconds = max(1, math.ceil((until - clock.now()).total_seconds()))
    return AccountLocked(
        f"Too many failed logins from this address; try again in {seconds} seconds",
        headers={"Retry-After": str(seconds)},
    )


async def charge(session: AsyncSession, *, key: ThrottleKey, policy: ThrottlePolicy) -> Attempt:
    """Count one attempt of `key` as failed until a success clears it; `AccountLocked`
    if the pair must still wait (that refusal is not counted: it checked nothing)."""
    now = clock.now()
    row = await repository.login_throttle_for_update(session, key.username_key, key.address_key)
    if row.blocked_until is not None and row.blocked_until > now:
        raise locked(row.blocked_until)
    if row.last_failure_at < now - FORGET_AFTER:
        row.failures = 0
    row.failures += 1
    row.last_failure_at = now
    wait = policy.wait_after(row.failures)
    row.blocked_until = None if wait is None else now + wait
    await session.flush()
    return Attempt(blocked_until=row.blocked_until)


async def clear(session: AsyncSession, *, key: ThrottleKey) -> None:
    """Forget the pair's failures: its password was right."""
    await repository.delete_login_throttle(session, key.username_key, key.address_key)
