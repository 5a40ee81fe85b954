"""The Stripe-compatible server of the billing tests: localstripe, extended by
tests/stripe_server.py, started once per test process on a free port."""

import json
import subprocess
import sys
import urllib.request
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import pytest
import stripe

from core.outbox import billing as billing_outbox
from subscriptions import billing
from subscriptions.actors import Actor
from subscriptions.models import Plan, Subscription
from subscriptions.services import customer_upsert, subscription_start
from subscriptions.stripe_billing.client import _client
from tests.conftest import free_port
from tests.helpers import wait_until

ROOT = Path(__file__).resolve().parents[2]
SECRET_KEY = "sk_test_tack"
GATEWAY = "subscriptions.stripe_billing.gateway.StripeGateway"


@dataclass
class StripeServer:
    url: str
    process: subprocess.Popen | None = None

    def client(self) -> stripe.StripeClient:
        return stripe.StripeClient(
            SECRET_KEY, base_addresses={"api": self.url}, max_network_retries=0
        )

    def post(self, path: str, data: dict) -> dict:
        request = urllib.request.Request(
            self.url + path,
            data=json.dumps(data).encode(),
            headers={"Content-Type": "application/json"},
            method="POST",
        )
        with urllib.request.urlopen(request, timeout=120) as response:
            return json.loads(response.read())

    def get(self, path: str) -> dict:
        with urllib.request.urlopen(self.url + path, timeout=30) as response:
            return json.loads(response.read())

    def up(self) -> bool:
        try:
            self.get("/_config/tack/requests")
        except OSError:
            return False
        return True

    def start(self) -> None:
        port = int(self.url.rsplit(":", 1)[1])
        self.process = subprocess.Popen(
            [sys.executable, "-m", "tests.stripe_server", "--port", str(port)],
            cwd=ROOT,
            stdout=subprocess.DEVNULL,
        )
        try:
            wait_until(self.up, timeout=30)
        except AssertionError:
            self.stop()
            raise

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=10)


@pytest.fixture(scope="session")
def stripe_server():
    server = StripeServer(url=f"http://127.0.0.1:{free_port()}")
    server.start()
    yield server
    server.stop()


@pytest.fixture
def stripe_billing(settings, stripe_server):
    """Tack's billing gateway pointed at the server."""
    settings.TACK_BILLING_GATEWAY = GATEWAY
    settings.STRIPE_SECRET_KEY = SECRET_KEY
    settings.STRIPE_API_BASE = stripe_server.url
    settings.STRIPE_TIMEOUT_SECONDS = 5
    billing._gateway.cache_clear()
    billing_outbox._gateway.cache_clear()
    _client.cache_clear()
    yield stripe_server
    billing._gateway.cache_clear()
    billing_outbox._gateway.cache_clear()


@dataclass
class StripeBook:
    """One product with two monthly prices in Stripe and the same as Tack plans."""

    server: StripeServer
    basic: Plan
    small: Plan


@pytest.fixture
def stripe_book(stripe_billing) -> StripeBook:
    v1 = stripe_billing.client().v1
    product = v1.products.create({"name": "Tidningen"})

    def plan(amount: int, rank: int) -> Plan:
        price = v1.prices.create(
            {
                "product": product.id,
                "unit_amount": amount,
                "currency": "sek",
                "recurring": {"interval": "month"},
            }
        )
        return Plan.objects.create(
            code=price.id, name=price.id, monthly_price=amount / 100, currency="SEK", rank=rank
        )

    return StripeBook(server=stripe_billing, basic=plan(19900, 2), small=plan(9900, 1))


def stripe_subscription(server: StripeServer, plan: Plan) -> Subscription:
    """A paying customer's subscription, in Stripe and (by the same ids) in Tack."""
    v1 = server.client().v1
    customer = v1.customers.create({"email": "astrid@example.com", "name": "Astrid"})
    method = v1.payment_methods.create(
        {
            "type": "card",
            "card": {"number": "4242424242424242", "exp_month": 12, "exp_year": 2035, "cvc": "123"},
        }
    )
    v1.payment_methods.attach(method.id, {"customer": customer.id})
    v1.customers.update(customer.id, {"invoice_settings": {"default_payment_method": method.id}})
    remote = v1.subscriptions.create({"customer": customer.id, "items": [{"price": plan.code}]})
    actor = Actor.system("test")
    local, _, _ = customer_upsert(
        external_id=customer.id,
        data={"name": "Astrid", "email": "astrid@example.com", "customer_since": date(2020, 1, 1)},
        actor=actor,
    )
    return subscription_start(external_id=remote.id, customer=local, plan=plan, actor=actor)


def remote(server: StripeServer, subscription: Subscription):
    return server.client().v1.subscriptions.retrieve(subscription.external_id)
