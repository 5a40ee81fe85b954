import os

from celery import Celery
from celery.signals import setup_logging, task_postrun, task_prerun

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

app = Celery("tack")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@setup_logging.connect
def keep_django_logging(**kwargs) -> None:
    """The worker logs through Django's LOGGING, whose handler masks personal data and
    secrets; Celery adds no handler of its own (not even for its pool's logger)."""


@task_prerun.connect
@task_postrun.connect
def close_old_connections(task=None, **kwargs) -> None:
    """Around each task, drop a database connection that is broken or older than CONN_MAX_AGE
    (Django does this around each request); a healthy one is reused by the next task."""
    if task is None or getattr(task.request, "is_eager", False):
        return  # an eager task runs inside the caller's request or transaction
    from django.db import close_old_connections

    close_old_connections()
