"""Enqueueing Celery tasks after commit without making a request depend on the broker."""

import logging
from datetime import datetime
from typing import Any

from celery import Task
from django.db import DatabaseError, transaction
from django.db.models import Q, QuerySet
from kombu.exceptions import OperationalError

logger = logging.getLogger(__name__)


def enqueue_on_commit(task: Task, *args: Any, unpublished: QuerySet | None = None) -> None:
    """Publish ``task(*args)`` once the current transaction commits.

    If the broker is unreachable the publish is dropped with a warning: every task we
    enqueue works from a database row that a periodic sweep re-enqueues, so nothing is lost.
    ``unpublished`` (that row) is then marked as not enqueued, so the first sweep after the
    broker is back publishes it at once rather than after its requeue window.
    """

    def publish() -> None:
        try:
            task.apply_async(args=args)
        except (OperationalError, ConnectionError, OSError) as exc:
            logger.warning("broker unavailable, %s%r left for the sweep: %s", task.name, args, exc)
            if unpublished is not None:
                try:
                    unpublished.update(enqueued_at=None)
                except DatabaseError as db_exc:  # the requeue window still covers it
                    logger.warning("could not mark %s%r unpublished: %s", task.name, args, db_exc)

    transaction.on_commit(publish)


def claim_and_enqueue(
    due: QuerySet,
    *,
    task: Task,
    now: datetime,
    requeue_before: datetime,
    batch_size: int,
    per_task: int = 0,
) -> list[int]:
    """Claim up to ``batch_size`` of the ``due`` rows and enqueue ``task(pk)`` for each
    (or, with ``per_task``, ``task([pk, ...])`` for each run of up to that many rows).

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
            if per_task:
                for start in range(0, len(ids), per_task):
                    chunk = ids[start : start + per_task]
                    unpublished = due.model.objects.filter(pk__in=chunk)
                    enqueue_on_commit(task, chunk, unpublished=unpublished)
            else:
                for pk in ids:
                    enqueue_on_commit(task, pk, unpublished=due.model.objects.filter(pk=pk))
    return ids
