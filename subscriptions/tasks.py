from celery import shared_task

from subscriptions import services


@shared_task(name="subscriptions.apply_due_changes")
def apply_due_changes() -> None:
    services.subscription_apply_due_changes()
