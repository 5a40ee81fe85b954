"""Thin Celery wrapper around the rollup refresh; safe to run twice or at once."""

from celery import shared_task

from retention import services


@shared_task(name="retention.refresh_rollups")
def refresh_rollups() -> dict:
    return vars(services.rollups_refresh())
