"""Webhook deliveries through the outbox: post, record, retry, sweep, redeliver.

Delivery promise: **at least once**. A worker that stops during a POST (its claim's lease
runs out) cannot know whether the receiver acted on it, so the delivery is posted again with
the same event id (``Tack-Event-Id``), by which the receiver de-duplicates. Failed attempts
are retried with exponential backoff until ``TACK_WEBHOOK_GIVE_UP_HOURS``; every attempt is
logged with the receiver's status, latency and error. Signing and the payload live in
``core.webhooks``.
"""

import logging
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone

from core import outbox
from core.enums import WebhookDeliveryStatus as Status
from core.models import WebhookAttempt, WebhookDelivery, WebhookEndpoint
from core.webhooks import DELIVER_TASK, AttemptResult, _post

logger = logging.getLogger(__name__)

LOST_CLAIM = "No result recorded: the worker stopped during the request (lease expired)."


def retry_delay(schedule_attempts: int) -> timedelta:
    """1, 2, 4, 8 … times the base after the 1st, 2nd, 3rd … failed attempt, up to the cap."""
    return outbox.backoff(
        schedule_attempts,
        base=settings.TACK_WEBHOOK_RETRY_BASE_SECONDS,
        cap=settings.TACK_WEBHOOK_RETRY_MAX_SECONDS,
    )


def webhook_deliver(*, delivery_id: int, now: datetime | None = None) -> str:
    """Post one due delivery, unless its endpoint is inactive or someone else claimed it.

    The delivery is read first; then the claim (PENDING → SENDING, a conditional update) and
    the outcome are two short writes, the request runs outside both. A 2xx answer delivers
    the event; anything else (or no answer within ``TACK_WEBHOOK_TIMEOUT_SECONDS``) schedules
    the next attempt, or gives up when that would fall after ``TACK_WEBHOOK_GIVE_UP_HOURS``.
    Returns the delivery's status afterwards, or "" when this call did not attempt it.
    """
    now = now or timezone.now()
    delivery = (
        WebhookDelivery.objects.select_related("endpoint")
        .filter(pk=delivery_id, endpoint__active=True, status=Status.PENDING)
        .first()
    )
    if delivery is None or not outbox.claim(
        WebhookDelivery,
        delivery_id,
        due=Q(next_attempt_at__lte=now),
        now=now,
        schedule_attempts=F("schedule_attempts") + 1,
    ):
        return ""
    delivery.attempts += 1
    delivery.schedule_attempts += 1
    result = _post(delivery)
    return outbox.record(
        lambda: _record(delivery, result, claimed_at=now), what=f"webhook delivery {delivery.pk}"
    )


def _record(delivery: WebhookDelivery, result: AttemptResult, *, claimed_at: datetime) -> str:
    with transaction.atomic():
        WebhookAttempt.objects.create(
            delivery=delivery,
            number=delivery.attempts,
            started_at=claimed_at,
            status_code=result.status_code,
            latency_ms=result.latency_ms,
            error=result.error,
        )
        # Only while the claim is still ours: the sweep may have released it meanwhile.
        mine = WebhookDelivery.objects.filter(
            pk=delivery.pk, status=Status.SENDING, claimed_at=claimed_at
        )
        if result.ok:
            status = Status.DELIVERED
            updated = mine.update(
                status=status,
                delivered_at=claimed_at + timedelta(milliseconds=result.latency_ms),
                last_status_code=result.status_code,
                last_error="",
            )
        else:
            next_at = claimed_at + retry_delay(delivery.schedule_attempts)
            give_up_at = delivery.schedule_started_at + timedelta(
                hours=settings.TACK_WEBHOOK_GIVE_UP_HOURS
            )
            status = Status.FAILED if next_at > give_up_at else Status.PENDING
            updated = mine.update(
                **outbox.release_fields(
                    status=status,
                    next_attempt_at=next_at,
                    last_status_code=result.status_code,
                    last_error=result.error or f"HTTP {result.status_code}",
                )
            )
    if not updated:
        logger.warning(
            "webhook delivery %s: claim lost before the result was recorded", delivery.pk
        )
    elif not result.ok:
        logger.info(
            "webhook delivery %s attempt %s failed (%s): %s",
            delivery.pk,
            delivery.attempts,
            status,
            result.error,
        )
    return status


def webhook_sweep(*, now: datetime | None = None, batch_size: int = 500) -> list[int]:
    """Release the claims of workers that died mid-request and enqueue every due delivery.

    A claim older than ``TACK_WEBHOOK_LEASE_SECONDS`` means the worker stopped before it
    recorded the answer: the attempt is logged as lost and the delivery retried at once
    (at least once: the receiver may see the event twice; its id lets it de-duplicate).
    Deliveries of inactive endpoints wait. Rows published within the lease are left alone,
    unless the broker restarted empty since.
    """
    now = now or timezone.now()
    lease = settings.TACK_WEBHOOK_LEASE_SECONDS
    with transaction.atomic():
        lost = list(
            outbox.expired_claims(WebhookDelivery, lease_seconds=lease, now=now)
            .select_for_update(skip_locked=True)
            .values_list("pk", "attempts", "claimed_at")
        )
        if lost:
            WebhookAttempt.objects.bulk_create(
                WebhookAttempt(delivery_id=pk, number=attempts, started_at=at, error=LOST_CLAIM)
                for pk, attempts, at in lost
            )
            WebhookDelivery.objects.filter(pk__in=[row[0] for row in lost]).update(
                status=Status.PENDING, claimed_at=None, enqueued_at=None, last_error=LOST_CLAIM
            )
    pending = WebhookDelivery.objects.filter(status=Status.PENDING)
    outbox.requeue_if_broker_restarted("webhooks", pending)
    active = WebhookEndpoint.objects.filter(active=True).values("pk")
    return outbox.claim_and_enqueue(
        pending.filter(next_attempt_at__lte=now, endpoint__in=active).order_by(
            "next_attempt_at", "pk"
        ),
        task_name=DELIVER_TASK,
        now=now,
        requeue_before=now - timedelta(seconds=lease),
        batch_size=batch_size,
    )


@transaction.atomic
def webhook_redeliver(*, delivery_id: int, now: datetime | None = None) -> bool:
    """Send a delivery again, same event id, on a fresh retry schedule (a manager's replay).

    A delivery that is being posted right now is left alone. Returns whether it was queued.
    """
    now = now or timezone.now()
    updated = (
        WebhookDelivery.objects.filter(pk=delivery_id)
        .exclude(status=Status.SENDING)
        .update(
            status=Status.PENDING,
            schedule_started_at=now,
            schedule_attempts=0,
            next_attempt_at=now,
            enqueued_at=now,
        )
    )
    if updated:
        outbox.enqueue_on_commit(DELIVER_TASK, delivery_id, model=WebhookDelivery)
    return bool(updated)
