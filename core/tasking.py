"""Enqueueing Celery tasks after commit without making a request depend on the broker."""

import logging
from datetime import datetime

from celery import Task
from django.db import DatabaseError, transaction
from django.db.models import Model, Q, QuerySet
from kombu.exceptions import OperationalError

logger = logging.getLogger(__name__)


def enqueue_on_commit(task: Task, rows: int | list[int], *, model: type[Model]) -> None:
    """Publish ``task(rows)`` once the current transaction commits; ``rows`` is the primary
    key (or the list of keys) of the ``model`` rows the task works from.

    If the broker is unreachable the publish is dropped with a warning: every task we
    enqueue works from database rows that a periodic sweep re-enqueues, so nothing is lost.
    Those rows are then marked as not enqueued (``enqueued_at``), so the first sweep after
    the broker is back publishes them at once rather than after their requeue window.
    """

    def publish() -> None:
        try:
            task.apply_async(args=[rows])
        except (OperationalError, ConnectionError, OSError) as exc:
            logger.warning("broker down, %s(%r) left for the sweep: %s", task.name, rows, exc)
            keys = rows if isinstance(rows, list) else [rows]
            try:
                model.objects.filter(pk__in=keys).update(enqueued_at=None)
            except DatabaseError as db_exc:  # the requeue window still covers them
                logger.warning("could not mark %s(%r) unpublished: %s", task.name, rows, db_exc)

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
                    enqueue_on_commit(task, ids[start : start + per_task], model=due.model)
            else:
                for pk in ids:
                    enqueue_on_commit(task, pk, model=due.model)
    return ids
