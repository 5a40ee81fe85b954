"""Webhook deliveries through a real Celery worker on Redis to a real HTTP receiver."""

from datetime import timedelta

import pytest
from django.utils import timezone

from core import webhooks
from core.enums import WebhookDeliveryStatus
from core.models import WebhookAttempt, WebhookDelivery
from core.tasks import sweep_webhooks
from subscriptions import services as subscription_services
from subscriptions.actors import Actor
from tests.factories import make_endpoint, make_subscription
from tests.helpers import wait_until

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]


def test_worker_delivers_and_the_sweep_retries_a_failed_attempt(
    celery_worker, webhook_receiver, settings
):
    settings.TACK_WEBHOOK_RETRY_BASE_SECONDS = 0  # the retry is due at once
    endpoint = make_endpoint(url=webhook_receiver.url, event_types=["subscription.paused"])
    subscription = make_subscription()
    webhook_receiver.answer((500, 0))

    subscription_services.subscription_pause(
        subscription=subscription, until=timezone.now() + timedelta(days=30), actor=Actor.customer()
    )
    delivery = WebhookDelivery.objects.get()
    wait_until(lambda: WebhookAttempt.objects.filter(delivery=delivery).exists())
    wait_until(lambda: WebhookDelivery.objects.get().status == WebhookDeliveryStatus.PENDING)
    sweep_webhooks.delay()  # what beat does every 15 seconds
    wait_until(lambda: WebhookDelivery.objects.get().status == WebhookDeliveryStatus.DELIVERED)

    assert list(WebhookAttempt.objects.order_by("number").values_list("number", "status_code")) == [
        (1, 500),
        (2, 200),
    ]
    assert [r.headers["Tack-Event-Id"] for r in webhook_receiver.requests] == [
        str(delivery.event_id)
    ] * 2
    last = webhook_receiver.requests[-1]
    assert webhooks.verify(
        secret=endpoint.secret, header=last.headers["Tack-Signature"], body=last.body
    )
