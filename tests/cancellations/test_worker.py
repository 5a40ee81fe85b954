"""The cancellation flow's Celery paths, run by a real worker against Redis."""

from datetime import timedelta

import pytest
from django.utils import timezone

from cancellations import services
from cancellations.enums import CaseOutcome
from cancellations.models import CancellationCase
from cancellations.tasks import abandon_stale_cases
from core.enums import EmailStatus
from core.models import OutboundEmail
from subscriptions.actors import Actor
from tests.cancellations.conftest import reason
from tests.helpers import wait_until

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]


def test_cancellation_receipt_is_mailed_by_the_worker(celery_worker, smtp_server, subscription):
    case = services.cancellation_start(subscription=subscription, actor=Actor.customer())
    services.cancellation_choose_reason(case=case, reason=reason("price"), actor=Actor.customer())
    services.cancellation_decline(case=case, actor=Actor.customer())
    services.cancellation_decline(case=case, actor=Actor.customer())  # a replay sends nothing

    wait_until(lambda: OutboundEmail.objects.filter(status=EmailStatus.SENT).exists())
    assert len(smtp_server.messages) == 1
    message = smtp_server.messages[0]
    assert message["To"] == subscription.customer.email
    # The customer is Swedish: the receipt is in Swedish and carries the undo link.
    assert message["Subject"].strip() == "Kvitto: ditt abonnemang hos Nordlys Media är uppsagt"
    text = message.get_body(preferencelist=("plain",)).get_content()
    assert "/cancel/undo/" in text
    assert "Sista dag" in text


def test_abandonment_sweep_runs_on_the_worker(celery_worker, subscription):
    services.cancellation_start(
        subscription=subscription, actor=Actor.customer(), now=timezone.now() - timedelta(days=2)
    )
    abandon_stale_cases.delay()
    wait_until(lambda: CancellationCase.objects.filter(outcome=CaseOutcome.ABANDONED).exists())
