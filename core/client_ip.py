"""The client's address behind Tack's own reverse proxies, for the customer rate limit
(django-ratelimit) and the staff login lockout (django-axes).

``X-Forwarded-For`` is believed only as far as it was written by a trusted proxy:
``TACK_TRUSTED_PROXIES`` is either a number of proxies in front of Tack (each appends the
address it saw), or a list of addresses/networks of those proxies. Walking the header from
the right, every hop a trusted proxy reported is accepted; the first address not vouched for
is the client. With no trusted proxies (the default) the header is ignored and the client is
``REMOTE_ADDR``, so a forged header changes nothing.
"""

import ipaddress
from functools import lru_cache

from django.conf import settings


@lru_cache(maxsize=8)
def _parse(trusted: tuple[str, ...]) -> int | list:
    if len(trusted) == 1 and trusted[0].isdigit():
        return int(trusted[0])
    return [ipaddress.ip_network(entry, strict=False) for entry in trusted]


def _address(value: str):
    value = value.strip()
    if value.startswith("["):  # [2001:db8::1]:443
        value = value[1:].split("]", 1)[0]
    elif value.count(":") == 1:  # 203.0.113.9:51000
        value = value.split(":", 1)[0]
    try:
        return ipaddress.ip_address(value)
    except ValueError:
        return None


def client_ip(request) -> str:
    remote = request.META.get("REMOTE_ADDR", "")
    trusted = _parse(tuple(str(entry) for entry in settings.TACK_TRUSTED_PROXIES))
    if not trusted:
        return remote
    header = request.META.get("HTTP_X_FORWARDED_FOR", "")
    forwarded = [entry for entry in header.split(",") if entry.strip()]
    if isinstance(trusted, int):
        # Each of the ``trusted`` proxies appended one entry; what came before is the client's.
        # (This trusts that nobody reaches Tack but through them: prefer networks.)
        chain = [*forwarded, remote]
        candidate = chain[max(len(chain) - 1 - trusted, 0)]
        address = _address(candidate)
        return str(address) if address is not None else remote
    current = _address(remote)
    for entry in reversed(forwarded):
        if current is None or not any(current in network for network in trusted):
            break
        previous = _address(entry)
        if previous is None:
            break
        current = previous
    return str(current) if current is not None else remote
