"""Webhook targets and signatures: which URLs may receive alerts, and how a body is signed.

By default a target must be an ``http``/``https`` URL whose host resolves only to
public addresses: loopback, private (RFC 1918, unique-local), link-local
(cloud metadata services live there), multicast, reserved and unspecified
addresses are refused, so an admin key cannot point the service at its own
network. ``TRADEWINDS_WEBHOOK_ALLOW_PRIVATE=1`` lifts the address check (tests,
or a receiver on an internal network). The check runs when an alert is defined
and again before every attempt (a name may resolve differently later).
"""

import hashlib
import hmac
import ipaddress
import socket
from urllib.parse import urlsplit

SIGNATURE_HEADER = "Tradewinds-Signature"
DELIVERY_HEADER = "Tradewinds-Delivery"


class RefusedTarget(ValueError):
    """A webhook URL the service will not send to (the message says why)."""


def signature(body: bytes, secret: str) -> str:
    """The ``Tradewinds-Signature`` header value: ``sha256=<hex HMAC-SHA256(body)>``."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def _public(address: str) -> bool:
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return not (
        ip.is_loopback
        or ip.is_private
        or ip.is_link_local
        or ip.is_multicast
        or ip.is_reserved
        or ip.is_unspecified
    )


def check_target(url: str, *, allow_private: bool) -> None:
    """``RefusedTarget`` unless ``url`` is http(s) with a host, and (unless
    ``allow_private``) every address the host resolves to is public. Blocks on DNS."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as e:
        msg = f"not a URL: {e}"
        raise RefusedTarget(msg) from None
    if parts.scheme not in ("http", "https"):
        msg = "must be an http or https URL"
        raise RefusedTarget(msg)
    host = parts.hostname
    if not host:
        msg = "has no host"
        raise RefusedTarget(msg)
    if allow_private:
        return
    try:
        found = socket.getaddrinfo(host, port or 443, proto=socket.IPPROTO_TCP)
    except (OSError, UnicodeError):
        msg = f"host {host!r} cannot be resolved"
        raise RefusedTarget(msg) from None
    addresses = {str(info[4][0]) for info in found}
    refused = sorted(a for a in addresses if not _public(a))
    if refused or not addresses:
        msg = (
            f"host {host!r} resolves to a loopback, private or link-local address "
            f"({', '.join(refused)}); see TRADEWINDS_WEBHOOK_ALLOW_PRIVATE"
        )
        raise RefusedTarget(msg)
