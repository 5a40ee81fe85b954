"""Writes of the callback queue: items are put in by their sources (a cancellation's "call
me", an interview's follow-up, a win-back call) and worked by agents."""

from collections.abc import Iterable
from datetime import datetime, timedelta

from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from core.errors import ConflictError
from desk.enums import LIVE, CallbackStatus
from desk.models import CallbackRequest

CALLBACK_MAX_ATTEMPTS = 3
CALLBACK_RETRY_AFTER = timedelta(hours=2)
MAX_HINTS = 2000


class CallbackError(ConflictError):
    code = "callback_conflict"


def callback_request(
    *,
    customer,
    subscription,
    source: str,
    due_at: datetime,
    source_ref: int | None = None,
    window: str = "",
    reason: str = "",
    hints: str = "",
    assigned_to=None,
) -> CallbackRequest:
    """Put a call in the queue (in the caller's transaction)."""
    return CallbackRequest.objects.create(
        customer=customer,
        subscription=subscription,
        source=source,
        source_ref=source_ref,
        due_at=due_at,
        window=window,
        reason=reason[:300],
        hints=hints[:MAX_HINTS],
        assigned_to=assigned_to,
    )


def callbacks_close_for(
    *, sources: Iterable[str], source_ref: int, note: str, now: datetime
) -> int:
    """Close the live calls about this object (e.g. a case that was decided meanwhile)."""
    return CallbackRequest.objects.filter(
        source__in=list(sources), source_ref=source_ref, status__in=LIVE
    ).update(status=CallbackStatus.DONE, closed_at=now, outcome_note=note)


def _lock_callback(callback: CallbackRequest) -> CallbackRequest:
    return CallbackRequest.objects.select_for_update().get(pk=callback.pk)


@transaction.atomic
def callback_take_next(*, agent, now: datetime | None = None) -> CallbackRequest | None:
    """Hand the agent the next due call: their own in-progress one first, else the earliest
    due item that is unassigned or assigned to them. Two agents clicking at once never get
    the same item (rows being taken are skipped, not waited for).
    """
    now = now or timezone.now()
    mine = CallbackRequest.objects.filter(
        assigned_to=agent, status=CallbackStatus.IN_PROGRESS
    ).first()
    if mine is not None:
        return mine
    item = (
        CallbackRequest.objects.select_for_update(skip_locked=True)
        .filter(status=CallbackStatus.OPEN, due_at__lte=now)
        .filter(Q(assigned_to__isnull=True) | Q(assigned_to=agent))
        .order_by("due_at", "pk")
        .first()
    )
    if item is None:
        return None
    item.status = CallbackStatus.IN_PROGRESS
    item.assigned_to = agent
    item.attempts += 1
    item.taken_at = now
    item.save(update_fields=["status", "assigned_to", "attempts", "taken_at"])
    return item


@transaction.atomic
def callback_assign(*, callback: CallbackRequest, to, by) -> CallbackRequest:
    """Give an open item to an agent (an agent assigns to themselves, a manager to anyone)."""
    callback = _lock_callback(callback)
    if callback.status not in LIVE:
        raise CallbackError(_("This call is already closed."))
    callback.assigned_to = to
    callback.save(update_fields=["assigned_to"])
    return callback


@transaction.atomic
def callback_no_answer(
    *, callback: CallbackRequest, agent, now: datetime | None = None
) -> CallbackRequest:
    """Nobody answered: try again later, or give up after CALLBACK_MAX_ATTEMPTS attempts."""
    now = now or timezone.now()
    callback = _lock_callback(callback)
    if callback.status not in LIVE:
        raise CallbackError(_("This call is already closed."))
    attempts = max(callback.attempts, 1)
    if attempts >= CALLBACK_MAX_ATTEMPTS:
        callback.status = CallbackStatus.NO_ANSWER
        callback.closed_at = now
    else:
        callback.status = CallbackStatus.OPEN
        callback.due_at = now + CALLBACK_RETRY_AFTER
    callback.attempts = attempts
    callback.outcome_note = f"No answer ({attempts})"
    callback.save()
    return callback


@transaction.atomic
def callback_close(
    *, callback: CallbackRequest, agent, note: str = "", now: datetime | None = None
) -> CallbackRequest:
    """The call took place. Closing a closed item changes nothing."""
    callback = _lock_callback(callback)
    if callback.status in (CallbackStatus.DONE, CallbackStatus.NO_ANSWER):
        return callback
    callback.status = CallbackStatus.DONE
    callback.closed_at = now or timezone.now()
    callback.assigned_to = callback.assigned_to or agent
    callback.outcome_note = note[:500]
    callback.save()
    return callback


def callback_texts_erase(*, callbacks) -> dict[str, int]:
    """Clear the free text of these queue items and of their history (data rights)."""
    history = CallbackRequest.history.filter(id__in=callbacks.values("pk"))
    return {
        "callbacks": callbacks.exclude(hints="", outcome_note="").update(hints="", outcome_note=""),
        "callback_history": history.exclude(hints="", outcome_note="").update(
            hints="", outcome_note=""
        ),
    }
