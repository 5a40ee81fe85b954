"""Writes of the cancellation flow. Web, phone and API cases all go through these:
``cases`` (opening a case, its reason, abandonment), ``decisions`` (accept, decline, undo)
and ``phone_desk`` (an agent's exit interview)."""

from cancellations.errors import CancellationError, CancellationInputError, CaseAlreadyDecided
from cancellations.services.cases import (
    MAX_TEXT,
    CaseOpened,
    cancellation_choose_reason,
    cancellation_open,
    cancellation_start,
    cases_abandon_stale,
)
from cancellations.services.decisions import (
    Decision,
    cancellation_decide,
    cancellation_decline,
    cancellation_leave,
    cancellation_withdraw,
    offer_accept,
)
from cancellations.services.phone_desk import phone_interview_log

__all__ = [
    "MAX_TEXT",
    "CancellationError",
    "CancellationInputError",
    "CaseAlreadyDecided",
    "CaseOpened",
    "Decision",
    "cancellation_choose_reason",
    "cancellation_decide",
    "cancellation_decline",
    "cancellation_leave",
    "cancellation_open",
    "cancellation_start",
    "cancellation_withdraw",
    "cases_abandon_stale",
    "offer_accept",
    "phone_interview_log",
]
