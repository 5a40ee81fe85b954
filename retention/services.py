"""Writes of the dashboard: keeping its daily rollups up to date (it never writes anything else)."""

import hashlib
import json
import time
from dataclasses import dataclass
from datetime import datetime

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from cancellations.models import ExitReason
from core.changes import rollup_refresh_finished, rollup_refresh_started
from core.models import ChangeMark
from retention.models import RollupState
from retention.rollups import CASES, COMEBACKS, OUTREACH, ROLLUPS, recount, touched_days

# Raise when what a rollup counts changes (a dimension, a measure, a definition in
# retention.scan): the next refresh then rebuilds every rollup from the raw rows.
ROLLUP_DEFINITIONS = 7


@dataclass
class RefreshResult:
    rebuilt: bool = False
    marks: int = 0
    case_days: int = 0
    outreach_days: int = 0
    comeback_days: int = 0


def rollups_fingerprint() -> str:
    """What the rollups depend on beyond the marked rows: the definitions, the time zone
    that cuts days, and each exit reason's category and default churn group (a case's
    group follows them)."""
    reasons = list(
        ExitReason.objects.order_by("pk").values_list("pk", "category", "default_churn_group")
    )
    text = json.dumps([ROLLUP_DEFINITIONS, settings.TIME_ZONE, reasons])
    return hashlib.sha256(text.encode()).hexdigest()


def _analyze() -> None:
    """Fresh planner statistics after a rebuild (PostgreSQL), so the first page after it is
    planned for the rows that are there, not for the empty tables before."""
    if connection.vendor != "postgresql":
        return
    with connection.cursor() as cursor:
        for rollup in ROLLUPS:
            cursor.execute(f"ANALYZE {connection.ops.quote_name(rollup.model._meta.db_table)}")


def rollups_refresh(
    *, rebuild: bool = False, now: datetime | None = None, batch_size: int = 20_000
) -> RefreshResult:
    """Bring the rollups up to date and return what was done.

    Recounts the days the change marks touch and deletes exactly the marks it read (a mark
    committed meanwhile waits for the next refresh). Everything is rebuilt instead on the
    first refresh, when ``rebuild`` is asked for, or when the fingerprint has changed.
    Refreshes run one at a time (each locks the state row); readers keep seeing the
    previous figures until a batch commits. Safe to run at any time, and twice.
    """
    now = now or timezone.now()
    result = RefreshResult()
    started = time.monotonic()
    rollup_refresh_started()
    RollupState.objects.get_or_create(pk=1)
    while True:
        with transaction.atomic():
            state = RollupState.objects.select_for_update().get(pk=1)
            marks = list(
                ChangeMark.objects.order_by("pk").values_list(
                    "pk", "kind", "object_id", "created_at"
                )[:batch_size]
            )
            fingerprint = rollups_fingerprint()
            if rebuild or state.rebuilt_at is None or state.fingerprint != fingerprint:
                for rollup in ROLLUPS:
                    recount(rollup, None)
                _analyze()
                state.rebuilt_at, state.fingerprint = now, fingerprint
                result.rebuilt, rebuild = True, False
            else:
                days = touched_days([mark[1:] for mark in marks])
                for rollup in ROLLUPS:
                    recount(rollup, days[rollup.family])
                result.case_days += len(days[CASES])
                result.outreach_days += len(days[OUTREACH])
                result.comeback_days += len(days[COMEBACKS])
            ChangeMark.objects.filter(pk__in=[mark[0] for mark in marks]).delete()
            state.refreshed_at = now
            state.save(update_fields=["refreshed_at", "rebuilt_at", "fingerprint"])
        result.marks += len(marks)
        if len(marks) < batch_size:
            rollup_refresh_finished(time.monotonic() - started)
            return result
