"""Noting what changed, for aggregates kept elsewhere (the dashboard's daily rollups).

The apps below ``retention`` must not import it, so their services note *what* changed —
a case, a subscription that asked to leave, a lost customer's outreach or group — as
``ChangeMark`` rows in the same transaction as the change. A rolled-back change leaves no
mark; a committed one cannot be missed. After commit a rollup refresh is requested (at most
one per TACK_ROLLUP_REFRESH_DELAY_SECONDS, or per nine times the last refresh's duration when
refreshes are slow); the periodic refresh catches anything else, so a
broker that is down delays the figures but loses nothing.
"""

import functools
import logging
from collections.abc import Iterable
from datetime import datetime

from django.conf import settings
from django.core.cache import cache
from django.db import connection, transaction
from django.utils import timezone

from core import outbox
from core.enums import ChangeKind
from core.models import ChangeMark
from core.sql import execute_prepared

logger = logging.getLogger(__name__)

REFRESH_TASK = "retention.refresh_rollups"
REFRESH_REQUESTED_KEY = "rollups:refresh-requested"
LAST_REFRESH_SECONDS_KEY = "rollups:last-refresh-seconds"
# A requested refresh waits at least this many times as long as the last one took, so that
# under a stream of changes (a burst of decisions, a large outreach drain) refreshes keep at
# most about a tenth of a core busy (the worker's and PostgreSQL's together: at 1,000,000
# subscriptions a refresh during a burst of declines took about a second of each); the
# figures then lag by about ten refreshes' time, as the page shows.
REFRESH_WAIT_FACTOR = 9


def changes_mark(*, kind: ChangeKind, ids: Iterable[int], at: datetime | None = None) -> None:
    """Note that these objects changed (in the caller's transaction); ``at``: when the
    change counts from (the ledger row's time for a subscription that asked to leave), now by
    default. One rollup refresh is requested per transaction, however many marks it writes."""
    unique = sorted(set(ids))
    if not unique:
        return
    at = at or timezone.now()
    if connection.vendor != "postgresql":  # the embedded SQLite of `make run`
        ChangeMark.objects.bulk_create(
            ChangeMark(kind=kind, object_id=pk, created_at=at) for pk in unique
        )
    else:
        with connection.cursor() as cursor:
            execute_prepared(cursor, _insert_marks_statement(), [kind, unique, at])
    if not _refresh_requested_on_commit():
        transaction.on_commit(request_rollup_refresh)


@functools.cache
def _insert_marks_statement() -> str:
    """One prepared INSERT for any number of marks of one kind (every write of a case or a
    subscription that leaves writes one; ``bulk_create`` cost about 0.5 ms of Python)."""
    quote = connection.ops.quote_name
    meta = ChangeMark._meta
    columns = ", ".join(quote(meta.get_field(name).column) for name in ("kind", "object_id"))
    return (
        f"INSERT INTO {quote(meta.db_table)} ({columns}, "
        f"{quote(meta.get_field('created_at').column)}) "
        "SELECT %s, unnest(%s::bigint[]), %s"
    )


def _refresh_requested_on_commit() -> bool:
    """Whether this transaction already asks for a refresh on commit. A rollback cannot drop
    that request and keep this mark: Django drops a hook with the savepoints open when it was
    registered, and those still open enclose this mark too (savepoints nest)."""
    return any(hook is request_rollup_refresh for _sids, hook, _robust in connection.run_on_commit)


def request_rollup_refresh() -> None:
    """Ask for a refresh a few seconds from now, unless one is already asked for.

    Best effort: a cache or broker that is down only delays the figures until the
    periodic refresh, so no error may reach the request that made the change.
    """
    try:
        # Held until the refresh starts (or the periodic one does), so changes in between
        # share it.
        if cache.add(REFRESH_REQUESTED_KEY, 1, timeout=settings.TACK_ROLLUP_REFRESH_SECONDS):
            delay = refresh_delay()
            # By name, so core need not import retention.
            outbox.task(REFRESH_TASK).apply_async(countdown=delay)
    except Exception as exc:  # best effort, see the docstring
        logger.warning("rollup refresh not requested, the periodic one will do: %s", exc)


def refresh_delay() -> int:
    """Seconds until a requested refresh runs: TACK_ROLLUP_REFRESH_DELAY_SECONDS, or longer
    after a slow refresh (REFRESH_WAIT_FACTOR times its duration), never longer than the
    periodic refresh's interval."""
    delay = settings.TACK_ROLLUP_REFRESH_DELAY_SECONDS
    last = cache.get(LAST_REFRESH_SECONDS_KEY) or 0
    busy = min(round(REFRESH_WAIT_FACTOR * float(last)), settings.TACK_ROLLUP_REFRESH_SECONDS)
    return max(delay, busy)


def rollup_refresh_finished(seconds: float) -> None:
    """Remember how long the refresh took (best effort), for ``refresh_delay``."""
    try:
        cache.set(LAST_REFRESH_SECONDS_KEY, seconds, timeout=24 * 3600)
    except Exception as exc:  # best effort, as above
        logger.warning("could not record the rollup refresh time: %s", exc)


def rollup_refresh_started() -> None:
    """A refresh starting takes the pending request, before it reads the marks: a change
    committed from now on asks for a refresh of its own, so none waits for the periodic
    one."""
    try:
        cache.delete(REFRESH_REQUESTED_KEY)
    except Exception as exc:  # best effort, as above
        logger.warning("could not clear the rollup refresh request: %s", exc)
