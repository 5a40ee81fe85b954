"""Stripe's webhooks: only signed, recent events count; each once; late ones change
nothing; changes come in through the lifecycle with channel billing and go back out as no
billing command."""

import hashlib
import hmac
import json
import time
from datetime import timedelta

import pytest
from django.utils import timezone

from core.models import BillingCommand
from subscriptions.enums import CancelledBy, Channel, EventKind
from subscriptions.enums import SubscriptionStatus as Status
from subscriptions.models import StripeEvent, SubscriptionEvent
from tests.factories import make_plan, make_subscription

pytestmark = pytest.mark.django_db
SECRET = "whsec_test_tack"
URL = "/billing/stripe/webhook/"


@pytest.fixture(autouse=True)
def stripe_settings(settings):
    settings.STRIPE_WEBHOOK_SECRET = SECRET
    settings.TACK_BILLING_GATEWAY = "subscriptions.stripe_billing.gateway.StripeGateway"
    from subscriptions import billing

    billing._gateway.cache_clear()
    yield
    billing._gateway.cache_clear()


def signed(payload: bytes, *, secret: str = SECRET, at: int | None = None) -> str:
    at = at or int(time.time())
    mac = hmac.new(secret.encode(), f"{at}.".encode() + payload, hashlib.sha256).hexdigest()
    return f"t={at},v1={mac}"


def event(event_id, kind, obj, *, created):
    return json.dumps(
        {
            "id": event_id,
            "object": "event",
            "type": kind,
            "created": created,
            "data": {"object": obj},
        }
    ).encode()


def sub_object(subscription, **state):
    return {
        "id": subscription.external_id,
        "object": "subscription",
        "status": "active",
        "cancel_at_period_end": False,
        "cancel_at": None,
        "pause_collection": None,
        "items": {"data": [{"price": {"id": subscription.plan.code}}]},
        "metadata": {},
        **state,
    }


def post(client, payload, signature):
    headers = {"HTTP_STRIPE_SIGNATURE": signature} if signature is not None else {}
    return client.post(URL, payload, content_type="application/json", **headers)


def ledger(subscription):
    return list(
        SubscriptionEvent.objects.filter(subscription=subscription)
        .order_by("sequence")
        .values_list("kind", "channel")
    )


@pytest.fixture
def subscription():
    return make_subscription(plan=make_plan(code="price_basic"))


def test_unsigned_forged_and_stale_events_are_refused_and_change_nothing(client, subscription):
    payload = event(
        "evt_1", "customer.subscription.deleted", sub_object(subscription), created=int(time.time())
    )

    answers = [
        post(client, payload, None).status_code,
        post(client, payload, signed(payload, secret="whsec_someone_else")).status_code,
        post(client, payload, signed(payload, at=int(time.time()) - 3600)).status_code,
        post(client, payload + b" ", signed(payload)).status_code,
    ]

    assert answers == [400, 400, 400, 400]
    subscription.refresh_from_db()
    assert subscription.status == Status.ACTIVE
    assert StripeEvent.objects.count() == 0


def test_a_scheduled_cancellation_comes_in_once_through_the_lifecycle(client, subscription):
    obj = sub_object(subscription, cancel_at_period_end=True)
    payload = event("evt_2", "customer.subscription.updated", obj, created=int(time.time()))

    first = post(client, payload, signed(payload))
    replay = post(client, payload, signed(payload))

    assert (first.status_code, first.json()) == (200, {"received": True, "duplicate": False})
    assert (replay.status_code, replay.json()) == (200, {"received": True, "duplicate": True})
    subscription.refresh_from_db()
    assert subscription.status == Status.CANCEL_PENDING
    assert ledger(subscription) == [
        (EventKind.STARTED, Channel.SYSTEM),
        (EventKind.CANCEL_REQUESTED, Channel.BILLING),
    ]
    assert BillingCommand.objects.count() == 0  # nothing is sent back to Stripe


def test_an_event_older_than_the_state_held_changes_nothing(client, subscription):
    now = int(time.time())
    resumes = int((timezone.now() + timedelta(days=30)).timestamp())
    paused = sub_object(subscription, pause_collection={"behavior": "void", "resumes_at": resumes})
    newer = event("evt_new", "customer.subscription.updated", paused, created=now)
    older = event(
        "evt_old",
        "customer.subscription.updated",
        sub_object(subscription, cancel_at_period_end=True),
        created=now - 60,
    )

    post(client, newer, signed(newer))
    post(client, older, signed(older))

    subscription.refresh_from_db()
    assert subscription.status == Status.PAUSED
    assert dict(StripeEvent.objects.values_list("event_id", "outcome")) == {
        "evt_new": StripeEvent.Outcome.APPLIED,
        "evt_old": StripeEvent.Outcome.STALE,
    }


def test_a_deletion_after_a_failed_payment_is_involuntary_churn(client, subscription):
    other = make_subscription(plan=subscription.plan)
    now = int(time.time())
    failed = event(
        "evt_f",
        "invoice.payment_failed",
        {"id": "in_1", "object": "invoice", "subscription": subscription.external_id},
        created=now - 10,
    )
    for payload in (
        failed,
        event(
            "evt_d1",
            "customer.subscription.deleted",
            sub_object(subscription, status="canceled", ended_at=now),
            created=now,
        ),
        event(
            "evt_d2",
            "customer.subscription.deleted",
            sub_object(
                other,
                status="canceled",
                ended_at=now,
                cancellation_details={"reason": "cancellation_requested"},
            ),
            created=now,
        ),
    ):
        assert post(client, payload, signed(payload)).status_code == 200

    subscription.refresh_from_db()
    other.refresh_from_db()
    assert (subscription.status, subscription.cancelled_by) == (
        Status.CANCELLED,
        CancelledBy.COMPANY_NON_PAYMENT,
    )
    assert (other.status, other.cancelled_by) == (Status.CANCELLED, CancelledBy.CUSTOMER)
    assert StripeEvent.objects.get(event_id="evt_f").outcome == StripeEvent.Outcome.RECORDED


def test_a_late_deletion_of_the_stripe_subscription_before_a_comeback_changes_nothing(
    client, subscription
):
    BillingCommand.objects.create(
        subscription_id=subscription.pk,
        ledger_event_id=999,
        kind=EventKind.REACTIVATED,
        status="applied",
        result={"subscription": "sub_new"},
    )
    now = int(time.time())
    payload = event(
        "evt_old_sub",
        "customer.subscription.deleted",
        sub_object(subscription, status="canceled", ended_at=now),
        created=now,
    )

    assert post(client, payload, signed(payload)).status_code == 200

    subscription.refresh_from_db()
    assert subscription.status == Status.ACTIVE
    assert StripeEvent.objects.get().outcome == StripeEvent.Outcome.IGNORED
