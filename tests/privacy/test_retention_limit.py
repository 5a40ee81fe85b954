"""Customers' free text is cleared once it is older than TACK_FREE_TEXT_RETENTION_DAYS."""

from datetime import timedelta

import pytest
from django.conf import settings as django_settings
from django.utils import timezone

from cancellations import services as cancellation_services
from cancellations.models import CancellationCase, ExitReason
from desk.models import CallbackRequest
from privacy import services
from subscriptions.actors import Actor
from tests.factories import make_subscription
from tests.winback.conftest import defaults, refresh  # noqa: F401
from winback.models import LostCustomer

pytestmark = pytest.mark.django_db


def left_with_words(days_ago: int, words: str, agent) -> CancellationCase:
    """A phone interview ``days_ago`` days ago: the case, its history, the lost customer and
    a follow-up call all hold ``words``."""
    at = timezone.now() - timedelta(days=days_ago)
    subscription = make_subscription()
    case = cancellation_services.phone_interview_log(
        subscription=subscription,
        agent=agent,
        reason=ExitReason.objects.get(code="moving"),
        outcome="follow_up",
        notes=words,
        follow_up_at=at + timedelta(days=1),
        now=at,
    )
    CallbackRequest.objects.filter(source_ref=case.pk).update(created_at=at)
    cancellation_services.cancellation_decline(
        case=case, actor=Actor.staff(agent), immediately=True, now=at
    )
    return case


def texts(case: CancellationCase) -> dict[str, list[str]]:
    return {
        "case": [case.__class__.objects.get(pk=case.pk).reason_text],
        "history": sorted(
            set(CancellationCase.history.filter(id=case.pk).values_list("notes", flat=True))
        ),
        "lost": list(LostCustomer.objects.filter(case=case).values_list("reason_text", flat=True)),
        "callback": list(
            CallbackRequest.objects.filter(source_ref=case.pk).values_list("hints", flat=True)
        ),
    }


def test_old_free_text_is_cleared_and_recent_text_kept(defaults, agent):  # noqa: F811
    old = left_with_words(800, "Old words about the divorce", agent)
    recent = left_with_words(100, "Recent words about the new job", agent)
    refresh()

    cleared = services.free_text_clear_expired()

    assert texts(old) == {"case": [""], "history": [""], "lost": [""], "callback": [""]}
    assert texts(recent) == {
        "case": ["Recent words about the new job"],
        "history": ["", "Recent words about the new job"],
        "lost": ["Recent words about the new job"],
        "callback": ["Recent words about the new job"],
    }
    assert cleared["cases"] == 1 and cleared["lost_customer_records"] == 1
    assert CancellationCase.objects.get(pk=old.pk).outcome == "cancelled"  # the facts stay


def test_the_age_is_configurable(defaults, agent, settings):  # noqa: F811
    recent = left_with_words(100, "Recent words", agent)
    settings.TACK_FREE_TEXT_RETENTION_DAYS = 30

    services.free_text_clear_expired()

    assert texts(recent)["case"] == [""]


def test_the_clearing_runs_every_night():
    schedule = django_settings.CELERY_BEAT_SCHEDULE["privacy-clear-old-free-text"]
    assert schedule["task"] == "privacy.clear_old_free_text"
    assert django_settings.TACK_FREE_TEXT_RETENTION_DAYS == 730
