from collections import defaultdict
from datetime import UTC, date, datetime, timedelta

import pytest
from django.conf import settings
from django.core.management import CommandError, call_command
from django.db.models import Count, F, Max

from subscriptions.models import Customer, Subscription, SubscriptionEvent
from winback.defaults import CAMPAIGNS
from winback.models import Campaign, Comeback, LostCustomer, Outreach

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
        list(
            Outreach.objects.order_by(
                "customer__external_id", "campaign__name", "attempt"
            ).values_list("customer__external_id", "campaign__name", "attempt", "status", "due_at")
        ),
        list(
            Comeback.objects.order_by("subscription__external_id").values_list(
                "subscription__external_id", "at", "outreach__campaign__name", "value"
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
    # Each ledger is in time order.
    ledgers = defaultdict(list)
    for subscription, at in SubscriptionEvent.objects.order_by(
        "subscription_id", "sequence"
    ).values_list("subscription_id", "created_at"):
        ledgers[subscription].append(at)
    assert [pk for pk, times in ledgers.items() if times != sorted(times)] == []
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
    # (unless the customer was won back later)
    assert (
        not CancellationCase.objects.filter(outcome="cancelled")
        .exclude(subscription__status__in=["cancel_pending", "cancelled"])
        .exclude(subscription__comebacks__at__gt=F("decided_at"))
        .exists()
    )
    assert Offer.objects.filter(accepted_at__isnull=False).count() == saved.count()
    # Every case has a timeline that starts with "opened".
    assert not CancellationCase.objects.exclude(steps__kind="opened").exists()


def test_seed_demo_creates_a_year_of_winback():
    now = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)

    call_command("seed_demo", customers=2000, seed=4, today=date(2026, 6, 1))

    # Every cancelled subscription is a lost customer, sorted into several churn groups.
    assert LostCustomer.objects.filter(came_back_at=None).count() == (
        Subscription.objects.filter(status="cancelled").count()
    )
    groups = set(LostCustomer.objects.values_list("churn_group", flat=True))
    assert len(groups) >= 4, groups
    assert not LostCustomer.objects.filter(scored_at=None).exists()
    assert {name for name, *_ in CAMPAIGNS} <= set(Campaign.objects.values_list("name", flat=True))
    # Due contacts were made in the customer's language; later ones are still scheduled.
    statuses = dict(Outreach.objects.values_list("status").annotate(n=Count("pk")))
    assert {"sent", "scheduled", "holdout"} <= set(statuses), statuses
    assert Outreach.objects.filter(attempt=2, status="sent").exists()
    assert not Outreach.objects.filter(
        status="scheduled", due_at__lt=now - timedelta(hours=1)
    ).exists()
    sent = Outreach.objects.filter(status="sent").select_related("customer")
    assert all(
        o.contacted_at == o.due_at < o.sent_at < now and o.language == o.customer.locale
        for o in sent
    )
    assert not Outreach.objects.filter(status="holdout", contacted_at__isnull=False).exists()

    comebacks = list(Comeback.objects.select_related("lost_customer", "subscription", "outreach"))
    assert any(c.outreach for c in comebacks) and any(c.organic for c in comebacks)
    window = timedelta(days=settings.TACK_WINBACK_ATTRIBUTION_DAYS)
    for comeback in comebacks:
        subscription, lost = comeback.subscription, comeback.lost_customer
        assert subscription.status == "active"
        assert lost.came_back_at == comeback.at < now
        assert comeback.value == comeback.monthly_amount * 12 - comeback.offer_cost
        events = list(subscription.events.order_by("sequence").values_list("sequence", "kind"))
        assert [sequence for sequence, _ in events] == list(range(1, len(events) + 1))
        kinds = [kind for _, kind in events]
        assert kinds.index("reactivated") == kinds.index("cancelled") + 1
        assert subscription.events.get(kind="reactivated").created_at == comeback.at
        contacts = Outreach.objects.filter(
            lost_customer=lost, status="sent", contacted_at__lte=comeback.at
        )
        last = contacts.filter(contacted_at__gte=comeback.at - window).aggregate(
            last=Max("contacted_at")
        )["last"]
        if comeback.outreach:
            assert comeback.outreach.contacted_at == last
            assert comeback.campaign_id == comeback.outreach.campaign_id
        else:
            assert last is None
        # Nobody is contacted after coming back.
        assert not Outreach.objects.filter(
            lost_customer=lost, contacted_at__gt=comeback.at
        ).exists()
        assert not Outreach.objects.filter(lost_customer=lost, status="scheduled").exists()
