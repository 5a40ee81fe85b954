"""The cancellation flow tells the company's systems what happened, in order."""

from datetime import timedelta

import pytest
from django.utils import timezone

from cancellations import services
from cancellations.enums import OfferKind
from core.models import WebhookDelivery
from subscriptions.actors import Actor
from tests.cancellations.conftest import reason
from tests.factories import make_endpoint

pytestmark = pytest.mark.django_db
WEB = Actor.customer()


@pytest.fixture
def endpoint(db):
    return make_endpoint(url="http://127.0.0.1:9/unused")


def sent() -> list[tuple[int, str]]:
    return list(WebhookDelivery.objects.order_by("pk").values_list("sequence", "event_type"))


def test_a_saved_case_emits_started_the_offer_and_saved_in_order(subscription, endpoint):
    case = services.cancellation_start(subscription=subscription, actor=WEB)
    case = services.cancellation_choose_reason(
        case=case, reason=reason("moving"), actor=WEB, text="Vi flyttar till Umeå"
    )
    pause = case.offers.get(kind=OfferKind.PAUSE)

    case = services.offer_accept(case=case, offer_id=pause.pk, actor=WEB, options={"months": 2})

    assert sent() == [
        (1, "cancellation.started"),
        (2, "subscription.paused"),
        (3, "cancellation.saved"),
    ]
    saved = WebhookDelivery.objects.get(event_type="cancellation.saved").payload
    assert saved["data"]["cancellation"] == {
        "id": case.pk,
        "channel": "web",
        "outcome": "saved",
        "reason": "moving",
        "churn_group": None,
        "opened_at": saved["data"]["cancellation"]["opened_at"],
        "decided_at": saved["data"]["cancellation"]["decided_at"],
        "cancel_effective_at": None,
        "accepted_offer": {"kind": "pause", "cost": "398.00", "currency": "SEK"},
    }
    assert saved["data"]["subscription"]["status"] == "paused"
    assert "Umeå" not in str(saved)  # free text stays in Tack


def test_a_declined_case_emits_the_scheduled_cancellation_and_cancelled(subscription, endpoint):
    case = services.cancellation_start(subscription=subscription, actor=WEB)
    services.cancellation_choose_reason(case=case, reason=reason("price"), actor=WEB)

    services.cancellation_decline(case=case, actor=WEB)
    services.cancellation_decline(case=case, actor=WEB)  # a replay emits nothing more

    assert sent() == [
        (1, "cancellation.started"),
        (2, "subscription.cancel_scheduled"),
        (3, "cancellation.cancelled"),
    ]
    cancelled = WebhookDelivery.objects.get(event_type="cancellation.cancelled").payload["data"]
    subscription.refresh_from_db()
    assert cancelled["cancellation"]["cancel_effective_at"] == subscription.cancel_at.isoformat()
    assert cancelled["subscription"]["status"] == "cancel_pending"


def test_undoing_a_cancellation_emits_the_withdrawal(subscription, endpoint):
    case = services.cancellation_start(subscription=subscription, actor=WEB)
    services.cancellation_choose_reason(case=case, reason=reason("price"), actor=WEB)
    services.cancellation_decline(case=case, actor=WEB)

    services.cancellation_withdraw(case=case, actor=WEB)

    assert sent()[-1] == (4, "subscription.cancel_withdrawn")


def test_abandoned_cases_emit_abandoned(subscription, endpoint):
    services.cancellation_start(
        subscription=subscription, actor=WEB, now=timezone.now() - timedelta(days=2)
    )

    assert services.cases_abandon_stale() == 1

    assert sent() == [(1, "cancellation.started"), (2, "cancellation.abandoned")]
    abandoned = WebhookDelivery.objects.get(event_type="cancellation.abandoned").payload["data"]
    assert abandoned["cancellation"]["outcome"] == "abandoned"
