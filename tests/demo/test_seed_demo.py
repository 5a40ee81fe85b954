from datetime import date

import pytest
from django.core.management import CommandError, call_command
from django.db.models import Count

from subscriptions.models import Customer, Subscription, SubscriptionEvent

pytestmark = pytest.mark.django_db


def snapshot():
    return (
        list(
            Customer.objects.order_by("external_id").values_list(
                "external_id", "name", "email", "locale", "customer_since", "marketing_consent"
            )
        ),
        list(
            Subscription.objects.order_by("external_id").values_list(
                "external_id", "plan__code", "status", "monthly_amount", "cancelled_at"
            )
        ),
        list(
            SubscriptionEvent.objects.order_by("subscription__external_id", "sequence").values_list(
                "subscription__external_id", "sequence", "kind", "created_at"
            )
        ),
    )


def test_seed_demo_is_deterministic_for_a_seed():
    call_command("seed_demo", customers=300, seed=7, today=date(2026, 6, 1))
    first = snapshot()
    call_command("seed_demo", customers=300, seed=7, today=date(2026, 6, 1), flush=True)
    assert snapshot() == first

    call_command("seed_demo", customers=300, seed=8, today=date(2026, 6, 1), flush=True)
    assert snapshot() != first


def test_seed_demo_builds_a_consistent_business():
    call_command("seed_demo", customers=500, seed=3, today=date(2026, 6, 1))

    assert Customer.objects.count() == Subscription.objects.count() == 500
    locales = dict(Customer.objects.values_list("locale").annotate(n=Count("pk")))
    assert set(locales) == {"sv", "nb", "da", "en"}
    statuses = dict(Subscription.objects.values_list("status").annotate(n=Count("pk")))
    assert set(statuses) == {"active", "paused", "cancel_pending", "cancelled"}
    # Every subscription starts its ledger at 1 with 'started' and the ledger agrees
    # with the status.
    assert not Subscription.objects.exclude(events__sequence=1, events__kind="started").exists()
    for status, kind in [
        ("cancelled", "cancelled"),
        ("paused", "paused"),
        ("cancel_pending", "cancel_requested"),
    ]:
        assert not Subscription.objects.filter(status=status).exclude(events__kind=kind).exists()
    # ids continue after the seed (sequences were moved past the copied rows)
    from tests.factories import make_customer

    assert make_customer().pk == 501


def test_seed_demo_refuses_to_mix_with_existing_data():
    call_command("seed_demo", customers=5, seed=1)
    with pytest.raises(CommandError, match="--flush"):
        call_command("seed_demo", customers=5, seed=1)
    call_command("seed_demo", customers=5, seed=1, if_empty=True)
    assert Customer.objects.count() == 5


def test_seed_demo_creates_a_year_of_cancellation_cases():
    from cancellations.models import CancellationCase, Offer

    call_command("seed_demo", customers=1500, seed=5, today=date(2026, 6, 1))
    outcomes = dict(CancellationCase.objects.values_list("outcome").annotate(n=Count("pk")))
    assert set(outcomes) == {"saved", "cancelled", "abandoned"}
    assert outcomes["cancelled"] > outcomes["saved"] > 0
    assert not CancellationCase.objects.filter(opened_at__date__lt=date(2025, 5, 31)).exists()
    # Outcomes agree with the subscriptions and their ledger.
    saved = CancellationCase.objects.filter(outcome="saved")
    assert not saved.filter(accepted_offer__isnull=True).exists()
    for kind, event in [
        ("pause", "paused"),
        ("downgrade", "plan_changed"),
        ("loyalty_bonus", "credit_granted"),
    ]:
        cases = saved.filter(accepted_offer__kind=kind)
        assert cases.exists(), kind
        assert not cases.exclude(subscription__events__kind=event).exists(), kind
    assert (
        not CancellationCase.objects.filter(outcome="cancelled")
        .exclude(subscription__status__in=["cancel_pending", "cancelled"])
        .exists()
    )
    assert Offer.objects.filter(accepted_at__isnull=False).count() == saved.count()
    # Every case has a timeline that starts with "opened".
    assert not CancellationCase.objects.exclude(steps__kind="opened").exists()
