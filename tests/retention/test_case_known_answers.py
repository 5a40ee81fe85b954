"""Case figures at their edges, against a book small enough to count on paper.

The expected numbers are written by hand from each test's story; none is computed with the
product's helpers. Each runs against the rollups and the scan."""

from datetime import date, timedelta

import pytest
from django.utils import timezone

from cancellations import services
from cancellations.models import ExitReason
from privacy.services import customer_erase
from retention import selectors
from retention.selectors import Filters
from retention.services import rollups_refresh
from subscriptions import services as subscription_services
from subscriptions.actors import Actor
from tests.factories import make_subscription

pytestmark = pytest.mark.django_db
WEB = Actor.customer()


def last_90_days() -> Filters:
    today = timezone.localdate()
    return Filters(start=today - timedelta(days=89), end=today)


def saved_at(plan, when, *, since=date(2019, 3, 14)):
    subscription = make_subscription(plan=plan, since=since)
    case = services.cancellation_start(subscription=subscription, actor=WEB, now=when)
    case = services.cancellation_choose_reason(
        case=case, reason=ExitReason.objects.get(code="moving"), actor=WEB, now=when
    )
    offer = case.offers.get(kind="pause", withdrawn=False)
    return services.offer_accept(
        case=case, offer_id=offer.pk, actor=WEB, options={"months": 1}, now=when
    )


def local_noon(days_ago: int):
    day = timezone.localdate() - timedelta(days=days_ago)
    return timezone.make_aware(timezone.datetime.combine(day, timezone.datetime.min.time())) + (
        timedelta(hours=12)
    )


def test_billing_verification_starts_on_day_30_and_a_request_on_day_30_counts(
    source, defaults, plans
):
    on_day_30 = saved_at(plans["standard"], local_noon(30))  # verifiable today
    saved_at(plans["standard"], local_noon(29))  # not yet: its 30 days end tomorrow
    left = saved_at(plans["standard"], local_noon(31))
    kept = saved_at(plans["standard"], local_noon(40))
    # Asked to cancel exactly 30 days after the save: inside the 30 days.
    subscription_services.subscription_schedule_cancel(
        subscription=left.subscription, actor=WEB, now=left.decided_at + timedelta(days=30)
    )
    # Asked 30 days and a minute after: kept for 30 days.
    subscription_services.subscription_schedule_cancel(
        subscription=kept.subscription,
        actor=WEB,
        now=kept.decided_at + timedelta(days=30, minutes=1),
    )
    assert on_day_30.outcome == "saved"
    rollups_refresh()

    figures = selectors.case_summary(last_90_days(), source=source)

    assert figures["saved"] == 4
    assert (figures["eligible_30"], figures["kept_30"], figures["verified_30"]) == (3, 2, 2 / 3)
    assert (figures["eligible_60"], figures["verified_60"]) == (0, None)


def test_tenure_bands_start_at_whole_years(source, defaults, plans):
    days_ago = 2 if (timezone.localdate() - timedelta(days=2)).day <= 28 else 5  # no 29-31
    case_day = timezone.localdate() - timedelta(days=days_ago)
    a_year_before = case_day.replace(year=case_day.year - 1)
    saved_at(plans["standard"], local_noon(days_ago), since=a_year_before)  # 12 months that day
    saved_at(
        plans["standard"], local_noon(days_ago), since=a_year_before + timedelta(days=1)
    )  # 11 months
    rollups_refresh()

    rows = selectors.case_breakdowns(last_90_days(), source=source)["tenure"]

    assert {r["key"]: r["saved"] for r in rows} == {"0–1 years": 1, "1–3 years": 1}  # noqa: RUF001


def test_erasure_leaves_every_figure_as_it_was(source, book, manager):
    before = selectors.case_summary(last_90_days(), source=source)

    customer_erase(customer=book["b"].customer, actor=Actor.staff(manager))
    customer_erase(customer=book["d"].customer, actor=Actor.staff(manager))
    rollups_refresh()
    after = selectors.case_summary(last_90_days(), source=source)

    assert (after["saved"], after["cancelled"], after["abandoned"]) == (4, 1, 1)
    assert after == before


def test_a_callback_keeps_the_case_open_until_it_is_decided(source, defaults, plans):
    subscription = make_subscription(plan=plans["standard"], since=date(2019, 3, 14))
    when = local_noon(3)
    case = services.cancellation_start(subscription=subscription, actor=WEB, now=when)
    case = services.cancellation_choose_reason(
        case=case,
        reason=ExitReason.objects.get(code="competitor_features"),
        actor=WEB,
        now=when,
    )
    offer = case.offers.get(kind="callback", withdrawn=False)
    services.offer_accept(case=case, offer_id=offer.pk, actor=WEB, options={}, now=when)
    rollups_refresh()

    figures = selectors.case_summary(last_90_days(), source=source)
    offers = selectors.offer_acceptance(last_90_days(), source=source)

    assert (figures["saved"], figures["cancelled"], figures["abandoned"]) == (0, 0, 0)
    assert figures["save_rate"] is None
    assert [(r["kind"], r["accepted"]) for r in offers if r["kind"] == "callback"] == [
        ("callback", 1)
    ]
