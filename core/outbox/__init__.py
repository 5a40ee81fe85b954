"""The outbox: how Tack talks to other systems (SMTP, webhook receivers, next the billing
gateway) — only after the commit of the change that caused it, from a database row.

Every kind of outbox row (``OutboundEmail``, ``WebhookDelivery``; a billing command next)
has a ``status`` (pending → sending → a final state), ``attempts``, ``next_attempt_at``,
``enqueued_at`` (a task was published for it) and ``claimed_at`` (the lease). The
mechanism is the same for all of them and lives here:

- **enqueue**: a task, named (never imported, so no service imports a task module), is
  published after commit with the row's key (``enqueue_on_commit``); a broker that is down
  only leaves the row for the next sweep.
- **claim**: a conditional update PENDING → SENDING that sets ``claimed_at`` and counts the
  attempt (``claim``); two tasks for one row never both get it. (Email, claimed hundreds of
  times a second in a drain, runs the same rule as a prepared statement of its own:
  ``core.outbox.email``.)
- **record**: the outcome is written right after the far side answered, in its own short
  write, only while the claim is still ours; a database that fails at that moment is tried
  again for a while (``record``), because the outcome is known only to this process.
- **release**: a failed attempt goes back to PENDING with the next attempt after an
  exponential ``backoff``, ``enqueued_at`` cleared.
- **sweep**: a periodic task takes back claims whose lease ran out (what happens then is the
  kind's delivery promise: see README "Delivery") and publishes what is due and not in
  flight (``claim_and_enqueue``).

A new kind (billing commands next: rows a worker sends to the gateway with an idempotency
key) plugs in the same way: a model with those fields; a task registered under a name with
``RETRY`` that reads its row, ``claim``s it, calls the far side outside any transaction and
``record``s the outcome (``release_fields`` and ``backoff`` on failure); and a sweep that
settles ``expired_claims`` by the kind's promise (a command with an idempotency key can be
sent again: at least once), calls ``requeue_if_broker_restarted`` and ``claim_and_enqueue``.

Lost tasks are found within a bounded time. A task that fails before it claims (the
database refused the connection) is retried by Celery with backoff (``RETRY``), so it does
not wait for the sweep. A broker that restarted empty is noticed by the next sweep of each
kind (``broker_restarted``: a marker key kept in the broker, lost with its messages), which
then publishes every row it had published before at once; otherwise a row whose task has
not run is published again after the kind's requeue window.
"""

import functools
import logging
import time
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import TypeVar

from celery import current_app
from celery.app.task import Task
from django.conf import settings
from django.db import DatabaseError, InterfaceError, OperationalError, connection, transaction
from django.db.models import F, Model, Q, QuerySet
from kombu.exceptions import OperationalError as BrokerError

logger = logging.getLogger(__name__)

PENDING, SENDING = "pending", "sending"

# Celery options of every outbox task: a task that fails because the database is
# unreachable has claimed nothing (the claim is its first write) and is published again with
# backoff — a random wait up to 1, 2, 4 … 30 seconds (so the retries do not all arrive at
# once), about 10 minutes in all — rather than waiting for the sweep's requeue window.
RETRY = {
    "autoretry_for": (OperationalError, InterfaceError),
    "retry_backoff": 1,
    "retry_backoff_max": 30,
    "retry_jitter": True,
    "max_retries": 25,
}

T = TypeVar("T")


def task(name: str) -> Task:
    """The Celery task registered under ``name``; outside a worker the apps' task modules
    are imported on first use. By name, so that services never import task modules."""
    if name not in current_app.tasks:
        current_app.loader.import_default_modules()
    return current_app.tasks[name]


def enqueue_on_commit(task_name: str, rows: int | list[int], *, model: type[Model]) -> None:
    """Publish the task ``task_name(rows)`` once the current transaction commits; ``rows`` is
    the primary key (or the list of keys) of the ``model`` rows the task works from.

    If the broker is unreachable the publish is dropped with a warning: every task we
    enqueue works from database rows that a periodic sweep re-enqueues, so nothing is lost.
    Those rows are then marked as not enqueued (``enqueued_at``), so the first sweep after
    the broker is back publishes them at once rather than after their requeue window.
    """

    def publish() -> None:
        try:
            task(task_name).apply_async(args=[rows])
        except (BrokerError, ConnectionError, OSError) as exc:
            logger.warning("broker down, %s(%r) left for the sweep: %s", task_name, rows, exc)
            keys = rows if isinstance(rows, list) else [rows]
            try:
                model.objects.filter(pk__in=keys).update(enqueued_at=None)
            except DatabaseError as db_exc:  # the requeue window still covers them
                logger.warning("could not mark %s(%r) unpublished: %s", task_name, rows, db_exc)

    transaction.on_commit(publish)


def claim_and_enqueue(
    due: QuerySet,
    *,
    task_name: str,
    now: datetime,
    requeue_before: datetime,
    batch_size: int,
    per_task: int = 0,
) -> list[int]:
    """Claim up to ``batch_size`` of the ``due`` rows and enqueue ``task_name(pk)`` for each
    (or, with ``per_task``, ``task_name([pk, ...])`` for each run of up to that many rows).

    ``due`` is ordered, with an ``enqueued_at`` field. Rows are locked with ``SKIP LOCKED``
    (two sweeps never take the same row), marked enqueued, and published after commit. A row
    enqueued before ``requeue_before`` whose task has not finished it is taken again: the
    broker may have lost the message.
    """
    with transaction.atomic():
        ids = list(
            due.select_for_update(skip_locked=True)
            .filter(Q(enqueued_at__isnull=True) | Q(enqueued_at__lt=requeue_before))
            .values_list("pk", flat=True)[:batch_size]
        )
        if ids:
            due.model.objects.filter(pk__in=ids).update(enqueued_at=now)
            step = per_task or 1
            for start in range(0, len(ids), step):
                rows = ids[start : start + per_task] if per_task else ids[start]
                enqueue_on_commit(task_name, rows, model=due.model)
    return ids


def claim(model: type[Model], pk: int, *, due: Q, now: datetime, **also) -> bool:
    """Take the PENDING row ``pk`` that matches ``due`` for this process (PENDING → SENDING,
    ``claimed_at`` = ``now``, one more attempt, and the ``also`` fields): a conditional
    update, so two tasks for one row never both get it."""
    return bool(
        model.objects.filter(due, pk=pk, status=PENDING).update(
            status=SENDING, claimed_at=now, attempts=F("attempts") + 1, **also
        )
    )


def release_fields(*, status: str, next_attempt_at: datetime, **also) -> dict:
    """The fields of a row whose attempt failed: back to ``status`` (PENDING to try again,
    or the kind's given-up state), next attempt at ``next_attempt_at``, not enqueued."""
    return {"status": status, "next_attempt_at": next_attempt_at, "enqueued_at": None, **also}


def backoff(attempts: int, *, base: float, cap: float) -> timedelta:
    """``base``, 2x ``base``, 4x ``base`` … seconds after the 1st, 2nd, 3rd … failed
    attempt, never more than ``cap`` seconds."""
    seconds = base * 2 ** min(max(attempts - 1, 0), 30)
    return timedelta(seconds=min(seconds, cap))


def record(write: Callable[[], T], *, what: str, within: float | None = None) -> T:
    """Run ``write``, the outcome of an attempt, trying again while the database refuses it
    (for up to ``within`` seconds, TACK_OUTBOX_RECORD_SECONDS by default): only this process
    knows what the far side answered, and the lease would otherwise decide it."""
    within = settings.TACK_OUTBOX_RECORD_SECONDS if within is None else within
    deadline = time.monotonic() + within
    pause = 0.2
    while True:
        try:
            return write()
        except (OperationalError, InterfaceError) as exc:
            if time.monotonic() + pause > deadline:
                raise
            logger.warning("%s: could not record the outcome yet: %s", what, exc)
            time.sleep(pause)
            pause = min(pause * 2, 5)
            connection.close()  # the next try needs a new one; the broken one is done


def expired_claims(model: type[Model], *, lease_seconds: int, now: datetime) -> QuerySet:
    """Rows claimed longer ago than the lease: their worker stopped before it recorded the
    outcome (killed, or its host lost), so whether the far side got it is unknown."""
    return model.objects.filter(
        status=SENDING, claimed_at__lt=now - timedelta(seconds=lease_seconds)
    )


# --- A broker that restarted empty ---------------------------------------------------------

MARKER = "tack:outbox:published:{name}"


def _broker_client():
    url = current_app.conf.broker_url or ""
    if current_app.conf.task_always_eager or not url.startswith(("redis://", "rediss://")):
        return None  # no broker in use (tests, development), or one we cannot look into
    return _redis(url)


@functools.cache
def _redis(url: str):
    import redis

    return redis.Redis.from_url(url, socket_timeout=2, socket_connect_timeout=2)


def broker_restarted(name: str) -> bool:
    """Whether the broker lost every message since ``broker_remember(name)`` was last
    called: its marker key lives in the broker's own database, so it goes wherever the
    queued messages go (a restart without persistence, a flush, a new server). The first
    sweep on a new broker sees no marker either and publishes its rows once more: a
    duplicate task finds its row claimed and does nothing. False when it cannot tell (no
    Redis broker, or the broker is down: then nothing can be published anyway)."""
    try:
        client = _broker_client()
        return client is not None and not client.exists(MARKER.format(name=name))
    except Exception as exc:  # any broker error: the requeue window still applies
        logger.warning("could not look into the broker: %s", exc)
        return False


def broker_remember(name: str) -> None:
    """Note in the broker that ``name``'s rows were published to it (after the caller
    released the marks of those the broker lost)."""
    try:
        client = _broker_client()
        if client is not None:
            client.set(MARKER.format(name=name), 1)
    except Exception as exc:  # as above
        logger.warning("could not write to the broker: %s", exc)


def requeue_if_broker_restarted(name: str, in_flight: QuerySet) -> int:
    """If the broker restarted empty, mark ``in_flight`` (rows published, not yet taken by
    a task) as not enqueued, so this sweep publishes them at once. Returns how many."""
    if not broker_restarted(name):
        return 0
    released = in_flight.exclude(enqueued_at=None).update(enqueued_at=None)
    broker_remember(name)
    if released:
        logger.warning("the broker lost its messages: %s %s rows published again", released, name)
    return released
