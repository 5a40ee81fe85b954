from celery import shared_task

from core import services


@shared_task(name="core.send_outbound_email")
def send_outbound_email(email_id: int) -> None:
    services.email_send(email_id=email_id)


@shared_task(name="core.sweep_outbound_email")
def sweep_outbound_email() -> None:
    services.email_sweep()


@shared_task(name="core.purge_idempotency_records")
def purge_idempotency_records() -> None:
    services.idempotency_records_purge()
