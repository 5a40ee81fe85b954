"""The win-back's periodic refresh."""

from datetime import datetime

from django.utils import timezone

from winback import segmentation
from winback.services.comebacks import comebacks_detect
from winback.services.planning import outreach_plan


def winback_refresh(*, now: datetime | None = None) -> dict[str, int]:
    """The periodic refresh: record new lost customers, segment and score them all, note
    comebacks made elsewhere, and plan outreach."""
    now = now or timezone.now()
    recorded = segmentation.lost_customers_record(now=now)
    segmentation.lost_customers_segment()
    scored = segmentation.lost_customers_score(now=now)
    comebacks = comebacks_detect(now=now)
    plan = outreach_plan(now=now)
    return {
        "recorded": recorded,
        "scored": scored,
        "comebacks": comebacks,
        "planned": plan.first_contacts + plan.next_attempts,
        "holdouts": plan.holdouts,
    }
