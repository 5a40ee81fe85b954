"""stripe_sync: prices become plans, customers and subscriptions come in through the
services with channel billing; a second run changes nothing."""

import time
import urllib.request
from collections import Counter
from datetime import UTC, datetime
from decimal import Decimal

import pytest
from django.core.management import call_command

from core.enums import ChangeKind
from core.models import ChangeMark
from subscriptions.enums import BillingInterval, CancelledBy, Channel, EventKind
from subscriptions.enums import SubscriptionStatus as Status
from subscriptions.models import Customer, Plan, Subscription, SubscriptionEvent
from subscriptions.stripe_billing.sync import stripe_sync

pytestmark = pytest.mark.django_db


@pytest.fixture
def empty_stripe(stripe_billing):
    request = urllib.request.Request(stripe_billing.url + "/_config/data", method="DELETE")
    urllib.request.urlopen(request, timeout=30).close()
    return stripe_billing


PRICES = [
    {
        "id": "price_monthly",
        "unit_amount": 19900,
        "currency": "sek",
        "recurring": {"interval": "month"},
        "product": {"name": "Tidningen"},
        "nickname": "Månad",
    },
    {
        "id": "price_yearly",
        "unit_amount": 120000,
        "currency": "sek",
        "recurring": {"interval": "year"},
        "product": {"name": "Tidningen"},
        "nickname": "År",
    },
]


def seed(server, subscriptions: list[dict]) -> None:
    """Bulk state through the launcher's own route, a thousand at a time."""
    for start in range(0, len(subscriptions), 1000):
        chunk = subscriptions[start : start + 1000]
        customers = [{"id": s["customer"], "email": f"{s['customer']}@example.com"} for s in chunk]
        server.post(
            "/_config/tack/seed",
            {"prices": PRICES, "customers": customers, "subscriptions": chunk},
        )


def test_sync_takes_each_state_and_a_rerun_changes_nothing(empty_stripe, capsys):
    started = int(time.time()) - 86400
    seed(
        empty_stripe,
        [
            {"id": "sub_a", "customer": "cus_a", "price": "price_monthly", "start_date": started},
            {
                "id": "sub_b",
                "customer": "cus_b",
                "price": "price_yearly",
                "start_date": started,
                "cancel_at_period_end": True,
            },
            {"id": "sub_c", "customer": "cus_c", "price": "price_monthly", "status": "incomplete"},
        ],
    )

    call_command("stripe_sync")
    first = capsys.readouterr().out
    ledger = SubscriptionEvent.objects.count()
    call_command("stripe_sync")
    second = capsys.readouterr().out

    assert first.splitlines() == [
        "plans: 2 created, 0 updated, 0 unchanged",
        "customers: 3 created, 0 updated, 0 unchanged",
        "subscriptions: 2 created, 0 updated, 0 unchanged",
        "skipped 1 subscription(s): status incomplete",
    ]
    assert second.splitlines() == [
        "plans: 0 created, 0 updated, 2 unchanged",
        "customers: 0 created, 0 updated, 3 unchanged",
        "subscriptions: 0 created, 0 updated, 2 unchanged",
        "skipped 1 subscription(s): status incomplete",
    ]
    assert SubscriptionEvent.objects.count() == ledger
    yearly = Plan.objects.get(code="price_yearly")
    assert (yearly.monthly_price, yearly.billing_interval, yearly.currency) == (
        Decimal("100.00"),
        BillingInterval.YEAR,
        "SEK",
    )
    b = Subscription.objects.get(external_id="sub_b")
    assert (b.status, b.customer.external_id, b.plan.code) == (
        Status.CANCEL_PENDING,
        "cus_b",
        "price_yearly",
    )
    assert b.cancel_at == datetime.fromtimestamp(started, tz=UTC).replace(
        year=datetime.fromtimestamp(started, tz=UTC).year + 1
    )
    # Started in its page's batch, with the ledger a one-by-one start and cancel would write.
    assert [
        (e.sequence, e.kind, e.before.get("status"), e.after["status"], e.after["cancel_at"])
        for e in b.events.all()
    ] == [
        (1, EventKind.STARTED, None, Status.ACTIVE, None),
        (
            2,
            EventKind.CANCEL_REQUESTED,
            Status.ACTIVE,
            Status.CANCEL_PENDING,
            b.cancel_at.isoformat(),
        ),
    ]
    assert b.cancelled_by == CancelledBy.CUSTOMER
    assert ChangeMark.objects.filter(kind=ChangeKind.SUBSCRIPTION_LEFT, object_id=b.pk).exists()
    assert set(SubscriptionEvent.objects.values_list("channel", flat=True)) == {Channel.BILLING}


def test_a_subscription_whose_end_has_passed_is_imported_as_ended_and_the_rest_of_its_page_too(
    empty_stripe,
):
    """Stripe lists it as set to end at a moment already past (it ends between the list and
    the import): it is started and cancelled at once on its own, beside its page's batch."""
    started = int(time.time()) - 30 * 86400
    seed(
        empty_stripe,
        [
            {
                "id": "sub_gone",
                "customer": "cus_gone",
                "price": "price_monthly",
                "start_date": started,
                "cancel_at": int(time.time()) - 60,
            },
            {
                "id": "sub_stays",
                "customer": "cus_stays",
                "price": "price_monthly",
                "start_date": started,
            },
            {
                "id": "sub_later",
                "customer": "cus_later",
                "price": "price_monthly",
                "start_date": started,
                "cancel_at": int(time.time()) + 86400,
            },
        ],
    )

    report = stripe_sync()

    assert report.created["subscription"] == 3 and not report.skipped
    status = dict(Subscription.objects.values_list("external_id", "status"))
    assert status == {
        "sub_gone": Status.CANCELLED,
        "sub_stays": Status.ACTIVE,
        "sub_later": Status.CANCEL_PENDING,
    }
    gone = Subscription.objects.get(external_id="sub_gone")
    assert [e.kind for e in gone.events.all()] == [EventKind.STARTED, EventKind.CANCELLED]


@pytest.mark.slow
def test_a_sync_of_10000_subscriptions_is_idempotent(empty_stripe):
    started = int(time.time()) - 3 * 86400
    seed(
        empty_stripe,
        [
            {
                "id": f"sub_{n:05d}",
                "customer": f"cus_{n:05d}",
                "start_date": started,
                "price": "price_yearly" if n % 4 == 0 else "price_monthly",
                "cancel_at_period_end": n % 10 == 0,
            }
            for n in range(10_000)
        ],
    )

    first = stripe_sync()
    ledger = SubscriptionEvent.objects.count()
    second = stripe_sync()

    assert (first.created["subscription"], first.created["customer"]) == (10_000, 10_000)
    assert second.created + second.updated == Counter()
    assert second.unchanged == Counter(plan=2, customer=10_000, subscription=10_000)
    assert SubscriptionEvent.objects.count() == ledger == 11_000  # started, and 1,000 cancels
    assert Subscription.objects.filter(status=Status.CANCEL_PENDING).count() == 1_000
    assert Customer.objects.count() == 10_000
