"""Enqueueing Celery tasks after commit without making a request depend on the broker."""

import logging
from typing import Any

from celery import Task
from django.db import transaction
from kombu.exceptions import OperationalError

logger = logging.getLogger(__name__)


def enqueue_on_commit(task: Task, *args: Any) -> None:
    """Publish ``task(*args)`` once the current transaction commits.

    If the broker is unreachable the publish is dropped with a warning: every task we
    enqueue works from a database row that a periodic sweep re-enqueues, so nothing is lost.
    """

    def publish() -> None:
        try:
            task.apply_async(args=args)
        except (OperationalError, ConnectionError, OSError) as exc:
            logger.warning("broker unavailable, %s%r left for the sweep: %s", task.name, args, exc)

    transaction.on_commit(publish)
