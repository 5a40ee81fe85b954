"""Every figure against a small book of cases with known answers, and against plain SQL."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import connection
from django.utils import timezone

from retention import selectors
from retention.selectors import Filters
from tests.retention.conftest import ago

pytestmark = pytest.mark.django_db


def last_90_days(**kwargs) -> Filters:
    today = timezone.localdate()
    return Filters(start=today - timedelta(days=89), end=today, **kwargs)


def test_save_and_deflection_rates_web_and_phone_together_and_apart(source, book):
    figures = selectors.case_summary(last_90_days(), source=source)

    assert (figures["saved"], figures["cancelled"], figures["abandoned"]) == (4, 1, 1)
    assert figures["save_rate"] == 4 / 5
    assert figures["deflection_rate"] == 5 / 6
    assert (figures["web_saved"], figures["web_cancelled"], figures["web_abandoned"]) == (3, 1, 1)
    assert figures["web_save_rate"] == 3 / 4
    assert (figures["phone_saved"], figures["phone_save_rate"]) == (1, 1.0)
    assert figures["api_save_rate"] is None


def test_billing_verified_save_rate(source, book):
    figures = selectors.case_summary(last_90_days(), source=source)

    # E and F were saved 45 and 40 days ago; E asked to cancel 10 days after its save.
    assert (figures["eligible_30"], figures["kept_30"], figures["verified_30"]) == (2, 1, 0.5)
    assert (figures["eligible_60"], figures["verified_60"]) == (0, None)


def test_revenue_kept_net_of_the_offers(source, book):
    figures = selectors.case_summary(last_90_days(), source=source)

    # kept 199 + 299 + 199 + 199 a month; offers: pause 1 x 199, downgrade 100 x 12,
    # pause 2 x 199, a free month 199.
    assert figures["kept_monthly"] == Decimal("896.00")
    assert figures["offer_cost"] == Decimal("1996.00")
    assert figures["revenue_kept_annual"] == Decimal("8756.00")
    assert figures["revenue_kept_monthly"] == Decimal("729.67")
    # (1996.00 in offers + one phone case at 50.00 a call) / 4 saves
    assert figures["cost_per_save"] == Decimal("511.50")


def test_filters_narrow_every_figure(source, book, plans):
    phone = selectors.case_summary(last_90_days(channel="phone"), source=source)
    premium = selectors.case_summary(last_90_days(plan=plans["premium"].pk), source=source)
    week = selectors.case_summary(
        Filters(start=timezone.localdate() - timedelta(days=6), end=timezone.localdate()),
        source=source,
    )
    pushed = selectors.case_summary(
        last_90_days(churn_group="unintentionally_pushed"), source=source
    )

    assert (phone["saved"], phone["cancelled"], phone["abandoned"]) == (1, 0, 0)
    assert (premium["saved"], premium["cancelled"], premium["abandoned"]) == (1, 0, 1)
    assert (week["saved"], week["cancelled"], week["abandoned"]) == (1, 1, 1)
    assert (pushed["saved"], pushed["cancelled"], pushed["abandoned"]) == (1, 1, 1)


def by_key(rows):
    return {row["key"]: (row["saved"], row["cancelled"], row["abandoned"]) for row in rows}


def test_breakdowns_by_every_dimension(source, book, agent):
    breakdowns = selectors.case_breakdowns(last_90_days(), source=source)

    assert by_key(breakdowns["reason"]) == {
        "I am moving": (2, 0, 0),
        "It costs too much": (1, 1, 1),
        "I no longer need it": (1, 0, 0),
    }
    assert by_key(breakdowns["churn_group"]) == {
        "self_switcher": (3, 0, 0),
        "unintentionally_pushed": (1, 1, 1),
    }
    assert by_key(breakdowns["offer_kind"]) == {
        "pause": (2, 0, 0),
        "downgrade": (1, 0, 0),
        "loyalty_bonus": (1, 0, 0),
        "": (0, 1, 1),
    }
    assert by_key(breakdowns["channel"]) == {"web": (3, 1, 1), "phone": (1, 0, 0)}
    assert by_key(breakdowns["agent"]) == {"": (3, 1, 1), agent.username: (1, 0, 0)}
    assert by_key(breakdowns["plan"]) == {"Standard": (3, 1, 0), "Premium": (1, 0, 1)}
    assert by_key(breakdowns["tenure"]) == {"5+ years": (4, 1, 1)}
    assert by_key(breakdowns["offer_rule"])[""] == (0, 1, 1)


def test_offer_acceptance_shown_against_accepted(source, book):
    rows = {
        (r["kind"], r["rule_name"]): (r["shown"], r["accepted"])
        for r in selectors.offer_acceptance(last_90_days(), source=source)
    }

    assert rows[("pause", "Pause for life changes")] == (2, 2)
    assert rows[("downgrade", "Cheaper plan when price matters")] == (4, 1)
    assert sum(shown for shown, _ in rows.values()) == 12  # two offers in each of six cases
    assert sum(accepted for _, accepted in rows.values()) == 4


def test_web_funnel(source, book):
    assert selectors.web_funnel(last_90_days(), source=source) == {
        "opened": 5,
        "reason_chosen": 5,
        "reason_skipped": 0,
        "offers_shown": 5,
        "accepted": 3,
        "declined": 1,
        "abandoned": 1,
        "still_open": 0,
    }


def test_figures_match_a_plain_sql_cross_check(source, book):
    filters = last_90_days()
    figures = selectors.case_summary(filters, source=source)
    with connection.cursor() as cursor:
        cursor.execute(
            """
            SELECT count(*) FILTER (WHERE c.outcome = 'saved'),
                   count(*) FILTER (WHERE c.outcome = 'cancelled'),
                   count(*) FILTER (WHERE c.outcome = 'abandoned'),
                   coalesce(sum(c.monthly_amount) FILTER (WHERE c.outcome = 'saved'), 0),
                   coalesce(sum(o.accepted_cost) FILTER (WHERE c.outcome = 'saved'), 0)
              FROM cancellations_cancellationcase c
              LEFT JOIN cancellations_offer o ON o.id = c.accepted_offer_id
             WHERE c.decided_at >= %s AND c.decided_at < %s
            """,
            [filters.since, filters.until],
        )
        saved, cancelled, abandoned, kept, cost = cursor.fetchone()
        cursor.execute(
            """
            SELECT o.kind, count(*), count(o.accepted_at)
              FROM cancellations_offer o
             WHERE o.presented_at >= %s AND o.presented_at < %s
             GROUP BY o.kind
            """,
            [filters.since, filters.until],
        )
        offers = {kind: (shown, accepted) for kind, shown, accepted in cursor.fetchall()}

    assert (figures["saved"], figures["cancelled"], figures["abandoned"]) == (
        saved,
        cancelled,
        abandoned,
    )
    assert (figures["kept_monthly"], figures["offer_cost"]) == (kept, cost)
    by_kind: dict[str, list[int]] = {}
    for row in selectors.offer_acceptance(filters, source=source):
        totals = by_kind.setdefault(row["kind"], [0, 0])
        totals[0] += row["shown"]
        totals[1] += row["accepted"]
    assert {kind: tuple(v) for kind, v in by_kind.items()} == offers


def test_the_whole_dashboard_reads_in_a_fixed_number_of_queries(
    book, django_assert_max_num_queries
):
    with django_assert_max_num_queries(9):
        data = selectors.dashboard(last_90_days())

    assert data["cases"]["saved"] == 4
    assert data["previous_cases"]["saved"] == 0
    assert data["mix"]["reason"]["rows"] == [{"key": "It costs too much", "counts": [1]}]
    assert data["retain_vs_winback"]["cost_per_save"] == Decimal("511.50")


def test_a_case_opened_through_a_staff_made_link_is_assisted_not_in_the_self_service_funnel(
    source, book, agent
):
    """Issue 21: the customer clicked a link an agent made; the case is the agent's (channel
    web, actor the agent) and the web funnel, which counts self-service, leaves it out."""
    from cancellations import services as case_services
    from subscriptions.actors import Actor
    from tests.factories import make_subscription

    subscription = make_subscription(plan=book["a"].plan)
    case_services.cancellation_start(
        subscription=subscription, actor=Actor.staff(agent, channel="web"), now=ago(3)
    )
    assert selectors.web_funnel(last_90_days(), source=source)["opened"] == 5


def test_the_web_funnel_counts_the_cancellations_that_skipped_the_reason_apart(source, book):
    """Issue 22: "cancel my subscription" on the first page opens and declines a case in one
    click: opened and declined, no reason chosen, no offer shown — a funnel row of its own."""
    from cancellations import services as case_services
    from subscriptions.actors import Actor
    from tests.factories import make_subscription

    case_services.cancellation_leave(
        subscription=make_subscription(plan=book["a"].plan), actor=Actor.customer(), now=ago(2)
    )
    assert selectors.web_funnel(last_90_days(), source=source) == {
        "opened": 6,
        "reason_chosen": 5,
        "reason_skipped": 1,
        "offers_shown": 5,
        "accepted": 3,
        "declined": 2,
        "abandoned": 1,
        "still_open": 0,
    }
