"""Data migrations of the cancellation flow, run on the data they were written for."""

import importlib

import pytest
from django.apps import apps

from cancellations import services
from cancellations.models import CancellationCase, CaseStep
from subscriptions.actors import Actor
from tests.cancellations.conftest import reason
from tests.factories import make_subscription
from tests.retention.conftest import ago

pytestmark = pytest.mark.django_db

WEB = Actor.customer()


def test_cases_a_page_view_opened_are_forgotten_and_every_other_case_stays(defaults, plans, agent):
    """Migration 0010: before issue 22 a GET of the cancel link opened a case; one nobody
    clicked on (no reason, still open or abandoned) is what a scanner left behind."""
    forget = importlib.import_module(
        "cancellations.migrations.0010_forget_cases_opened_by_a_page_view"
    ).forget
    viewed_open = services.cancellation_start(
        subscription=make_subscription(plan=plans["standard"]), actor=WEB
    )
    viewed_abandoned = services.cancellation_start(
        subscription=make_subscription(plan=plans["standard"]), actor=WEB, now=ago(3)
    )
    with_reason = services.cancellation_open(
        subscription=make_subscription(plan=plans["standard"]),
        actor=WEB,
        reason=reason("price"),
        now=ago(3),
    ).case
    services.cases_abandon_stale(now=ago(1))
    skipped = services.cancellation_leave(
        subscription=make_subscription(plan=plans["standard"]), actor=WEB
    )
    phone = services.phone_interview_log(
        subscription=make_subscription(plan=plans["standard"]),
        agent=agent,
        reason=reason("price"),
        outcome="cancelled",
    )
    gone = [viewed_open.pk, viewed_abandoned.pk]
    assert CancellationCase.objects.get(pk=viewed_abandoned.pk).outcome == "abandoned"

    forget(apps, None)

    assert set(CancellationCase.objects.values_list("pk", flat=True)) == {
        with_reason.pk,
        skipped.pk,
        phone.pk,
    }
    assert not CaseStep.objects.filter(case_id__in=gone).exists()
    assert not CancellationCase.history.filter(id__in=gone).exists()
    assert CancellationCase.objects.get(pk=with_reason.pk).outcome == "abandoned"
