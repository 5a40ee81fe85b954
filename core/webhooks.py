"""Signed outbound webhooks to the company's billing and CRM: signing, payloads, publishing,
and the one HTTP request of an attempt (``_post``).

``webhook_publish`` runs inside the transaction of the change it reports and writes one
delivery row per active endpoint that subscribes to the event type, so a rolled-back change
emits nothing. After commit the outbox posts each row (``core.outbox.webhooks``: claims,
retries with backoff, the sweep, at-least-once delivery).

Each POST is signed: ``Tack-Signature: t=<unix time>,v1=<hex HMAC-SHA256(secret, "t.body")>``.
"""

import hashlib
import hmac
import json
import logging
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.core.serializers.json import DjangoJSONEncoder
from django.db import connection, transaction
from django.utils import timezone

from core import outbound
from core.enums import WEBHOOK_TEST_EVENT
from core.enums import WebhookDeliveryStatus as Status
from core.models import (
    WebhookAttempt,
    WebhookDelivery,
    WebhookEndpoint,
    WebhookSequence,
    webhook_secret,
)
from core.outbox import enqueue_on_commit

logger = logging.getLogger(__name__)

PAYLOAD_VERSION = 1
SIGNATURE_HEADER = "Tack-Signature"
USER_AGENT = "Tack-Webhooks/1"
DELIVER_TASK = "core.deliver_webhook"


# --- Signing -------------------------------------------------------------------------


def sign(*, secret: str, timestamp: int, body: bytes) -> str:
    """The ``Tack-Signature`` header for ``body`` sent at ``timestamp`` (Unix seconds)."""
    digest = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return f"t={timestamp},v1={digest.hexdigest()}"


def verify(
    *, secret: str, header: str, body: bytes, tolerance: int = 300, now: float | None = None
) -> bool:
    """What a receiver does: the signature matches and the timestamp is recent (no replays)."""
    parts = dict(part.split("=", 1) for part in header.split(",") if "=" in part)
    try:
        timestamp = int(parts["t"])
    except (KeyError, ValueError):
        return False
    if abs((now or time.time()) - timestamp) > tolerance:
        return False
    expected = sign(secret=secret, timestamp=timestamp, body=body).split("v1=", 1)[1]
    return hmac.compare_digest(expected, parts.get("v1", ""))


# --- Publishing ------------------------------------------------------------------------


class PayloadEncoder(DjangoJSONEncoder):
    """Times in UTC, ISO 8601 with microseconds (as in the ledger); decimals as strings."""

    def default(self, o):
        if isinstance(o, datetime):
            return o.astimezone(UTC).isoformat()
        return super().default(o)


# The active endpoints and the event types each wants, kept in the cache (every change of
# a subscription or a case asks for them): dropped when an endpoint is saved or deleted
# (``webhook_subscribers_changed``), and read again at the latest after the timeout, which
# bounds how long a change the signals did not see (a bulk update) can go unnoticed.
SUBSCRIBERS_KEY = "webhooks:subscribers"
SUBSCRIBERS_TIMEOUT = 60


def _active_endpoints() -> list[tuple[int, list[str]]]:
    found = cache.get(SUBSCRIBERS_KEY)
    if found is None:
        found = list(WebhookEndpoint.objects.filter(active=True).values_list("pk", "event_types"))
        cache.set(SUBSCRIBERS_KEY, found, SUBSCRIBERS_TIMEOUT)
    return found


def webhook_subscribers(event_type: str) -> list[int]:
    """The active endpoints that want ``event_type`` (a handful of rows, filtered here;
    cached, see ``SUBSCRIBERS_KEY``)."""
    return [pk for pk, event_types in _active_endpoints() if event_type in event_types]


def webhook_subscribers_changed(**kwargs) -> None:
    """An endpoint was saved or deleted: forget the cached list now, and again when the
    change commits (a request that read the old rows in between may have cached them)."""
    cache.delete(SUBSCRIBERS_KEY)
    transaction.on_commit(lambda: cache.delete(SUBSCRIBERS_KEY))


def _next_sequence(scope: str) -> int:
    # One row per scope, incremented in place: the row stays locked until the caller's
    # transaction commits, so numbers follow the order in which changes commit.
    table = connection.ops.quote_name(WebhookSequence._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {table} (scope, last) VALUES (%s, 1) "
            f"ON CONFLICT (scope) DO UPDATE SET last = {table}.last + 1 RETURNING last",
            [scope],
        )
        return cursor.fetchone()[0]


def webhook_publish(
    *,
    event_type: str,
    scope: str,
    data: dict[str, Any],
    occurred_at: datetime | None = None,
    endpoint_ids: list[int] | None = None,
) -> uuid.UUID | None:
    """Write the event's deliveries in the caller's transaction; they are posted after commit.

    ``scope`` is what the payload's ``sequence`` counts (``subscription:<pk>`` or
    ``customer:<pk>``); ``data`` names the objects by their external ids. Pass
    ``endpoint_ids`` (from ``webhook_subscribers``) when publishing many events of one type.
    Returns the event id, or None when no active endpoint wants the type (nothing is written).
    Side effects: one WebhookDelivery per endpoint; a delivery task per row after commit.
    """
    if endpoint_ids is None:
        endpoint_ids = webhook_subscribers(event_type)
    if not endpoint_ids:
        return None
    # Part of the caller's transaction (no savepoint): if the change rolls back, so does this.
    with transaction.atomic(savepoint=False):
        return _write_event(event_type, scope, data, occurred_at or timezone.now(), endpoint_ids)


def _write_event(
    event_type: str, scope: str, data: dict, occurred_at: datetime, endpoint_ids: list[int]
) -> uuid.UUID:
    event_id = uuid.uuid4()
    sequence = _next_sequence(scope)
    envelope = {
        "id": event_id,
        "type": event_type,
        "version": PAYLOAD_VERSION,
        "occurred_at": occurred_at,
        "sequence": sequence,
        "data": data,
    }
    payload = json.loads(json.dumps(envelope, cls=PayloadEncoder))
    now = timezone.now()
    deliveries = WebhookDelivery.objects.bulk_create(
        WebhookDelivery(
            endpoint_id=endpoint_id,
            event_id=event_id,
            event_type=event_type,
            sequence=sequence,
            payload=payload,
            schedule_started_at=now,
            next_attempt_at=now,
            enqueued_at=now,
            created_at=now,
        )
        for endpoint_id in endpoint_ids
    )
    for delivery in deliveries:
        enqueue_on_commit(DELIVER_TASK, delivery.pk, model=WebhookDelivery)
    return event_id


@transaction.atomic
def webhook_send_test(*, endpoint: WebhookEndpoint) -> uuid.UUID:
    """A ``webhook.test`` event for this endpoint only, so a manager can try the receiver."""
    data = {"endpoint": {"name": endpoint.name}, "message": "A test event from Tack."}
    return _write_event(
        WEBHOOK_TEST_EVENT, f"endpoint:{endpoint.pk}", data, timezone.now(), [endpoint.pk]
    )


def webhook_rotate_secret(*, endpoint: WebhookEndpoint) -> str:
    """A new signing secret; deliveries from now on are signed with it."""
    endpoint.secret = webhook_secret()
    endpoint.save(update_fields=["secret"])
    return endpoint.secret


# --- Delivering ------------------------------------------------------------------------


@dataclass(frozen=True)
class AttemptResult:
    status_code: int | None
    latency_ms: int
    error: str = ""

    @property
    def ok(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300


def delivery_body(delivery: WebhookDelivery) -> bytes:
    return json.dumps(delivery.payload, separators=(",", ":"), sort_keys=True).encode()


def _post(delivery: WebhookDelivery) -> AttemptResult:
    endpoint = delivery.endpoint
    body = delivery_body(delivery)
    headers = {
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
        "Tack-Event-Id": str(delivery.event_id),
        "Tack-Event-Type": delivery.event_type,
        "Tack-Delivery-Attempt": str(delivery.attempts),
        SIGNATURE_HEADER: sign(secret=endpoint.secret, timestamp=int(time.time()), body=body),
    }
    started = time.monotonic()
    status, error = None, ""
    try:
        response = outbound.post(
            endpoint.url,
            body=body,
            headers=headers,
            timeout=settings.TACK_WEBHOOK_TIMEOUT_SECONDS,
        )
        status = response.status
        # The reply's body is never stored: the log says what happened, not what was said.
        if not 200 <= status < 300:
            error = f"HTTP {status}"
    except outbound.OutboundRefused as exc:
        error = f"Refused: {exc.reason}"
    except outbound.OutboundError as exc:
        error = f"No answer: {exc.reason}"
    latency_ms = round((time.monotonic() - started) * 1000)
    return AttemptResult(status, latency_ms, error)


def webhook_log_purge(*, now: datetime | None = None) -> int:
    """Forget finished deliveries (and their attempts) older than the log's retention."""
    cutoff = (now or timezone.now()) - timedelta(days=settings.TACK_WEBHOOK_LOG_RETENTION_DAYS)
    finished = WebhookDelivery.objects.filter(
        status__in=[Status.DELIVERED, Status.FAILED], created_at__lt=cutoff
    )
    WebhookAttempt.objects.filter(delivery__in=finished.values("pk")).delete()
    deleted, _ = finished.delete()
    return deleted
