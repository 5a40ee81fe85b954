"""Thin Celery wrappers around the win-back services; each is safe to run twice."""

from celery import shared_task

from winback import services


@shared_task(name="winback.send_outreach")
def send_outreach(outreach_id: int) -> str:
    return services.outreach_send(outreach_id=outreach_id).status


@shared_task(name="winback.dispatch_outreach")
def dispatch_outreach() -> int:
    """Carry channel outcomes back, then enqueue whatever is due."""
    services.outreach_sync_channels()
    return len(services.outreach_dispatch_due())


@shared_task(name="winback.refresh_lost_customers")
def refresh_lost_customers() -> dict:
    return services.winback_refresh()
