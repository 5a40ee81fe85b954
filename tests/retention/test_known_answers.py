"""Win-back figures against a book small enough to count on paper.

Every expected number below is written by hand from the story in ``hit_book``'s docstring;
none is computed with the product's helpers. Each runs against the rollups and the scan.
"""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from retention import formatting, selectors
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


def last_30_days() -> Filters:
    today = timezone.localdate()
    return Filters(start=today - timedelta(days=29), end=today)


def send(outreach: Outreach, at) -> None:
    Outreach.objects.filter(pk=outreach.pk).update(due_at=at)
    services.outreach_send(outreach_id=outreach.pk, now=at)


def come_back_on_their_own(lost, at) -> None:
    subscription_services.subscription_reactivate(
        subscription=lost.subscription, actor=Actor.api("billing")
    )
    services.comebacks_detect(now=at)


@pytest.fixture
def hit_book(campaigns, settings, django_capture_on_commit_callbacks):  # noqa: F811
    """Six bought-away lost customers of the same plan (199.00 a month), one email campaign
    (two attempts, a 25%-off-for-three-months come-back offer), attribution window 14 days.
    Day 0 is today; the period is the last 30 days.

    * P1 is emailed on day -20 and again on day -10, and comes back through the second
      email's link on day -8: one person, two contacts, a hit.
    * P2 is emailed on day -20 and never comes back.
    * P3 is emailed on day -25 and comes back on their own today, 25 days later: outside
      the window, organic.
    * P4 is emailed on day -20 and comes back on their own exactly 14 days later: on the
      window's edge, attributed.
    * P5 is emailed on day -20 and comes back on their own 14 days and one minute later:
      just past the edge, organic.
    * P6 was emailed on day -35 (the previous period) and comes back through the link on
      day -25: a comeback in this period, but not among this period's contacted.
    """
    settings.TACK_WINBACK_ATTRIBUTION_DAYS = 14
    settings.TACK_WINBACK_FREQUENCY_CAP_DAYS = 1
    settings.TACK_COST_PER_EMAIL = 2.0
    Campaign.objects.exclude(name=BOUGHT_AWAY).update(active=False)
    Campaign.objects.filter(name=BOUGHT_AWAY).update(
        holdout_percent=0, max_attempts=2, min_days_between=1
    )
    now = timezone.now()

    def day(n: int):
        return now + timedelta(days=n)

    people = [
        make_lost(reason="competitor_price", left_at=day(-400), email=f"p{i}@example.com")
        for i in range(1, 7)
    ]
    p1, p2, p3, p4, p5, p6 = people
    services.outreach_plan(now=day(-40))
    first = {o.lost_customer_id: o for o in Outreach.objects.filter(attempt=1)}
    with django_capture_on_commit_callbacks(execute=True):
        for person, at in ((p1, -20), (p2, -20), (p3, -25), (p4, -20), (p5, -20), (p6, -35)):
            send(first[person.pk], day(at))
    # The outbox has sent them (it is not what this test is about).
    Outreach.objects.filter(status=OutreachStatus.QUEUED).update(status=OutreachStatus.SENT)
    services.outreach_plan(now=day(-11))
    Outreach.objects.filter(attempt=2).exclude(lost_customer=p1).delete()
    second = Outreach.objects.get(attempt=2, lost_customer=p1)
    with django_capture_on_commit_callbacks(execute=True):
        send(second, day(-10))
    for person, outreach, at in ((p1, second, -8), (p6, first[p6.pk], -25)):
        services.comeback_record(
            lost_customer=person, outreach=outreach, actor=Actor.customer(), now=day(at)
        )
    come_back_on_their_own(
        p4, Outreach.objects.get(pk=first[p4.pk].pk).contacted_at + timedelta(days=14)
    )
    come_back_on_their_own(
        p5, Outreach.objects.get(pk=first[p5.pk].pk).contacted_at + timedelta(days=14, minutes=1)
    )
    come_back_on_their_own(p3, now)
    rollups_refresh()
    return people


def test_hit_rate_counts_people_contacted_and_their_hits(source, hit_book):
    summary = selectors.winback_summary(last_30_days(), source=source)

    assert summary.contacted == 5  # P1-P5; P1 once although emailed twice
    assert summary.contacts == 6  # P1 twice, P2-P5 once
    assert summary.hits == 2  # P1 and P4
    assert summary.hit_rate == 0.4
    assert summary.comebacks == 3  # P1, P4, P6 came back in the period, attributed
    assert summary.organic == 2  # P3 (outside the window) and P5 (a minute past its edge)


def test_every_first_contact_breakdown_adds_up_to_the_card(source, hit_book):
    rows = selectors.winback_breakdowns(last_30_days(), source=source)

    for name in ("campaign", "churn_group", "channel", "message"):
        assert sum(r["contacted"] for r in rows[name]) == 5, name
        assert sum(r["comebacks"] for r in rows[name]) == 2, name
    assert [(r["key"], r["contacted"], r["comebacks"]) for r in rows["campaign"]] == [
        (BOUGHT_AWAY, 5, 2)
    ]
    # By attempt counts contacts: P4 came back on their first email, P1 on their second.
    assert sorted((r["key"], r["contacted"], r["comebacks"]) for r in rows["attempt"]) == [
        ("1", 5, 1),
        ("2", 1, 1),
    ]


def test_cost_per_customer_won_back_includes_every_contact(source, hit_book):
    summary = selectors.winback_summary(last_30_days(), source=source)

    # Offers: P1 and P6 took 25% off 199.00 for three months (149.25 each); P4 none.
    assert summary.offer_cost == Decimal("298.50")
    # 298.50 + six emails at 2.00
    assert summary.cost == Decimal("310.50")
    assert summary.cost_per_comeback == Decimal("103.50")  # 310.50 / 3


def test_the_page_shows_the_card_and_tables_that_add_up_to_it(client, manager, hit_book):
    client.force_login(manager)

    response = client.get("/admin/retention/dashboard/")  # the overview, with the cards
    tables = client.get("/admin/retention/dashboard/", {"tab": "campaign"}).context["tables"]

    assert [str(v) for v in tables["winback_by_campaign"].totals[:4]] == [
        "Total",
        "5",
        "2",
        "40.0%",
    ]
    assert tables["winback_by_attempt"].totals[:3] == ["Total", 6, 2]
    html = response.content.decode()
    assert "2 of 5 contacted" in html
    for key in ("hit_rate", "comebacks", "contacts", "cost_per_kept", "cost_per_won_back"):
        assert f'id="def-{key}"' in html


def test_retain_vs_win_back_on_the_same_footing(source, hit_book, book, settings):
    settings.TACK_COST_PER_CALL = 50.0
    data = selectors.dashboard(last_30_days(), source=source)

    # Kept in the last 30 days: A (a month's pause, 199.00) and D on the phone (a downgrade
    # of 100.00 a month, 1,200.00 over 12 months); B cancelled and C abandoned. The phone
    # case's call at 50.00: (199.00 + 1,200.00 + 50.00) / 2 = 724.50.
    # Won back: 310.50 / 3 = 103.50 (see above). 724.50 / 103.50 = 7.0. Whole units,
    # halves rounded up.
    assert formatting.retain_vs_winback_sentence(data["retain_vs_winback"]) == (
        "Keeping a customer cost SEK 725; winning one back cost SEK 104, 7.0× less. "  # noqa: RUF001
        "Counted over 2 customers kept (phone cases: 1) and 3 won back (emails and calls: 6)."
    )


def test_a_campaigns_calls_cost_agent_time(settings):
    settings.TACK_COST_PER_EMAIL = 2.0
    settings.TACK_COST_PER_CALL = 50.0
    summary = selectors.WinbackSummary(contacts=5, calls=2, comebacks=2, offer_cost=Decimal("100"))

    # 100.00 in offers + three emails at 2.00 + two calls at 50.00
    assert summary.cost == Decimal("206.00")
    assert summary.cost_per_comeback == Decimal("103.00")
