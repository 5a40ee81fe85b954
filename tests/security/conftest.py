"""Two customers, each with a subscription, a decided cancellation case and a win-back
outreach, so every token page can be tried with its own customer and with the other one."""

import logging
from dataclasses import dataclass
from datetime import timedelta

import pytest
from django.utils import timezone

from cancellations import links as cancel_links
from cancellations import services as cancellation_services
from cancellations.models import CancellationCase, ExitReason
from core.links import make_token
from subscriptions.actors import Actor
from subscriptions.models import Customer, Subscription
from tests.factories import make_plan, make_subscription
from tests.winback.conftest import campaigns, defaults, make_lost  # noqa: F401 - shared fixtures
from winback import links as winback_links
from winback import services as winback_services
from winback.models import Campaign, Outreach


@dataclass
class Person:
    """One customer and a valid token for each public page that names something of theirs."""

    customer: Customer
    subscription: Subscription
    case: CancellationCase  # cancelled through the web flow, so its undo link works
    outreach: Outreach
    cancel_token: str
    undo_token: str
    comeback_token: str
    unsubscribe_token: str


def _cancelled_case(subscription: Subscription) -> CancellationCase:
    actor = Actor.customer()
    case = cancellation_services.cancellation_start(subscription=subscription, actor=actor)
    cancellation_services.cancellation_choose_reason(
        case=case, reason=ExitReason.objects.get(code="price"), actor=actor
    )
    return cancellation_services.cancellation_decline(case=case, actor=actor)


def _outreach(locale: str, django_capture_on_commit_callbacks) -> Outreach:
    name = "Bought away: when their new contract ends"
    Campaign.objects.exclude(name=name).update(active=False)
    Campaign.objects.filter(name=name).update(
        holdout_percent=0, first_contact_days=0, max_months_after_leaving=36
    )
    contact_at = timezone.now() - timedelta(days=2)
    lost = make_lost(
        reason="competitor_price", left_at=contact_at - timedelta(days=400), locale=locale
    )
    winback_services.outreach_plan()
    outreach = Outreach.objects.get(lost_customer=lost)
    Outreach.objects.filter(pk=outreach.pk).update(due_at=contact_at)
    with django_capture_on_commit_callbacks(execute=True):
        winback_services.outreach_send(outreach_id=outreach.pk, now=contact_at)
    outreach.refresh_from_db()
    return outreach


def make_person(locale: str, django_capture_on_commit_callbacks) -> Person:
    subscription = make_subscription(plan=make_plan(), locale=locale)
    case = _cancelled_case(subscription)
    outreach = _outreach(locale, django_capture_on_commit_callbacks)
    return Person(
        customer=subscription.customer,
        subscription=subscription,
        case=case,
        outreach=outreach,
        cancel_token=make_token(purpose="cancel", payload={"s": subscription.pk}),
        undo_token=cancel_links.undo_path(case=case).split("/")[-2],
        comeback_token=winback_links.comeback_url(outreach=outreach).split("/")[-2],
        unsubscribe_token=winback_links.unsubscribe_url(customer=outreach.customer).split("/")[-2],
    )


@pytest.fixture
def customer_a(campaigns, django_capture_on_commit_callbacks):  # noqa: F811
    return make_person("sv", django_capture_on_commit_callbacks)


@pytest.fixture
def customer_b(campaigns, django_capture_on_commit_callbacks):  # noqa: F811
    return make_person("da", django_capture_on_commit_callbacks)


@pytest.fixture
def quiet_request_log():
    """The fuzz tests' thousands of expected 4xx would each log a warning."""
    loggers = [logging.getLogger(name) for name in ("django.request", "django.security")]
    levels = [logger.level for logger in loggers]
    for logger in loggers:
        logger.setLevel(logging.ERROR)
    yield
    for logger, level in zip(loggers, levels, strict=True):
        logger.setLevel(level)
