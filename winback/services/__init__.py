"""Writes of the win-back: ``planning`` outreach (and re-checking what is planned),
``sending`` it at most once, ``comebacks``, ``consent`` (unsubscribes) and the periodic
``refresh``. Reads (suppression, the facts the contact rules decide on) are in
``winback.selectors``; the rules themselves in ``winback.policy``."""

from winback.errors import ComebackError
from winback.selectors import is_suppressed
from winback.services.comebacks import (
    attributed_outreach,
    comeback_record,
    comebacks_detect,
)
from winback.services.consent import customer_unsubscribe
from winback.services.planning import (
    PlanResult,
    first_contact_at,
    in_holdout,
    outreach_plan,
    outreach_skip_forbidden,
)
from winback.services.refresh import winback_refresh
from winback.services.sending import (
    CALL_HINTS,
    SEND_BATCH_TASK,
    BatchResult,
    SendResult,
    outreach_dispatch_due,
    outreach_log_call,
    outreach_send,
    outreach_send_batch,
    outreach_sync_channels,
)

__all__ = [
    "CALL_HINTS",
    "SEND_BATCH_TASK",
    "BatchResult",
    "ComebackError",
    "PlanResult",
    "SendResult",
    "attributed_outreach",
    "comeback_record",
    "comebacks_detect",
    "customer_unsubscribe",
    "first_contact_at",
    "in_holdout",
    "is_suppressed",
    "outreach_dispatch_due",
    "outreach_log_call",
    "outreach_plan",
    "outreach_send",
    "outreach_send_batch",
    "outreach_skip_forbidden",
    "outreach_sync_channels",
    "winback_refresh",
]
