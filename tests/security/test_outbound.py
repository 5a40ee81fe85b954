"""Outbound requests go to the public internet only: a manager's webhook URL cannot reach
Tack's own machine or network, neither when saved nor when delivered, and the delivery log
never shows what an error reply said.

A listener on 127.0.0.1 stands in for an internal service (Redis, PostgreSQL, a cloud's
metadata address): with the test suite's allow-list switched off it must never see a request.
"""

import ipaddress
import socket

import pytest

from core import outbound, webhooks
from core.admin import WebhookEndpointForm
from core.models import WebhookAttempt, WebhookDelivery, WebhookEndpoint
from core.outbox import webhooks as webhook_outbox
from tests.factories import make_endpoint

pytestmark = pytest.mark.django_db

PAUSED = "subscription.paused"
REAL_GETADDRINFO = socket.getaddrinfo


@pytest.fixture
def guarded(settings):
    """Production's outbound rules: no allow-list, http still allowed so that every refusal
    below is about the address, not the scheme (the scheme has its own cases)."""
    settings.TACK_OUTBOUND_ALLOWED_ADDRESSES = []
    settings.TACK_OUTBOUND_ALLOW_HTTP = True
    return settings


@pytest.fixture
def fake_dns(monkeypatch):
    """Names under .example resolve to the addresses given (the world's DNS is out of reach)."""
    answers: dict[str, list[str]] = {}
    lookups: list[str] = []

    def getaddrinfo(host, port, *args, **kwargs):
        if host in answers:
            lookups.append(host)
            return [
                (
                    socket.AF_INET6 if ":" in address else socket.AF_INET,
                    socket.SOCK_STREAM,
                    6,
                    "",
                    (address, port),
                )
                for address in answers[host]
            ]
        return REAL_GETADDRINFO(host, port, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    return answers, lookups


def refused_urls(port: int) -> list[str]:
    return [
        f"http://127.0.0.1:{port}/hooks",
        f"http://localhost:{port}/hooks",
        f"http://0.0.0.0:{port}/hooks",
        f"http://[::1]:{port}/hooks",
        f"http://[::ffff:127.0.0.1]:{port}/hooks",
        f"http://[::ffff:7f00:1]:{port}/hooks",
        f"http://[64:ff9b::7f00:1]:{port}/hooks",  # NAT64 form of 127.0.0.1
        f"http://[2002:7f00:1::]:{port}/hooks",  # 6to4 form of 127.0.0.1
        f"http://2130706433:{port}/hooks",  # 127.0.0.1 as one decimal number
        f"http://loopback.example:{port}/hooks",  # a name that resolves to 127.0.0.1
        f"http://mixed.example:{port}/hooks",  # one public and one loopback address
        "http://10.1.2.3/hooks",
        "http://172.16.0.1/hooks",
        "http://192.168.1.1/hooks",
        "http://100.64.0.1/hooks",
        "http://169.254.169.254/latest/meta-data/",
        "http://[fe80::1]/hooks",
        "http://[fc00::1]/hooks",
        "http://224.0.0.1/hooks",
        "http://240.0.0.1/hooks",
        f"ftp://127.0.0.1:{port}/hooks",
        "ftp://93.184.216.34/hooks",
        "https://user:pass@93.184.216.34/hooks",
    ]


def test_every_refused_url_is_refused_on_save_and_at_delivery_and_nothing_is_sent(
    guarded, fake_dns, webhook_receiver
):
    answers, _ = fake_dns
    answers["loopback.example"] = ["127.0.0.1"]
    answers["mixed.example"] = ["93.184.216.34", "127.0.0.1"]
    port = webhook_receiver.server.server_port
    saved, delivered = [], []

    for url in refused_urls(port):
        form = WebhookEndpointForm(
            data={"name": "probe", "url": url, "event_types": [PAUSED], "active": "on"}
        )
        if form.is_valid():
            saved.append(url)
        # A row written before the rule existed (or straight into the database) is refused
        # again when it is delivered.
        endpoint = make_endpoint(url=url, event_types=[PAUSED])
        webhooks.webhook_publish(event_type=PAUSED, scope="subscription:1", data={})
        delivery = WebhookDelivery.objects.get(endpoint=endpoint)
        webhook_outbox.webhook_deliver(delivery_id=delivery.pk)
        WebhookEndpoint.objects.filter(pk=endpoint.pk).update(active=False)
        attempt = WebhookAttempt.objects.get(delivery=delivery)
        if attempt.status_code is not None or not attempt.error.startswith("Refused: "):
            delivered.append((url, attempt.status_code, attempt.error))

    assert saved == []
    assert delivered == []
    assert webhook_receiver.requests == []


def test_plain_http_is_refused_without_the_development_setting(settings, webhook_receiver):
    settings.TACK_OUTBOUND_ALLOW_HTTP = False  # the allow-list still names 127.0.0.1
    form = WebhookEndpointForm(
        data={"name": "b", "url": webhook_receiver.url, "event_types": [PAUSED], "active": "on"}
    )
    make_endpoint(url=webhook_receiver.url, event_types=[PAUSED])
    webhooks.webhook_publish(event_type=PAUSED, scope="subscription:1", data={})

    webhook_outbox.webhook_deliver(delivery_id=WebhookDelivery.objects.get().pk)

    assert form.errors["url"] == ["Tack does not send to this URL: only https URLs are allowed."]
    assert WebhookAttempt.objects.get().error == "Refused: only https URLs are allowed"
    assert webhook_receiver.requests == []


def test_the_name_is_resolved_once_and_the_checked_address_is_the_one_connected_to(
    fake_dns, webhook_receiver
):
    answers, lookups = fake_dns
    answers["billing.example"] = ["127.0.0.1"]  # on the test allow-list
    port = webhook_receiver.server.server_port
    make_endpoint(url=f"http://billing.example:{port}/hooks", event_types=[PAUSED])
    webhooks.webhook_publish(event_type=PAUSED, scope="subscription:1", data={})

    assert (
        webhook_outbox.webhook_deliver(delivery_id=WebhookDelivery.objects.get().pk) == "delivered"
    )

    assert lookups == ["billing.example"]
    [request] = webhook_receiver.requests
    assert request.headers["Host"] == f"billing.example:{port}"


def test_the_delivery_log_keeps_the_status_not_the_body_of_an_error_reply(webhook_receiver):
    make_endpoint(url=webhook_receiver.url, event_types=[PAUSED])
    webhook_receiver.answer((500, 0))  # the receiver answers "ok" as its body
    webhooks.webhook_publish(event_type=PAUSED, scope="subscription:1", data={})
    delivery = WebhookDelivery.objects.get()

    webhook_outbox.webhook_deliver(delivery_id=delivery.pk)

    delivery.refresh_from_db()
    assert (delivery.last_status_code, delivery.last_error) == (500, "HTTP 500")
    assert WebhookAttempt.objects.get().error == "HTTP 500"


def test_a_closed_port_gives_a_generic_reason(settings):
    from tests.conftest import free_port

    make_endpoint(url=f"http://127.0.0.1:{free_port()}/x", event_types=[PAUSED])
    webhooks.webhook_publish(event_type=PAUSED, scope="subscription:1", data={})

    webhook_outbox.webhook_deliver(delivery_id=WebhookDelivery.objects.get().pk)

    assert WebhookAttempt.objects.get().error == "No answer: connection refused"


@pytest.mark.parametrize(
    "address, public",
    [
        ("93.184.216.34", True),
        ("2606:2800:220:1:248:1893:25c8:1946", True),
        ("127.0.0.1", False),
        ("127.8.8.8", False),
        ("0.0.0.0", False),  # noqa: S104 - a refused address, not a bind
        ("10.0.0.1", False),
        ("172.31.255.255", False),
        ("192.168.0.1", False),
        ("100.64.0.1", False),
        ("169.254.169.254", False),
        ("224.0.0.251", False),
        ("255.255.255.255", False),
        ("240.0.0.1", False),
        ("::", False),
        ("::1", False),
        ("::ffff:10.0.0.1", False),
        ("::ffff:93.184.216.34", False),  # mapped forms are refused outright
        ("64:ff9b::a00:1", False),
        ("2002:a00:1::", False),
        ("fe80::1", False),
        ("fd00::1", False),
        ("ff02::1", False),
        ("2001:db8::1", False),
    ],
)
def test_is_public(address, public):
    assert outbound.is_public(ipaddress.ip_address(address)) is public
