from celery import shared_task

from privacy import services


@shared_task(name="privacy.clear_old_free_text")
def clear_old_free_text() -> dict:
    return services.free_text_clear_expired()
