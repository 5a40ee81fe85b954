"""Billing commands through the outbox: queue in the decision's transaction, send, record,
retry, sweep, and a manager's retry.

Delivery promise: **exactly once in billing**. A command is sent at least once (a worker
that stops mid-request leaves a claim whose lease runs out, and the sweep sends it again),
always with the same ``Idempotency-Key`` (``tack-ledger-<ledger entry>-<round>``), so the
billing system acts on it once and answers a repeat with its first answer. Commands of one
subscription are sent in ledger order: one waits while an earlier one is still open.

Outcomes: APPLIED; retried with backoff while billing is unreachable, busy (429) or failing
(5xx), FAILED after ``TACK_BILLING_MAX_ATTEMPTS``; REFUSED at once when billing says no
(card declined, subscription already cancelled). REFUSED and FAILED raise the
``billing.command_failed`` webhook and wait for a manager's retry (a new round, a new key).

The gateway is the class named by ``TACK_BILLING_GATEWAY``; its ``send`` runs here, outside
any transaction, and raises ``BillingUnavailable`` or ``BillingRefused``.
"""

import functools
import logging
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Exists, OuterRef, Q
from django.utils import timezone
from django.utils.module_loading import import_string

from core import outbox
from core.enums import BillingCommandStatus as Status
from core.enums import WebhookEventType
from core.models import BillingCommand
from core.webhooks import webhook_publish

logger = logging.getLogger(__name__)

SEND_TASK = "core.send_billing_command"
LOST_CLAIM = "No result recorded: the worker stopped during the request (lease expired)."
NOT_CARRIED_OUT = (Status.REFUSED, Status.FAILED)


class BillingUnavailable(Exception):
    """Billing did not answer, or answered 429/5xx: try again later with the same key."""


class BillingRefused(Exception):
    """Billing refused the command (4xx): trying the same again will not help."""

    def __init__(self, message: str, code: str = ""):
        super().__init__(message)
        self.code = code


@functools.cache
def _gateway(path: str):
    return import_string(path)()


def gateway():
    return _gateway(settings.TACK_BILLING_GATEWAY)


def billing_command_queue(
    *, subscription_id: int, ledger_event_id: int, kind: str, payload: dict
) -> BillingCommand:
    """Write the command in the caller's transaction; it is sent after commit.
    Side effects: a BillingCommand row; a send task after commit."""
    now = timezone.now()
    with transaction.atomic(savepoint=False):
        command = BillingCommand.objects.create(
            subscription_id=subscription_id,
            ledger_event_id=ledger_event_id,
            kind=kind,
            payload=payload,
            next_attempt_at=now,
            enqueued_at=now,
            created_at=now,
        )
    outbox.enqueue_on_commit(SEND_TASK, command.pk, model=BillingCommand)
    return command


def _earlier_open() -> Exists:
    return Exists(
        BillingCommand.objects.filter(
            subscription_id=OuterRef("subscription_id"),
            pk__lt=OuterRef("pk"),
            status__in=[Status.PENDING, Status.SENDING],
        )
    )


def _target(command: BillingCommand) -> dict:
    """The payload with the billing subscription it acts on now: a reactivation creates a
    new one in billing (a cancelled Stripe subscription cannot come back)."""
    payload = dict(command.payload)
    if "subscription" in payload:
        replaced = (
            BillingCommand.objects.filter(
                subscription_id=command.subscription_id,
                pk__lt=command.pk,
                status=Status.APPLIED,
                result__has_key="subscription",
            )
            .order_by("-pk")
            .values_list("result", flat=True)
            .first()
        )
        if replaced:
            payload["subscription"] = replaced["subscription"]
    return payload


def billing_command_send(*, command_id: int, now: datetime | None = None) -> str:
    """Send one due command unless someone else claimed it or an earlier command of its
    subscription is still open. Returns its status afterwards, or "" when not attempted."""
    now = now or timezone.now()
    command = BillingCommand.objects.filter(pk=command_id, status=Status.PENDING).first()
    if command is None or not outbox.claim(
        BillingCommand, command_id, due=Q(next_attempt_at__lte=now) & ~_earlier_open(), now=now
    ):
        return ""
    command.attempts += 1
    result: dict = {}
    error, code, refused = "", "", False
    try:
        result = gateway().send(command=_target(command), idempotency_key=command.idempotency_key)
    except BillingRefused as exc:
        error, code, refused = str(exc) or exc.__class__.__name__, exc.code, True
    except BillingUnavailable as exc:
        error = str(exc) or exc.__class__.__name__
    except Exception as exc:  # an adapter's bug: keep the row, try again, show the error
        logger.exception("billing command %s: unexpected error", command.pk)
        error = f"{exc.__class__.__name__}: {exc}"
    return outbox.record(
        lambda: _record(command, result or {}, error, code, refused, claimed_at=now),
        what=f"billing command {command.pk}",
    )


def _record(
    command: BillingCommand,
    result: dict,
    error: str,
    code: str,
    refused: bool,
    *,
    claimed_at: datetime,
) -> str:
    with transaction.atomic():
        mine = BillingCommand.objects.filter(
            pk=command.pk, status=Status.SENDING, claimed_at=claimed_at
        )
        if not error:
            status = Status.APPLIED
            updated = mine.update(
                status=status,
                applied_at=timezone.now(),
                result=result,
                last_error="",
                error_code="",
                enqueued_at=None,
            )
        else:
            gave_up = command.attempts >= settings.TACK_BILLING_MAX_ATTEMPTS
            status = Status.REFUSED if refused else Status.FAILED if gave_up else Status.PENDING
            updated = mine.update(
                **outbox.release_fields(
                    status=status,
                    next_attempt_at=claimed_at + retry_delay(command.attempts),
                    last_error=error[:2000],
                    error_code=code[:100],
                )
            )
            if updated and status in NOT_CARRIED_OUT:
                _publish_failure(command, status=status, error=error, code=code)
        if updated and status != Status.PENDING:
            _enqueue_next(command)
    if not updated:
        logger.warning("billing command %s: claim lost before the result was recorded", command.pk)
    elif error:
        logger.info("billing command %s attempt %s: %s", command.pk, command.attempts, error)
    return status


def retry_delay(attempts: int) -> timedelta:
    return outbox.backoff(
        attempts,
        base=settings.TACK_BILLING_RETRY_BASE_SECONDS,
        cap=settings.TACK_BILLING_RETRY_MAX_SECONDS,
    )


def _enqueue_next(command: BillingCommand) -> None:
    """The subscription's next command waited for this one: publish it now."""
    following = (
        BillingCommand.objects.filter(
            subscription_id=command.subscription_id, pk__gt=command.pk, status=Status.PENDING
        )
        .order_by("pk")
        .values_list("pk", flat=True)
        .first()
    )
    if following:
        BillingCommand.objects.filter(pk=following).update(enqueued_at=timezone.now())
        outbox.enqueue_on_commit(SEND_TASK, following, model=BillingCommand)


def _publish_failure(command: BillingCommand, *, status: str, error: str, code: str) -> None:
    webhook_publish(
        event_type=WebhookEventType.BILLING_COMMAND_FAILED,
        scope=f"subscription:{command.subscription_id}",
        data={
            "subscription": {"external_id": command.payload.get("tack_subscription", "")},
            "kind": command.kind,
            "status": status,
            "error": error[:500],
            "code": code,
        },
    )


def billing_sweep(*, now: datetime | None = None, batch_size: int = 500) -> list[int]:
    """Release the claims of workers that stopped mid-request (sent again with the same
    key: billing acts once) and enqueue every due command."""
    now = now or timezone.now()
    lease = settings.TACK_BILLING_LEASE_SECONDS
    outbox.expired_claims(BillingCommand, lease_seconds=lease, now=now).update(
        status=Status.PENDING, claimed_at=None, enqueued_at=None, last_error=LOST_CLAIM
    )
    pending = BillingCommand.objects.filter(status=Status.PENDING)
    outbox.requeue_if_broker_restarted("billing", pending)
    return outbox.claim_and_enqueue(
        pending.filter(next_attempt_at__lte=now).filter(~_earlier_open()).order_by("pk"),
        task_name=SEND_TASK,
        now=now,
        requeue_before=now - timedelta(seconds=lease),
        batch_size=batch_size,
    )


@transaction.atomic
def billing_command_retry(*, command_id: int, now: datetime | None = None) -> bool:
    """A manager's retry of a refused or failed command: a new round (so a new idempotency
    key: billing would otherwise answer its refusal again), sent at once. Returns whether
    it was queued."""
    now = now or timezone.now()
    command = (
        BillingCommand.objects.select_for_update()
        .filter(pk=command_id, status__in=NOT_CARRIED_OUT)
        .first()
    )
    if command is None:
        return False
    BillingCommand.objects.filter(pk=command.pk).update(
        status=Status.PENDING,
        round=command.round + 1,
        attempts=0,
        next_attempt_at=now,
        enqueued_at=now,
        claimed_at=None,
    )
    outbox.enqueue_on_commit(SEND_TASK, command.pk, model=BillingCommand)
    return True
