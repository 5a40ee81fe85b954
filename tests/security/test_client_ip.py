"""Limits count the person, not the proxy: behind a trusted proxy the client's address comes
from X-Forwarded-For; from anyone else, a forged header changes nothing."""

import pytest
from django.test import RequestFactory
from django.urls import reverse

from core.client_ip import client_ip
from tests.helpers import address_with_a_fresh_window

pytestmark = pytest.mark.django_db

PROXY = "10.0.0.5"


def request(remote: str, forwarded: str | None = None):
    extra = {"REMOTE_ADDR": remote}
    if forwarded is not None:
        extra["HTTP_X_FORWARDED_FOR"] = forwarded
    return RequestFactory().get("/", **extra)


@pytest.mark.parametrize(
    "trusted, remote, forwarded, expected",
    [
        ([], "203.0.113.9", "198.51.100.1", "203.0.113.9"),  # no proxy: header ignored
        (["10.0.0.0/8"], "203.0.113.9", "198.51.100.1", "203.0.113.9"),  # forged, untrusted
        (["10.0.0.0/8"], PROXY, "198.51.100.1", "198.51.100.1"),
        (["10.0.0.0/8"], PROXY, "6.6.6.6, 198.51.100.1", "198.51.100.1"),  # forged prefix
        (["10.0.0.0/8"], PROXY, "198.51.100.1, 10.0.0.9", "198.51.100.1"),  # two proxies
        (["10.0.0.0/8"], PROXY, "not-an-ip", PROXY),
        (["10.0.0.0/8"], PROXY, "[2001:db8::7]:443", "2001:db8::7"),
        (["1"], PROXY, "6.6.6.6, 198.51.100.1", "198.51.100.1"),
        (["2"], PROXY, "6.6.6.6, 198.51.100.1, 10.0.0.9", "198.51.100.1"),
        (["1"], PROXY, None, PROXY),
    ],
)
def test_client_ip(settings, trusted, remote, forwarded, expected):
    settings.TACK_TRUSTED_PROXIES = trusted
    assert client_ip(request(remote, forwarded)) == expected


def test_a_forged_header_from_an_untrusted_address_does_not_escape_the_rate_limit(
    client, customer_a, settings
):
    settings.RATELIMIT_ENABLE = True
    settings.TACK_TRUSTED_PROXIES = ["10.0.0.0/8"]
    path = reverse("cancellations:entry", args=[customer_a.cancel_token])
    attacker = address_with_a_fresh_window(network=203)  # not a trusted proxy

    statuses = [
        client.get(
            path, REMOTE_ADDR=attacker, HTTP_X_FORWARDED_FOR=f"198.51.100.{n % 250}"
        ).status_code
        for n in range(121)
    ]

    assert statuses[-1] == 429


def test_customers_behind_the_proxy_each_get_their_own_allowance(client, customer_a, settings):
    settings.RATELIMIT_ENABLE = True
    settings.TACK_TRUSTED_PROXIES = ["10.0.0.0/8"]
    path = reverse("cancellations:entry", args=[customer_a.cancel_token])
    first = address_with_a_fresh_window(network=198)

    for _ in range(120):
        client.get(path, REMOTE_ADDR=PROXY, HTTP_X_FORWARDED_FOR=first)
    blocked = client.get(path, REMOTE_ADDR=PROXY, HTTP_X_FORWARDED_FOR=first)
    other = client.get(path, REMOTE_ADDR=PROXY, HTTP_X_FORWARDED_FOR="192.0.2.44")

    assert (blocked.status_code, other.status_code) == (429, 200)


def test_the_login_lockout_counts_the_client_behind_the_proxy(client, manager, settings):
    settings.TACK_TRUSTED_PROXIES = ["10.0.0.0/8"]
    wrong = {"username": "manager", "password": "wrong"}
    for n in range(settings.AXES_FAILURE_LIMIT + 1):
        # An attacker behind the proxy, forging a new address each time in front of it.
        client.post(
            "/admin/login/",
            wrong,
            REMOTE_ADDR=PROXY,
            HTTP_X_FORWARDED_FOR=f"6.6.6.{n}, 203.0.113.66",
        )

    attacker = client.post(
        "/admin/login/", wrong, REMOTE_ADDR=PROXY, HTTP_X_FORWARDED_FOR="203.0.113.66"
    )
    colleague = client.post(
        "/admin/login/",
        {"username": "manager", "password": "correct horse battery staple", "next": "/admin/"},
        REMOTE_ADDR=PROXY,
        HTTP_X_FORWARDED_FOR="192.0.2.10",
    )

    assert attacker.status_code == 429
    assert colleague.status_code == 302  # the manager at another address is not locked out
