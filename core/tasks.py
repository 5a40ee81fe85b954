from celery import shared_task

from core import services, webhooks


@shared_task(name="core.send_outbound_email")
def send_outbound_email(email_id: int) -> None:
    services.email_send(email_id=email_id)


@shared_task(name="core.sweep_outbound_email")
def sweep_outbound_email() -> None:
    services.email_sweep()


@shared_task(name="core.purge_idempotency_records")
def purge_idempotency_records() -> None:
    services.idempotency_records_purge()


@shared_task(name="core.deliver_webhook")
def deliver_webhook(delivery_id: int) -> str:
    return webhooks.webhook_deliver(delivery_id=delivery_id)


@shared_task(name="core.sweep_webhooks")
def sweep_webhooks() -> int:
    return len(webhooks.webhook_sweep())


@shared_task(name="core.purge_webhook_log")
def purge_webhook_log() -> int:
    return webhooks.webhook_log_purge()
