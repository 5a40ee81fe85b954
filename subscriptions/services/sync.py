"""Subscriptions pushed in by the company's own systems (the API, imports)."""

from datetime import datetime
from decimal import Decimal

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from core.changes import changes_mark
from core.dates import add_months
from core.enums import ChangeKind
from core.outbox.billing import billing_command_queue
from subscriptions.actors import Actor
from subscriptions.enums import CancelledBy, EventKind
from subscriptions.enums import SubscriptionStatus as Status
from subscriptions.errors import SubscriptionError, SubscriptionInputError
from subscriptions.models import Customer, Plan, Subscription, SubscriptionEvent
from subscriptions.services.ledger import _commit, _ledger_entry, _lock, _snapshot
from subscriptions.services.lifecycle import (
    subscription_cancel,
    subscription_change_plan,
    subscription_pause,
    subscription_reactivate,
    subscription_resume,
    subscription_schedule_cancel,
    subscription_start,
    subscription_withdraw_cancel,
)
from subscriptions.webhooks import ledger_event_publish

ENDING = {Status.CANCELLED, Status.CANCEL_PENDING}


@transaction.atomic
def subscription_upsert(
    *,
    external_id: str,
    customer: Customer,
    plan: Plan,
    actor: Actor,
    started_at: datetime | None = None,
    current_period_end: datetime | None = None,
    monthly_amount: Decimal | None = None,
    status: str | None = None,
    paused_until: datetime | None = None,
    cancel_at: datetime | None = None,
    cancelled_at: datetime | None = None,
    cancelled_by: str | None = None,
) -> tuple[Subscription, bool, bool]:
    """Create or update a subscription by external id. Returns (subscription, created, changed).

    Status changes go through the lifecycle services above (so they are validated and
    ledgered like any other change); the same input twice changes nothing the second time.
    ``cancelled_by`` says who ended it (the customer, or the company for non-payment or
    misuse): it goes with a cancelled or scheduled cancellation, and corrects the one
    already recorded (an UPDATED ledger row).
    """
    now = timezone.now()
    subscription = Subscription.objects.filter(external_id=external_id).first()
    created = subscription is None
    if created:
        subscription = subscription_start(
            external_id=external_id,
            customer=customer,
            plan=plan,
            actor=actor,
            started_at=started_at,
            current_period_end=current_period_end,
            monthly_amount=monthly_amount,
        )
        changed = True
    else:
        subscription = _lock(subscription)
        if subscription.customer_id != customer.pk:
            raise SubscriptionError(
                _("A subscription cannot move to another customer."), code="customer_mismatch"
            )
        changed = False
        if plan.pk != subscription.plan_id:
            subscription = subscription_change_plan(
                subscription=subscription, plan=plan, actor=actor
            )
            changed = True
        updates = {
            "started_at": started_at,
            "current_period_end": current_period_end,
            "monthly_amount": monthly_amount,
        }
        updates = {k: v for k, v in updates.items() if v is not None}
        if any(getattr(subscription, k) != v for k, v in updates.items()):
            before = _snapshot(subscription)
            for field, value in updates.items():
                setattr(subscription, field, value)
            _commit(subscription, kind=EventKind.UPDATED, actor=actor, before=before)
            changed = True
    if cancelled_by and (status or subscription.status) not in ENDING:
        raise SubscriptionInputError(
            _("cancelled_by goes with the status cancelled or cancel_pending.")
        )
    if status and status != subscription.status:
        _transition_to(
            subscription,
            status=status,
            actor=actor,
            paused_until=paused_until,
            cancel_at=cancel_at,
            cancelled_at=cancelled_at or now,
            cancelled_by=cancelled_by,
        )
        subscription.refresh_from_db()
        changed = True
    elif cancelled_by and cancelled_by != subscription.cancelled_by:
        subscription = _lock(subscription)
        before = _snapshot(subscription)
        subscription.cancelled_by = cancelled_by
        _commit(subscription, kind=EventKind.UPDATED, actor=actor, before=before)
        changed = True
    return subscription, created, changed


def _transition_to(
    subscription: Subscription,
    *,
    status: str,
    actor: Actor,
    paused_until: datetime | None,
    cancel_at: datetime | None,
    cancelled_at: datetime,
    cancelled_by: str | None,
) -> None:
    current = subscription.status
    if status == Status.CANCELLED:
        subscription_cancel(
            subscription=subscription, actor=actor, cancelled_by=cancelled_by, now=cancelled_at
        )
    elif status == Status.PAUSED:
        if paused_until is None:
            raise SubscriptionInputError(_("A paused subscription needs paused_until."))
        subscription_pause(subscription=subscription, until=paused_until, actor=actor)
    elif status == Status.CANCEL_PENDING:
        if cancel_at is None:
            raise SubscriptionInputError(_("A scheduled cancellation needs cancel_at."))
        subscription_schedule_cancel(
            subscription=subscription,
            actor=actor,
            at=cancel_at,
            cancelled_by=cancelled_by or CancelledBy.CUSTOMER,
        )
    elif current == Status.PAUSED:
        subscription_resume(subscription=subscription, actor=actor)
    elif current == Status.CANCEL_PENDING:
        subscription_withdraw_cancel(subscription=subscription, actor=actor)
    else:
        subscription_reactivate(subscription=subscription, actor=actor)


@transaction.atomic
def subscription_start_many(
    *, rows: list[dict], actor: Actor, now: datetime | None = None
) -> list[Subscription]:
    """Create many subscriptions at once (a first import): what ``subscription_start`` does
    for each — and ``subscription_schedule_cancel`` for a row with a future ``cancel_at`` —
    with the writes batched: the rows, then their ledger rows, in one transaction. ``rows``
    hold ``external_id``, ``customer``, ``plan``, ``started_at`` and
    ``current_period_end``, and may hold ``cancel_at`` (and ``cancelled_by``).

    Side effects: a STARTED ledger row each, and a CANCEL_REQUESTED one for a row set to
    end (and whatever the billing gateway and the webhooks make of them, as for one).
    """
    now = now or timezone.now()
    subscriptions = []
    for row in rows:
        plan = row["plan"]
        subscription = Subscription(
            external_id=row["external_id"],
            customer=row["customer"],
            plan=plan,
            status=Status.ACTIVE,
            started_at=row["started_at"] or now,
            current_period_end=row["current_period_end"] or add_months(row["started_at"] or now, 1),
            monthly_amount=plan.monthly_price,
            currency=plan.currency,
        )
        if subscription.current_period_end <= subscription.started_at:
            raise SubscriptionInputError(_("The period end must be after the start."))
        if row.get("cancel_at") and row["cancel_at"] <= now:
            raise SubscriptionInputError(_("A scheduled cancellation must be in the future."))
        subscriptions.append(subscription)
    Subscription.objects.bulk_create(subscriptions)
    made: list[tuple[SubscriptionEvent, dict | None]] = []  # ledger rows and their commands

    def change(subscription, kind, before, at, sequence):
        event, command = _ledger_entry(subscription, kind=kind, before=before, actor=actor, now=at)
        event.sequence = sequence
        made.append((event, command))
        return event.after

    ending = []
    for subscription, row in zip(subscriptions, rows, strict=True):
        started = change(subscription, EventKind.STARTED, {}, subscription.started_at, 1)
        if row.get("cancel_at"):
            subscription.status = Status.CANCEL_PENDING
            subscription.cancel_at = row["cancel_at"]
            subscription.cancelled_by = row.get("cancelled_by") or CancelledBy.CUSTOMER
            change(subscription, EventKind.CANCEL_REQUESTED, started, now, 2)
            ending.append(subscription)
    Subscription.objects.bulk_update(ending, ["status", "cancel_at", "cancelled_by"])
    SubscriptionEvent.objects.bulk_create([event for event, _command in made])
    changes_mark(kind=ChangeKind.SUBSCRIPTION_LEFT, ids=[s.pk for s in ending], at=now)
    for event, command in made:
        ledger_event_publish(event=event, subscription=event.subscription)
        if command is not None:
            billing_command_queue(
                subscription_id=event.subscription_id,
                ledger_event_id=event.pk,
                kind=event.kind,
                payload={**command, "tack_subscription": event.subscription.external_id},
            )
    return subscriptions
