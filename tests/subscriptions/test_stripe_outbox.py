"""Exactly once in Stripe: 20 decisions made while Stripe is unreachable, then failing
with 500s, then back, and a worker that stopped before it recorded Stripe's answer — every
command is carried out once (the outbox resends with the same Idempotency-Key)."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from core.enums import BillingCommandStatus as Status
from core.models import BillingCommand
from core.outbox.billing import billing_command_retry, billing_sweep
from subscriptions import services
from subscriptions.actors import Actor
from subscriptions.stripe_billing.client import _client
from tests.conftest import free_port
from tests.subscriptions.conftest import remote, stripe_subscription

pytestmark = pytest.mark.django_db
AGENT = Actor.system("agent")


def sweep(capture, *, at):
    with capture(execute=True):
        return billing_sweep(now=at)


def test_stripe_down_during_20_decisions_then_back_applies_each_once(
    stripe_book, settings, django_capture_on_commit_callbacks
):
    server = stripe_book.server
    subscriptions = [stripe_subscription(server, stripe_book.basic) for _ in range(10)]
    settings.TACK_BILLING_RETRY_BASE_SECONDS = 0  # due again at once: the test sweeps by hand
    settings.STRIPE_API_BASE = f"http://127.0.0.1:{free_port()}"  # nobody listens there
    _client.cache_clear()
    until = timezone.now().replace(microsecond=0) + timedelta(days=40)

    with django_capture_on_commit_callbacks(execute=True):
        for number, subscription in enumerate(subscriptions, start=1):
            services.subscription_grant_credit(
                subscription=subscription, amount=Decimal(number), actor=AGENT
            )
            services.subscription_pause(subscription=subscription, until=until, actor=AGENT)
    later = timezone.now() + timedelta(minutes=1)
    sweep(django_capture_on_commit_callbacks, at=later)  # still down
    down = list(BillingCommand.objects.values_list("status", flat=True).distinct())

    settings.STRIPE_API_BASE = server.url
    _client.cache_clear()
    server.post("/_config/tack/fail", {"count": 5})  # back, but answering 500 at first
    for _ in range(4):
        sweep(django_capture_on_commit_callbacks, at=timezone.now() + timedelta(minutes=1))
    # Three workers stopped after Stripe acted and before they recorded it.
    lost = list(BillingCommand.objects.order_by("pk").values_list("pk", flat=True)[:3])
    BillingCommand.objects.filter(pk__in=lost).update(
        status=Status.SENDING, claimed_at=timezone.now() - timedelta(hours=1)
    )
    sweep(django_capture_on_commit_callbacks, at=timezone.now() + timedelta(minutes=1))
    sweep(django_capture_on_commit_callbacks, at=timezone.now() + timedelta(minutes=1))

    assert down == [Status.PENDING]
    assert list(BillingCommand.objects.values_list("status", flat=True).distinct()) == [
        Status.APPLIED
    ]
    assert BillingCommand.objects.count() == 20
    v1 = server.client().v1
    for number, subscription in enumerate(subscriptions, start=1):
        customer = subscription.customer.external_id
        entries = v1.customers.balance_transactions.list(customer).data
        assert [entry.amount for entry in entries] == [-100 * number]
        assert remote(server, subscription).pause_collection["resumes_at"] == int(until.timestamp())
    calls = server.get("/_config/tack/requests")
    keys = [c.idempotency_key for c in BillingCommand.objects.filter(pk__in=lost)]
    assert all(calls[key] == 2 for key in keys)  # sent twice, acted on once


def test_a_manager_retry_sends_a_refused_command_again_with_a_new_key(
    stripe_book, django_capture_on_commit_callbacks
):
    subscription = stripe_subscription(stripe_book.server, stripe_book.basic)
    v1 = stripe_book.server.client().v1
    v1.customers.delete(subscription.customer.external_id)  # the credit cannot land
    with django_capture_on_commit_callbacks(execute=True):
        services.subscription_grant_credit(
            subscription=subscription, amount=Decimal("50"), actor=AGENT
        )
    refused = BillingCommand.objects.get()
    v1.customers.create({"email": "x@example.com"})  # (the customer stays gone)

    with django_capture_on_commit_callbacks(execute=True):
        queued = billing_command_retry(command_id=refused.pk)

    again = BillingCommand.objects.get()
    assert (refused.status, refused.error_code) == (Status.REFUSED, "")
    assert "HTTP 404" in refused.last_error
    assert queued is True
    assert (again.status, again.round, again.attempts) == (Status.REFUSED, 1, 1)
    calls = stripe_book.server.get("/_config/tack/requests")
    assert (calls[refused.idempotency_key], calls[again.idempotency_key]) == (1, 1)
