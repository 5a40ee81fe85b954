from celery import shared_task

from cancellations import services


@shared_task(name="cancellations.abandon_stale_cases")
def abandon_stale_cases() -> int:
    """Close cases nobody finished in time as abandoned (safe to retry: it is a sweep)."""
    return services.cases_abandon_stale()
