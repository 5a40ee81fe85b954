"""Win-back figures against a small book with known answers."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from retention import selectors
from retention.selectors import Filters
from retention.services import rollups_refresh
from subscriptions import services as subscription_services
from subscriptions.actors import Actor
from tests.winback.conftest import campaigns, make_lost  # noqa: F401 - shared fixture
from winback import services
from winback.enums import OutreachStatus
from winback.models import Campaign, Outreach

pytestmark = pytest.mark.django_db
BOUGHT_AWAY = "Bought away: when their new contract ends"


def period() -> Filters:
    today = timezone.localdate()
    return Filters(start=today - timedelta(days=29), end=today)


@pytest.fixture
def winback_book(campaigns, django_capture_on_commit_callbacks):  # noqa: F811
    """Six bought-away lost customers: four contacted 10 days ago, two in the holdout.
    One contacted customer comes back through the link, one holdout member on their own."""
    Campaign.objects.exclude(name=BOUGHT_AWAY).update(active=False)
    Campaign.objects.filter(name=BOUGHT_AWAY).update(holdout_percent=0)
    contact_at = timezone.now() - timedelta(days=10)
    lost = [
        make_lost(reason="competitor_price", left_at=contact_at - timedelta(days=335))
        for _ in range(6)
    ]
    services.outreach_plan()
    Outreach.objects.update(due_at=contact_at)
    Outreach.objects.filter(lost_customer__in=lost[4:]).update(status=OutreachStatus.HOLDOUT)
    with django_capture_on_commit_callbacks(execute=True):
        for outreach in Outreach.objects.filter(status=OutreachStatus.SCHEDULED):
            services.outreach_send(outreach_id=outreach.pk, now=contact_at)
    won = Outreach.objects.get(lost_customer=lost[0])
    services.comeback_record(
        lost_customer=lost[0],
        outreach=won,
        actor=Actor.customer(),
        now=contact_at + timedelta(days=2),
    )
    subscription_services.subscription_reactivate(
        subscription=lost[4].subscription, actor=Actor.api("billing")
    )
    services.comebacks_detect()
    rollups_refresh()
    return {"lost": lost, "won": won}


def test_hit_rate_and_holdout_by_campaign(source, winback_book):
    rows = selectors.winback_breakdowns(period(), source=source)

    [campaign] = rows["campaign"]
    assert campaign["key"] == BOUGHT_AWAY
    assert (campaign["contacted"], campaign["comebacks"], campaign["hit_rate"]) == (4, 1, 0.25)
    assert (campaign["holdout"], campaign["holdout_back"]) == (2, 1)
    assert campaign["uplift"].enough_data is False
    assert campaign["uplift"].contacted_rate == 0.25
    assert campaign["uplift"].holdout_rate == 0.5
    assert [(r["key"], r["contacted"]) for r in rows["attempt"]] == [("1", 4)]
    assert [(r["key"], r["contacted"]) for r in rows["channel"]] == [("email", 4)]
    assert [(r["key"], r["contacted"]) for r in rows["churn_group"]] == [("bought_away", 4)]
    assert [(r["key"], r["contacted"]) for r in rows["message"]] == [(f"{BOUGHT_AWAY} (sv)", 4)]


def test_uplift_with_its_confidence_interval(settings):
    settings.TACK_UPLIFT_MIN_GROUP = 100
    assert selectors.uplift(10, 99, 5, 100).enough_data is False

    result = selectors.uplift(30, 200, 10, 200)

    assert result.enough_data
    assert result.difference == pytest.approx(0.10)
    margin = 1.96 * ((0.15 * 0.85 / 200 + 0.05 * 0.95 / 200) ** 0.5)
    assert (result.low, result.high) == (pytest.approx(0.10 - margin), pytest.approx(0.10 + margin))


def test_value_cost_lifetime_value_and_roi(source, winback_book, settings):
    settings.TACK_COST_PER_EMAIL = 2.0
    summary = selectors.winback_summary(period(), source=source)

    assert (summary.contacted, summary.contacts, summary.calls) == (4, 4, 0)
    assert (summary.comebacks, summary.organic) == (1, 1)
    # 12 x 199.00 less 25% off for three months (149.25)
    assert summary.value == Decimal("2238.75")
    assert summary.offer_cost == Decimal("149.25")
    assert summary.cost == Decimal("157.25")  # the offer and four emails at 2.00
    assert summary.roi == pytest.approx((2238.75 - 157.25) / 157.25)
    assert summary.lifetime_value == Decimal("199.00")  # came back 8 days ago: one month
    assert summary.cost_per_comeback == Decimal("157.25")


def test_weekly_trends_carry_save_and_hit_rates(source, winback_book):
    weeks = selectors.trends(period(), source=source)["weekly"]

    contacted = [w for w in weeks if w.get("contacted")]
    assert sum(w["contacted"] for w in contacted) == 4
    assert sum(w["comebacks"] for w in contacted) == 1


def test_lifetime_value_counts_the_months_begun_since_coming_back(winback_book):
    from retention.scan import _months_active_expression
    from winback.models import Comeback

    now = timezone.now()
    comeback = Comeback.objects.get(outreach__isnull=False)
    months = Comeback.objects.filter(pk=comeback.pk).annotate(months=_months_active_expression(now))

    Comeback.objects.filter(pk=comeback.pk).update(at=now - timedelta(days=40))
    assert months.get().months == 2
    Comeback.objects.filter(pk=comeback.pk).update(at=now - timedelta(days=400))
    assert months.get().months == 14
    # Came back 400 days ago and left again 100 days ago: months 1 to 11 were paid for.
    comeback.subscription.__class__.objects.filter(pk=comeback.subscription_id).update(
        status="cancelled", cancelled_at=now - timedelta(days=100)
    )
    assert months.get().months == 11
