"""Outbound HTTP to the public internet only: the one client every outbound request goes
through (webhooks, and the Stripe gateway through ``subscriptions.stripe_billing.client``).

- https only; plain http only with ``TACK_OUTBOUND_ALLOW_HTTP`` (development).
- The host is resolved once; every address it resolves to must be public: loopback,
  private, link-local, shared (CGNAT), multicast, reserved and unspecified addresses are
  refused, in IPv4 and IPv6 alike, including IPv4-mapped, 6to4 and NAT64 forms of them.
- The connection goes to the address that was checked (no second lookup, so a name cannot
  resolve to a public address for the check and to 127.0.0.1 for the request), with the
  name in the TLS SNI and the Host header.
- Redirects are not followed.
- ``TACK_OUTBOUND_ALLOWED_ADDRESSES`` lists addresses (or networks) let through although
  not public: the test suite's receivers on 127.0.0.1. Empty by default.

Errors are short and generic (``OutboundError.reason``): never the body of a reply, nor the
text of a socket error, so the delivery log cannot be used to read or map an internal network.
"""

import http.client
import ipaddress
import socket
import ssl
from dataclasses import dataclass
from urllib.parse import urlsplit

from django.conf import settings
from django.core.exceptions import ValidationError

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

_NAT64 = ipaddress.ip_network("64:ff9b::/96")
_NAT64_LOCAL = ipaddress.ip_network("64:ff9b:1::/48")
_SHARED = ipaddress.ip_network("100.64.0.0/10")  # CGNAT: not "private" in ipaddress' eyes


class OutboundRefused(Exception):
    """The URL is not one Tack may send to; ``reason`` is safe to show and to store."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


class OutboundError(Exception):
    """The request was sent (or tried) and failed; ``reason`` is short and generic."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class Target:
    scheme: str
    host: str
    port: int
    path: str
    address: str


@dataclass(frozen=True)
class Response:
    status: int
    body: bytes = b""
    headers: dict[str, str] | None = None


def _allowed_networks() -> list:
    return [
        ipaddress.ip_network(entry, strict=False)
        for entry in settings.TACK_OUTBOUND_ALLOWED_ADDRESSES
    ]


def _embedded(address: IPAddress) -> list[IPAddress]:
    """The IPv4 addresses an IPv6 address carries (mapped, 6to4, NAT64, Teredo)."""
    if address.version != 6:
        return []
    found = []
    if address.ipv4_mapped:
        found.append(address.ipv4_mapped)
    if address.sixtofour:
        found.append(address.sixtofour)
    if address.teredo:
        found.extend(address.teredo)
    if address in _NAT64 or address in _NAT64_LOCAL:
        found.append(ipaddress.IPv4Address(int(address) & 0xFFFFFFFF))
    return found


def is_public(address: IPAddress) -> bool:
    """Whether ``address`` (and any IPv4 address inside it) is a public unicast address."""
    for candidate in [address, *_embedded(address)]:
        if (
            not candidate.is_global
            or candidate.is_multicast
            or candidate.is_loopback
            or candidate.is_link_local
            or candidate.is_private
            or candidate.is_reserved
            or candidate.is_unspecified
            or (candidate.version == 4 and candidate in _SHARED)
        ):
            return False
    return True


def _permitted(address: IPAddress) -> bool:
    return is_public(address) or any(address in network for network in _allowed_networks())


def _parse(url: str) -> tuple[str, str, int, str]:
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise OutboundRefused("not a valid URL") from exc
    scheme = parts.scheme.lower()
    if scheme == "http" and not settings.TACK_OUTBOUND_ALLOW_HTTP:
        raise OutboundRefused("only https URLs are allowed")
    if scheme not in ("https", "http"):
        raise OutboundRefused("only https URLs are allowed")
    if parts.username is not None or parts.password is not None:
        raise OutboundRefused("credentials in the URL are not allowed")
    host = (parts.hostname or "").rstrip(".")
    if not host:
        raise OutboundRefused("the URL has no host")
    path = parts.path or "/"
    if parts.query:
        path += f"?{parts.query}"
    return scheme, host, port or (443 if scheme == "https" else 80), path


def _resolve(host: str, port: int) -> list[IPAddress]:
    try:
        return [ipaddress.ip_address(host)]
    except ValueError:
        pass
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError) as exc:
        raise OutboundRefused("the host name does not resolve") from exc
    # Scope ids ("fe80::1%eth0") are dropped: such an address is link-local and refused anyway.
    return [ipaddress.ip_address(info[4][0].split("%", 1)[0]) for info in infos]


def check_url(url: str) -> Target:
    """Parse ``url``, resolve its host once and check every address; the target to connect to.

    Raises ``OutboundRefused`` when the URL may not be used.
    """
    scheme, host, port, path = _parse(url)
    addresses = _resolve(host, port)
    if not addresses:
        raise OutboundRefused("the host name does not resolve")
    # Every address must pass, not just the first: the resolver's order is not ours.
    if not all(_permitted(address) for address in addresses):
        raise OutboundRefused("the address is not on the public internet")
    return Target(scheme, host, port, path, str(addresses[0]))


def validate_public_url(url: str) -> None:
    """A model/form validator: the same check as at delivery time."""
    try:
        check_url(url)
    except OutboundRefused as exc:
        raise ValidationError(f"Tack does not send to this URL: {exc.reason}.") from exc


class _PinnedHTTPConnection(http.client.HTTPConnection):
    def __init__(self, host, port, *, address, timeout):
        super().__init__(host, port, timeout=timeout)
        self._address = address

    def connect(self):
        self.sock = socket.create_connection((self._address, self.port), self.timeout)


class _PinnedHTTPSConnection(http.client.HTTPSConnection):
    def __init__(self, host, port, *, address, timeout):
        super().__init__(host, port, timeout=timeout, context=ssl.create_default_context())
        self._address = address

    def connect(self):
        sock = socket.create_connection((self._address, self.port), self.timeout)
        self.sock = self._context.wrap_socket(sock, server_hostname=self.host)


def request(
    method: str,
    url: str,
    *,
    body: bytes | None = None,
    headers: dict[str, str],
    timeout: float,
    read_limit: int = 1024,
) -> Response:
    """Send one request to ``url`` after ``check_url``: the reply's status, at most
    ``read_limit`` bytes of its body (the rest is dropped) and its headers (names in lower
    case). Raises ``OutboundRefused`` or ``OutboundError``."""
    target = check_url(url)
    connection_class = _PinnedHTTPSConnection if target.scheme == "https" else _PinnedHTTPConnection
    connection = connection_class(target.host, target.port, address=target.address, timeout=timeout)
    try:
        connection.request(method.upper(), target.path, body=body, headers=headers)
        response = connection.getresponse()
        content = response.read(read_limit)
        return Response(
            response.status, content, {name.lower(): value for name, value in response.getheaders()}
        )
    except TimeoutError as exc:
        raise OutboundError("timed out") from exc
    except ConnectionRefusedError as exc:
        raise OutboundError("connection refused") from exc
    except ssl.SSLError as exc:
        raise OutboundError("TLS handshake failed") from exc
    except (OSError, http.client.HTTPException) as exc:
        raise OutboundError("connection failed") from exc
    finally:
        connection.close()


def post(url: str, *, body: bytes, headers: dict[str, str], timeout: float) -> Response:
    """POST ``body`` to ``url``: ``request`` keeping only the reply's status and a little of
    its body (a webhook receiver's answer is not Tack's to read)."""
    return request("POST", url, body=body, headers=headers, timeout=timeout)
