"""Thin Celery tasks of the platform. The outbox's tasks retry with backoff when the
database or the broker is unreachable (``core.outbox.RETRY``), so a failure never waits for
the sweep; each is safe to run twice (the claim is a conditional update)."""

from celery import shared_task

from core import outbox, services, webhooks
from core.outbox import billing as billing_outbox
from core.outbox import email as email_outbox
from core.outbox import webhooks as webhook_outbox


@shared_task(name=email_outbox.SEND_TASK, **outbox.RETRY)
def send_outbound_email(email_id: int) -> None:
    email_outbox.email_send(email_id=email_id)


@shared_task(name="core.sweep_outbound_email")
def sweep_outbound_email() -> None:
    email_outbox.email_sweep()


@shared_task(name="core.purge_idempotency_records")
def purge_idempotency_records() -> None:
    services.idempotency_records_purge()


@shared_task(name=webhooks.DELIVER_TASK, **outbox.RETRY)
def deliver_webhook(delivery_id: int) -> str:
    return webhook_outbox.webhook_deliver(delivery_id=delivery_id)


@shared_task(name="core.sweep_webhooks")
def sweep_webhooks() -> int:
    return len(webhook_outbox.webhook_sweep())


@shared_task(name="core.purge_webhook_log")
def purge_webhook_log() -> int:
    return webhooks.webhook_log_purge()


@shared_task(name=billing_outbox.SEND_TASK, **outbox.RETRY)
def send_billing_command(command_id: int) -> str:
    return billing_outbox.billing_command_send(command_id=command_id)


@shared_task(name="core.sweep_billing_commands")
def sweep_billing_commands() -> int:
    return len(billing_outbox.billing_sweep())
