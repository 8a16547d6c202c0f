"""Webhook targets and signatures: which URLs may receive alerts, where exactly a
delivery connects, and how a body is signed.

By default a target must be an ``http``/``https`` URL whose host resolves only to
global addresses (``ipaddress``'s ``is_global``, and not multicast): loopback,
private (RFC 1918, unique-local), shared (100.64.0.0/10, where some clouds keep
metadata services), link-local, documentation, reserved and unspecified
addresses are refused, and so is an IPv6 address that embeds a non-global IPv4
one (IPv4-mapped, IPv4-compatible, 6to4, NAT64): an admin key cannot point the
service at its own network. ``TRADEWINDS_WEBHOOK_ALLOW_PRIVATE=1`` lifts the
address check (tests, or a receiver on an internal network). The check runs
when an alert is defined and again before every attempt (a name may resolve
differently later).

Each attempt resolves the host once (``resolve``), checks every address, and
connects to those checked addresses (in order, the next one if a connection
cannot be made): a second resolution between check and connect would let a
name that rebinds to an internal address slip through. The request carries the
URL's own ``Host`` header and, for https, its host name as the TLS server name
(httpcore's ``sni_hostname`` extension), so the certificate is verified against
the name in the URL, not the address.
"""

import hashlib
import hmac
import ipaddress
import socket
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from urllib.parse import urlsplit

import httpx

SIGNATURE_HEADER = "Tradewinds-Signature"
DELIVERY_HEADER = "Tradewinds-Delivery"
MAX_ADDRESSES = 4  # tried per attempt: each may cost a connect timeout
_DEFAULT_PORTS = {"http": 80, "https": 443}
# IPv6 ranges whose last 32 bits are an IPv4 address the packet may end up at.
_EMBEDS_IPV4_LOW = (
    ipaddress.IPv6Network("::/96"),  # IPv4-compatible (deprecated)
    ipaddress.IPv6Network("64:ff9b::/96"),  # NAT64, well-known prefix
    ipaddress.IPv6Network("64:ff9b:1::/48"),  # NAT64, local use
)

Address = ipaddress.IPv4Address | ipaddress.IPv6Address


class RefusedTarget(ValueError):
    """A webhook URL the service will not send to (the message says why)."""


def signature(body: bytes, secret: str) -> str:
    """The ``Tradewinds-Signature`` header value: ``sha256=<hex HMAC-SHA256(body)>``."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def system_resolve(host: str, port: int) -> list[str]:
    """The addresses ``host`` resolves to, in the resolver's order, without repeats."""
    found = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, proto=socket.IPPROTO_TCP)
    return list(dict.fromkeys(str(info[4][0]) for info in found))


# The one place a webhook host is resolved (a seam: tests give it a name that rebinds).
resolve: Callable[[str, int], list[str]] = system_resolve


def _embedded_ipv4(ip: ipaddress.IPv6Address) -> list[ipaddress.IPv4Address]:
    found = [a for a in (ip.ipv4_mapped, ip.sixtofour) if a is not None]
    found.extend(ip.teredo or ())
    if any(ip in network for network in _EMBEDS_IPV4_LOW):
        found.append(ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF))
    return found


def is_public(ip: Address) -> bool:
    """Global, not multicast, and (IPv6) embedding no IPv4 address that is not."""
    if isinstance(ip, ipaddress.IPv6Address):
        embedded = _embedded_ipv4(ip)
        if any(not is_public(inner) for inner in embedded):
            return False
        if ip.ipv4_mapped is not None:
            return True  # its IPv4 address decides (is_global of ::ffff:0:0/96 varies)
    return ip.is_global and not ip.is_multicast


@dataclass(frozen=True)
class Target:
    """A webhook URL and the addresses checked for it, to connect to in order."""

    url: httpx.URL
    addresses: tuple[str, ...]

    @property
    def host(self) -> str:
        """The host name (IDNA-encoded) or address literal, without brackets."""
        return self.url.raw_host.decode("ascii")

    @property
    def host_header(self) -> str:
        """What a client connecting by name sends as ``Host``."""
        return self.url.netloc.decode("ascii")

    def url_at(self, address: str) -> httpx.URL:
        """The URL with its host replaced by ``address`` (one it resolved to)."""
        return self.url.copy_with(host=address.split("%", 1)[0])


def _parse(url: str) -> httpx.URL:
    try:
        parts = urlsplit(url)
        _ = parts.port  # a port that is not a number in range raises ValueError
        parsed = httpx.URL(url)
    except (ValueError, httpx.InvalidURL) as e:
        msg = f"not a URL: {e}"
        raise RefusedTarget(msg) from None
    if parts.scheme not in _DEFAULT_PORTS:
        msg = "must be an http or https URL"
        raise RefusedTarget(msg)
    if not parts.hostname or not parsed.raw_host:
        msg = "has no host"
        raise RefusedTarget(msg)
    return parsed


def resolve_target(url: str, *, allow_private: bool) -> Target:
    """The target with the addresses to connect to: ``RefusedTarget`` unless ``url`` is
    http(s) with a host that resolves, and (unless ``allow_private``) every address it
    resolves to is public. Resolves once; blocks on DNS."""
    parsed = _parse(url)
    host = parsed.raw_host.decode("ascii")
    try:
        addresses = resolve(host, parsed.port or _DEFAULT_PORTS[parsed.scheme])
    except (OSError, UnicodeError):
        msg = f"host {host!r} cannot be resolved"
        raise RefusedTarget(msg) from None
    if not addresses:
        msg = f"host {host!r} resolves to no address"
        raise RefusedTarget(msg)
    if not allow_private:
        refused = [a for a in addresses if not is_public(ipaddress.ip_address(a.split("%")[0]))]
        if refused:
            msg = (
                f"host {host!r} resolves to an address that is not public "
                f"({', '.join(refused)}); see TRADEWINDS_WEBHOOK_ALLOW_PRIVATE"
            )
            raise RefusedTarget(msg)
    return Target(parsed, tuple(addresses[:MAX_ADDRESSES]))


def check_target(url: str, *, allow_private: bool) -> None:
    """``RefusedTarget`` unless ``url`` may be an alert's target (see ``resolve_target``);
    with ``allow_private`` only the URL's form is checked (the host may resolve later)."""
    if allow_private:
        _parse(url)
    else:
        resolve_target(url, allow_private=False)


def post_to_target(
    client: httpx.Client, target: Target, content: bytes, headers: Mapping[str, str]
) -> httpx.Response:
    """POST to the target's checked addresses in turn until one accepts a connection.

    Only a failure to connect moves on (nothing was sent); any other error is raised.
    """
    extensions = {"sni_hostname": target.host} if target.url.scheme == "https" else {}
    *others, last = target.addresses
    for address in others:
        try:
            return _post_to(client, target, address, content, headers, extensions)
        except (httpx.ConnectError, httpx.ConnectTimeout):
            continue
    return _post_to(client, target, last, content, headers, extensions)


def _post_to(
    client: httpx.Client,
    target: Target,
    address: str,
    content: bytes,
    headers: Mapping[str, str],
    extensions: dict[str, str],
) -> httpx.Response:
    return client.post(
        target.url_at(address),
        content=content,
        headers={**headers, "Host": target.host_header},
        extensions=extensions,
    )
