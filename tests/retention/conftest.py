from datetime import date, timedelta

import pytest
from django.utils import timezone

from cancellations import services
from cancellations.models import ExitReason
from retention import rollups, scan
from retention.services import rollups_refresh
from subscriptions import services as subscription_services
from subscriptions.actors import Actor
from tests.cancellations.conftest import defaults, plans, subscription  # noqa: F401 - shared fixtures
from tests.factories import make_subscription

WEB = Actor.customer()


def ago(days: int):
    return timezone.now() - timedelta(days=days)


def web_case(plan, code: str, days_ago: int, **customer):
    leaving = make_subscription(plan=plan, since=date(2019, 3, 14), **customer)
    case = services.cancellation_start(subscription=leaving, actor=WEB, now=ago(days_ago))
    return services.cancellation_choose_reason(
        case=case, reason=ExitReason.objects.get(code=code), actor=WEB, now=ago(days_ago)
    )


def accept(case, kind: str, days_ago: int, **options):
    offer = case.offers.get(kind=kind, withdrawn=False)
    return services.offer_accept(
        case=case, offer_id=offer.pk, actor=WEB, options=options, now=ago(days_ago)
    )


@pytest.fixture
def book(defaults, plans, agent):  # noqa: F811
    """Six cases with known answers (see test_figures)."""
    a = accept(web_case(plans["standard"], "moving", 10), "pause", 10, months=1)
    b = services.cancellation_decline(
        case=web_case(plans["standard"], "price", 5), actor=WEB, now=ago(5)
    )
    c = web_case(plans["premium"], "price", 3)
    services.cases_abandon_stale(now=ago(2))
    d = services.phone_interview_log(
        subscription=make_subscription(plan=plans["premium"], since=date(2019, 3, 14)),
        agent=agent,
        reason=ExitReason.objects.get(code="price"),
        outcome="saved",
        offer_kind="downgrade",
        now=ago(1),
    )
    e = accept(web_case(plans["standard"], "moving", 45), "pause", 45, months=2)
    subscription_services.subscription_schedule_cancel(
        subscription=e.subscription, actor=WEB, now=ago(35)
    )
    f = accept(web_case(plans["standard"], "no_need", 40), "loyalty_bonus", 40)
    c.refresh_from_db()
    rollups_refresh()
    return {"a": a, "b": b, "c": c, "d": d, "e": e, "f": f}


class RefreshedRollups:
    """The rollups as a source, brought up to date before each read (the page itself reads
    whatever the last refresh left)."""

    def __getattr__(self, name):
        rollups_refresh()
        return getattr(rollups, name)


@pytest.fixture(params=["rollups", "scan"])
def source(request):
    """Each figure test runs against the rollups and against the raw scan they must equal."""
    return RefreshedRollups() if request.param == "rollups" else scan
