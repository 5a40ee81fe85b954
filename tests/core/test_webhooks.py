"""Outbound webhooks against a real HTTP receiver on localhost: signatures, retries with
backoff, timeouts, giving up, lost workers and the outbox's transaction guarantees."""

import time
from datetime import timedelta

import pytest
from django.db import transaction
from django.utils import timezone

from core import webhooks
from core.enums import WebhookDeliveryStatus, WebhookEventType
from core.models import WebhookAttempt, WebhookDelivery, WebhookSequence
from core.outbox import webhooks as webhook_outbox
from subscriptions import services as subscription_services
from subscriptions.actors import Actor
from tests.factories import make_endpoint, make_subscription

pytestmark = pytest.mark.django_db

PAUSED = WebhookEventType.SUBSCRIPTION_PAUSED


def publish(scope: str = "subscription:1") -> WebhookDelivery:
    webhooks.webhook_publish(event_type=PAUSED, scope=scope, data={"subscription": {"id": "s1"}})
    return WebhookDelivery.objects.latest("pk")


def attempt_log(delivery: WebhookDelivery) -> list[tuple]:
    return list(
        WebhookAttempt.objects.filter(delivery=delivery)
        .order_by("number", "pk")
        .values_list("number", "status_code")
    )


def test_delivery_is_signed_with_the_endpoint_secret(
    webhook_receiver, django_capture_on_commit_callbacks
):
    endpoint = make_endpoint(url=webhook_receiver.url, event_types=[PAUSED])
    subscription = make_subscription()

    with django_capture_on_commit_callbacks(execute=True):
        subscription_services.subscription_pause(
            subscription=subscription,
            until=timezone.now() + timedelta(days=30),
            actor=Actor.customer(),
        )

    [request] = webhook_receiver.requests
    delivery = WebhookDelivery.objects.get()
    header = request.headers["Tack-Signature"]
    assert webhooks.verify(secret=endpoint.secret, header=header, body=request.body)
    assert not webhooks.verify(secret="whsec_someone-else", header=header, body=request.body)
    assert not webhooks.verify(secret=endpoint.secret, header=header, body=request.body + b" ")
    signed_at = int(header.split(",")[0].removeprefix("t="))
    assert abs(signed_at - time.time()) < 60
    assert not webhooks.verify(
        secret=endpoint.secret, header=header, body=request.body, now=signed_at + 301
    )
    assert request.headers["Tack-Event-Id"] == request.json["id"] == str(delivery.event_id)
    assert request.headers["Tack-Event-Type"] == PAUSED
    assert request.headers["Content-Type"] == "application/json"
    assert request.json["type"] == PAUSED and request.json["version"] == 1
    delivery.refresh_from_db()
    assert delivery.status == WebhookDeliveryStatus.DELIVERED
    [attempt] = delivery.attempt_log.all()
    assert (attempt.number, attempt.status_code, attempt.error) == (1, 200, "")
    assert attempt.latency_ms is not None


def test_delivery_retries_after_a_500_with_backoff_then_succeeds(webhook_receiver):
    make_endpoint(url=webhook_receiver.url, event_types=[PAUSED])
    webhook_receiver.answer((500, 0), (503, 0))
    delivery = publish()
    start = timezone.now()

    assert webhook_outbox.webhook_deliver(delivery_id=delivery.pk, now=start) == "pending"
    delivery.refresh_from_db()
    assert delivery.next_attempt_at == start + timedelta(minutes=1)
    assert delivery.last_status_code == 500
    # Not yet due: a duplicate task or an early sweep does nothing.
    assert webhook_outbox.webhook_deliver(delivery_id=delivery.pk, now=start) == ""

    second = delivery.next_attempt_at
    assert webhook_outbox.webhook_deliver(delivery_id=delivery.pk, now=second) == "pending"
    delivery.refresh_from_db()
    assert delivery.next_attempt_at == second + timedelta(minutes=2)

    third = delivery.next_attempt_at
    assert webhook_outbox.webhook_deliver(delivery_id=delivery.pk, now=third) == "delivered"

    assert attempt_log(delivery) == [(1, 500), (2, 503), (3, 200)]
    assert {request.json["id"] for request in webhook_receiver.requests} == {str(delivery.event_id)}
    assert [r.headers["Tack-Delivery-Attempt"] for r in webhook_receiver.requests] == [
        "1",
        "2",
        "3",
    ]
    delivery.refresh_from_db()
    assert (delivery.status, delivery.last_error) == ("delivered", "")
    assert "HTTP 503" in WebhookAttempt.objects.get(delivery=delivery, number=2).error


def test_delivery_retries_after_a_timeout(webhook_receiver, settings):
    settings.TACK_WEBHOOK_TIMEOUT_SECONDS = 0.3
    make_endpoint(url=webhook_receiver.url, event_types=[PAUSED])
    webhook_receiver.answer((200, 1.0))  # answers, but too late
    delivery = publish()
    start = timezone.now()

    assert webhook_outbox.webhook_deliver(delivery_id=delivery.pk, now=start) == "pending"
    timed_out = WebhookAttempt.objects.get(delivery=delivery)
    assert timed_out.status_code is None
    assert "timed out" in timed_out.error
    assert timed_out.latency_ms >= 300

    delivery.refresh_from_db()
    assert webhook_outbox.webhook_deliver(
        delivery_id=delivery.pk, now=delivery.next_attempt_at
    ) == ("delivered")
    assert attempt_log(delivery) == [(1, None), (2, 200)]


def test_delivery_to_a_closed_port_is_retried(settings):
    from tests.conftest import free_port

    make_endpoint(url=f"http://127.0.0.1:{free_port()}/nobody", event_types=[PAUSED])
    delivery = publish()

    assert webhook_outbox.webhook_deliver(delivery_id=delivery.pk) == "pending"
    delivery.refresh_from_db()
    assert delivery.last_status_code is None
    assert "refused" in delivery.last_error.lower()


def test_delivery_gives_up_after_three_days_of_failures(webhook_receiver):
    make_endpoint(url=webhook_receiver.url, event_types=[PAUSED])
    webhook_receiver.answer(*[(500, 0)] * 30)
    delivery = publish()
    start = delivery.schedule_started_at
    now = start

    while webhook_outbox.webhook_deliver(delivery_id=delivery.pk, now=now) == "pending":
        delivery.refresh_from_db()
        now = delivery.next_attempt_at

    delivery.refresh_from_db()
    assert delivery.status == WebhookDeliveryStatus.FAILED
    # 1, 2, 4 … 256 minutes apart, then every 6 hours: the 20th attempt is the last
    # before 72 hours have passed.
    assert delivery.attempts == len(webhook_receiver.requests) == 20
    last = WebhookAttempt.objects.filter(delivery=delivery).latest("number").started_at
    assert timedelta(hours=66) < last - start <= timedelta(hours=72)
    assert (
        webhook_outbox.webhook_deliver(delivery_id=delivery.pk, now=now + timedelta(days=1)) == ""
    )


def test_sweep_retries_a_delivery_whose_worker_died_mid_request(
    webhook_receiver, django_capture_on_commit_callbacks, settings
):
    make_endpoint(url=webhook_receiver.url, event_types=[PAUSED])
    delivery = publish()
    now = timezone.now()
    claimed_at = now - timedelta(seconds=settings.TACK_WEBHOOK_LEASE_SECONDS + 1)
    # A worker claimed it, and was killed before it recorded the receiver's answer.
    WebhookDelivery.objects.filter(pk=delivery.pk).update(
        status=WebhookDeliveryStatus.SENDING, claimed_at=claimed_at, attempts=1
    )
    assert webhook_outbox.webhook_deliver(delivery_id=delivery.pk) == ""  # a duplicate task

    with django_capture_on_commit_callbacks(execute=True):
        assert webhook_outbox.webhook_sweep(now=now) == [delivery.pk]

    delivery.refresh_from_db()
    assert delivery.status == WebhookDeliveryStatus.DELIVERED
    assert attempt_log(delivery) == [(1, None), (2, 200)]
    assert (
        WebhookAttempt.objects.get(delivery=delivery, number=1).error == webhook_outbox.LOST_CLAIM
    )


def test_sweep_reenqueues_a_delivery_whose_task_was_lost(
    webhook_receiver, django_capture_on_commit_callbacks, settings
):
    make_endpoint(url=webhook_receiver.url, event_types=[PAUSED])
    delivery = publish()  # its task is never run: the broker lost it
    now = timezone.now()

    with django_capture_on_commit_callbacks(execute=True):
        assert webhook_outbox.webhook_sweep(now=now) == []  # enqueued just now: not yet
        later = now + timedelta(seconds=settings.TACK_WEBHOOK_LEASE_SECONDS + 1)
        assert webhook_outbox.webhook_sweep(now=later) == [delivery.pk]

    delivery.refresh_from_db()
    assert delivery.status == WebhookDeliveryStatus.DELIVERED
    assert len(webhook_receiver.requests) == 1


def test_deliveries_of_an_inactive_endpoint_wait_until_it_is_active(
    webhook_receiver, django_capture_on_commit_callbacks, settings
):
    endpoint = make_endpoint(url=webhook_receiver.url, event_types=[PAUSED])
    delivery = publish()
    endpoint.active = False
    endpoint.save()
    later = timezone.now() + timedelta(seconds=settings.TACK_WEBHOOK_LEASE_SECONDS + 1)

    with django_capture_on_commit_callbacks(execute=True):
        assert webhook_outbox.webhook_deliver(delivery_id=delivery.pk) == ""
        assert webhook_outbox.webhook_sweep(now=later) == []
        endpoint.active = True
        endpoint.save()
        assert webhook_outbox.webhook_sweep(now=later) == [delivery.pk]

    assert WebhookDelivery.objects.get().status == WebhookDeliveryStatus.DELIVERED


def test_publish_fans_out_to_each_active_endpoint_that_wants_the_type(webhook_receiver):
    billing = make_endpoint(url=webhook_receiver.url, event_types=[PAUSED])
    crm = make_endpoint(url=webhook_receiver.url)  # every type
    make_endpoint(url=webhook_receiver.url, event_types=[WebhookEventType.WINBACK_COMEBACK])
    make_endpoint(url=webhook_receiver.url, event_types=[PAUSED], active=False)

    event_id = webhooks.webhook_publish(event_type=PAUSED, scope="subscription:9", data={})

    deliveries = WebhookDelivery.objects.order_by("endpoint_id")
    assert [d.endpoint_id for d in deliveries] == [billing.pk, crm.pk]
    assert {d.event_id for d in deliveries} == {event_id}
    assert webhooks.webhook_publish(event_type="nobody.wants", scope="x", data={}) is None


def test_the_cached_subscribers_follow_every_change_of_an_endpoint(
    django_assert_num_queries, django_capture_on_commit_callbacks
):
    """The list is read once and then kept (every change asks for it), and an endpoint
    added, switched off, given other types or deleted counts from the next change on."""
    assert webhooks.webhook_subscribers(PAUSED) == []
    with django_assert_num_queries(0):
        assert webhooks.webhook_subscribers(PAUSED) == []
    with django_capture_on_commit_callbacks(execute=True):
        endpoint = make_endpoint(url="https://hooks.example.com/a", event_types=[PAUSED])
    assert webhooks.webhook_subscribers(PAUSED) == [endpoint.pk]
    with django_assert_num_queries(0):
        assert webhooks.webhook_subscribers(WebhookEventType.WINBACK_COMEBACK) == []
    endpoint.event_types = [WebhookEventType.WINBACK_COMEBACK]
    endpoint.save()
    assert webhooks.webhook_subscribers(PAUSED) == []
    assert webhooks.webhook_subscribers(WebhookEventType.WINBACK_COMEBACK) == [endpoint.pk]
    endpoint.active = False
    endpoint.save()
    assert webhooks.webhook_subscribers(WebhookEventType.WINBACK_COMEBACK) == []
    endpoint.active = True
    endpoint.save()
    assert webhooks.webhook_subscribers(WebhookEventType.WINBACK_COMEBACK) == [endpoint.pk]
    endpoint.delete()
    assert webhooks.webhook_subscribers(WebhookEventType.WINBACK_COMEBACK) == []


def test_a_rolled_back_change_emits_nothing(webhook_receiver, django_capture_on_commit_callbacks):
    make_endpoint(url=webhook_receiver.url)
    subscription = make_subscription()

    with (
        django_capture_on_commit_callbacks(execute=True),
        pytest.raises(RuntimeError),
        transaction.atomic(),
    ):
        subscription_services.subscription_pause(
            subscription=subscription,
            until=timezone.now() + timedelta(days=30),
            actor=Actor.customer(),
        )
        assert WebhookDelivery.objects.count() == 1
        raise RuntimeError("the billing system said no")

    assert WebhookDelivery.objects.count() == 0
    assert not WebhookSequence.objects.filter(scope=f"subscription:{subscription.pk}").exists()
    assert webhook_receiver.requests == []


def test_redirects_are_not_followed(webhook_receiver):
    make_endpoint(url=webhook_receiver.url, event_types=[PAUSED])
    webhook_receiver.answer((302, 0))
    delivery = publish()

    assert webhook_outbox.webhook_deliver(delivery_id=delivery.pk) == "pending"
    assert attempt_log(delivery) == [(1, 302)]
    assert len(webhook_receiver.requests) == 1


def test_log_purge_forgets_old_finished_deliveries(webhook_receiver, settings):
    make_endpoint(url=webhook_receiver.url, event_types=[PAUSED])
    old, pending = publish(), publish()
    webhook_outbox.webhook_deliver(delivery_id=old.pk)
    ages_ago = timezone.now() - timedelta(days=settings.TACK_WEBHOOK_LOG_RETENTION_DAYS + 1)
    WebhookDelivery.objects.update(created_at=ages_ago)

    assert webhooks.webhook_log_purge() == 1

    assert list(WebhookDelivery.objects.values_list("pk", flat=True)) == [pending.pk]
    assert not WebhookAttempt.objects.exists()
