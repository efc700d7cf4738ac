"""Where a webhook may be sent: refusing URLs that would reach inside our network.

A receiver is a public HTTPS URL. In production (`environment=prod`) a URL whose host
is, or resolves to, a loopback, private, link-local (cloud metadata's 169.254.x.x),
multicast, reserved or unspecified address is refused, and so is plain `http`; dev and
test allow both, so that a receiver on this machine can be used. The check runs when
the endpoint is saved (a name that does not resolve yet is accepted) and again before
every attempt, on the addresses the name resolves to then; redirects are never followed.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from urllib.parse import urlsplit

from app.core.config import Settings

_LOCAL_NAMES = ("localhost", "localhost.localdomain")


class AddressRefused(Exception):
    """The URL may not be called; the message says why (no secret, no body)."""


def _inside(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return (
        address.is_loopback
        or address.is_private
        or address.is_link_local
        or address.is_multicast
        or address.is_reserved
        or address.is_unspecified
        or not address.is_global
    )


def allows_inside(settings: Settings) -> bool:
    return settings.environment in ("dev", "test")


def check_url(url: str, settings: Settings) -> str:
    """The URL as stored, or `AddressRefused`: the form alone (scheme, host, no
    credentials), and a literal address or local name in production."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise AddressRefused("The URL cannot be parsed") from exc
    if parts.scheme not in ("https", "http") or not parts.hostname:
        raise AddressRefused("The URL must be http(s) with a host")
    if parts.username is not None or parts.password is not None:
        raise AddressRefused("The URL may not carry credentials")
    if port == 0:
        raise AddressRefused("The URL's port is not valid")
    if allows_inside(settings):
        return url
    if parts.scheme != "https":
        raise AddressRefused("Webhook URLs must be https")
    host = parts.hostname.rstrip(".").lower()
    if host in _LOCAL_NAMES or host.endswith(".localhost"):
        raise AddressRefused("The URL names this machine")
    try:
        literal = ipaddress.ip_address(host)
    except ValueError:
        return url
    if _inside(literal):
        raise AddressRefused("The URL's address is not a public one")
    return url


async def check_before_sending(url: str, settings: Settings) -> None:
    """Refuses, in production, a host that now resolves to an address inside."""
    check_url(url, settings)
    if allows_inside(settings):
        return
    parts = urlsplit(url)
    host = parts.hostname or ""
    try:
        infos = await asyncio.get_running_loop().getaddrinfo(
            host, parts.port or 443, type=socket.SOCK_STREAM
        )
    except OSError as exc:
        raise AddressRefused("The URL's host does not resolve") from exc
    for info in infos:
        address = ipaddress.ip_address(info[4][0])
        if _inside(address):
            raise AddressRefused("The URL's host resolves to an address that is not public")
