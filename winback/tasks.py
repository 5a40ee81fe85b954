"""Thin Celery wrappers around the win-back services; each is safe to run twice. The send
tasks retry with backoff when the database or the broker is unreachable
(``core.outbox.RETRY``): their rows were not claimed, so the retry takes them at once."""

from dataclasses import asdict

from celery import shared_task

from core import outbox
from winback import services


@shared_task(name="winback.send_outreach", **outbox.RETRY)
def send_outreach(outreach_id: int) -> str:
    return services.outreach_send(outreach_id=outreach_id).status


@shared_task(name=services.SEND_BATCH_TASK, **outbox.RETRY)
def send_outreach_batch(outreach_ids: list[int]) -> dict:
    """Send a claimed batch over one SMTP connection, then top the queue up (backpressure:
    the next rows are claimed as the workers finish, not a fixed number per sweep)."""
    result = services.outreach_send_batch(outreach_ids=outreach_ids)
    services.outreach_dispatch_due()
    return asdict(result)


@shared_task(name="winback.dispatch_outreach")
def dispatch_outreach() -> int:
    """Carry channel outcomes back, then enqueue whatever is due."""
    services.outreach_sync_channels()
    return len(services.outreach_dispatch_due())


@shared_task(name="winback.refresh_lost_customers")
def refresh_lost_customers() -> dict:
    return services.winback_refresh()
