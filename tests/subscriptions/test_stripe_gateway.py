"""Each decision Tack makes leaves the right state in a Stripe-compatible server
(localstripe, extended by tests/stripe_server.py), sent by the outbox after commit."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from core.enums import BillingCommandStatus as Status
from core.enums import WebhookEventType
from core.models import BillingCommand, WebhookDelivery
from subscriptions import services
from subscriptions.actors import Actor
from subscriptions.enums import EventKind
from tests.factories import make_endpoint
from tests.subscriptions.conftest import remote, stripe_subscription

pytestmark = pytest.mark.django_db
AGENT = Actor.system("agent")
FAILED = WebhookEventType.BILLING_COMMAND_FAILED


@pytest.fixture
def decide(django_capture_on_commit_callbacks):
    """Make one decision and let its billing command go out after commit."""

    def run(change, **kwargs):
        with django_capture_on_commit_callbacks(execute=True):
            return change(actor=AGENT, **kwargs)

    return run


@pytest.fixture
def subscription(stripe_book):
    return stripe_subscription(stripe_book.server, stripe_book.basic)


def commands():
    return list(BillingCommand.objects.order_by("pk").values_list("kind", "status", "last_error"))


def test_pause_sets_pause_collection_and_resume_clears_it(stripe_book, subscription, decide):
    until = timezone.now().replace(microsecond=0) + timedelta(days=60)

    decide(services.subscription_pause, subscription=subscription, until=until)
    paused = remote(stripe_book.server, subscription).pause_collection.to_dict()
    decide(services.subscription_resume, subscription=subscription)

    assert paused == {"behavior": "void", "resumes_at": int(until.timestamp())}
    assert remote(stripe_book.server, subscription).pause_collection is None
    assert commands() == [
        (EventKind.PAUSED, Status.APPLIED, ""),
        (EventKind.RESUMED, Status.APPLIED, ""),
    ]


def test_plan_change_swaps_the_price_with_the_configured_proration(
    stripe_book, subscription, decide, settings
):
    settings.STRIPE_PRORATION_BEHAVIOR = "none"

    decide(services.subscription_change_plan, subscription=subscription, plan=stripe_book.small)

    state = remote(stripe_book.server, subscription)
    assert state["items"].data[0].price.id == stripe_book.small.code
    assert state.proration_behavior == "none"


def test_discounts_share_one_coupon_per_percent_and_length(stripe_book, subscription, decide):
    other = stripe_subscription(stripe_book.server, stripe_book.basic)

    decide(services.subscription_grant_discount, subscription=subscription, percent=25, months=3)
    decide(services.subscription_grant_discount, subscription=other, percent=25, months=3)

    coupons = stripe_book.server.client().v1.coupons.list({"limit": 100}).data
    assert [(c.id, c.percent_off, c.duration, c.duration_in_months) for c in coupons] == [
        ("tack-25pct-3m", 25.0, "repeating", 3)
    ]
    for sub in (subscription, other):
        discounts = remote(stripe_book.server, sub).discounts
        assert [d.coupon.id for d in discounts] == ["tack-25pct-3m"]


def test_loyalty_credit_is_a_customer_balance_transaction(stripe_book, subscription, decide):
    decide(services.subscription_grant_credit, subscription=subscription, amount=Decimal("199.00"))

    v1 = stripe_book.server.client().v1
    customer = subscription.customer.external_id
    entries = v1.customers.balance_transactions.list(customer).data
    assert [(e.amount, e.currency) for e in entries] == [(-19900, "sek")]
    assert v1.customers.retrieve(customer).balance == -19900


def test_cancel_at_period_end_and_its_undo(stripe_book, subscription, decide):
    decide(services.subscription_schedule_cancel, subscription=subscription)
    scheduled = remote(stripe_book.server, subscription).cancel_at_period_end
    decide(services.subscription_withdraw_cancel, subscription=subscription)

    assert scheduled is True
    assert remote(stripe_book.server, subscription).cancel_at_period_end is False


def test_immediate_cancel_then_reactivation_from_a_winback(stripe_book, subscription, decide):
    decide(services.subscription_cancel, subscription=subscription)
    cancelled = remote(stripe_book.server, subscription).status
    decide(services.subscription_reactivate, subscription=subscription, plan=stripe_book.small)
    decide(
        services.subscription_pause,
        subscription=subscription,
        until=timezone.now() + timedelta(days=30),
    )

    assert cancelled == "canceled"
    revived = BillingCommand.objects.get(kind=EventKind.REACTIVATED).result["subscription"]
    state = stripe_book.server.client().v1.subscriptions.retrieve(revived)
    assert (state.status, state.customer, state["items"].data[0].price.id) == (
        "active",
        subscription.customer.external_id,
        stripe_book.small.code,
    )
    # Later decisions act on the new Stripe subscription.
    assert state.pause_collection["behavior"] == "void"
    assert state.metadata.to_dict() == {"tack_subscription": subscription.external_id}


def test_a_refused_command_is_kept_with_stripes_error_and_raises_a_webhook(
    stripe_book, subscription, decide
):
    endpoint = make_endpoint(url="http://127.0.0.1:9/hook", event_types=[FAILED])
    stripe_book.server.client().v1.subscriptions.cancel(subscription.external_id)

    decide(services.subscription_cancel, subscription=subscription)

    command = BillingCommand.objects.get()
    assert (command.status, command.attempts) == (Status.REFUSED, 1)
    assert command.last_error == "HTTP 400: This subscription has already been canceled."
    delivery = WebhookDelivery.objects.get(endpoint=endpoint)
    assert delivery.payload["data"] == {
        "subscription": {"external_id": subscription.external_id},
        "kind": EventKind.CANCELLED,
        "status": Status.REFUSED,
        "error": "HTTP 400: This subscription has already been canceled.",
        "code": "",
    }


def test_changes_stripe_makes_itself_are_not_sent_back(stripe_book, subscription, decide):
    now = timezone.now()
    decide(services.subscription_pause, subscription=subscription, until=now + timedelta(days=3))

    services.subscription_apply_due_changes(now=now + timedelta(days=4))

    assert [kind for kind, *_ in commands()] == [EventKind.PAUSED]


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost", "[::ffff:127.0.0.1]"])
def test_stripe_is_reached_only_through_the_outbound_guard(
    stripe_book, subscription, decide, settings, webhook_receiver, host
):
    """With production's rules (no allow-list), an API base on this machine is refused
    before any connection: the command waits as not reached, with the guard's reason."""
    settings.TACK_OUTBOUND_ALLOWED_ADDRESSES = []
    settings.STRIPE_API_BASE = f"http://{host}:{webhook_receiver.server.server_port}"

    until = timezone.now() + timedelta(days=30)
    decide(services.subscription_pause, subscription=subscription, until=until)

    command = BillingCommand.objects.get()
    assert (command.status, command.attempts) == (Status.PENDING, 1)
    assert command.last_error == "Stripe not reached: the address is not on the public internet"
    assert webhook_receiver.requests == []
    assert remote(stripe_book.server, subscription).pause_collection is None
