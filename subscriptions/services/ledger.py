"""How every subscription change is made: lock the row, check the transition, write one
ledger row and the billing command that carries it out (an outbox row, sent after commit),
in the caller's transaction."""

from datetime import datetime
from decimal import Decimal
from typing import Any

from django.db import connection
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from core.changes import changes_mark
from core.enums import ChangeKind
from core.outbox.billing import billing_command_queue
from core.sql import insert_columns, inserted
from subscriptions.actors import Actor
from subscriptions.billing import billing_gateway
from subscriptions.enums import LEAVE_KINDS, SubscriptionStatus
from subscriptions.errors import SubscriptionError
from subscriptions.models import Subscription, SubscriptionEvent
from subscriptions.selectors import subscription_for_update
from subscriptions.webhooks import ledger_event_publish


def _snapshot(subscription: Subscription) -> dict[str, Any]:
    def iso(value):
        return value.isoformat() if value else None

    return {
        "status": subscription.status,
        "plan": subscription.plan.code,
        "monthly_amount": str(subscription.monthly_amount),
        "currency": subscription.currency,
        "current_period_end": iso(subscription.current_period_end),
        "paused_until": iso(subscription.paused_until),
        "cancel_at": iso(subscription.cancel_at),
        "cancelled_at": iso(subscription.cancelled_at),
        "discount_percent": subscription.discount_percent,
        "discount_until": iso(subscription.discount_until),
    }


def _lock(subscription: Subscription) -> Subscription:
    return subscription_for_update(pk=subscription.pk)


def _require(subscription: Subscription, allowed: set[str], action) -> None:
    if subscription.status not in allowed:
        raise SubscriptionError(
            _("Cannot %(action)s a subscription that is %(status)s.")
            % {"action": action, "status": subscription.get_status_display().lower()}
        )


def _append(event: SubscriptionEvent) -> None:
    """Insert the ledger row with the subscription's next sequence number in one statement
    (INSERT … SELECT max + 1). The caller holds the subscription's row lock (``_lock``), so
    no other change of it can take the same number; the unique constraint would refuse it
    anyway."""
    meta = SubscriptionEvent._meta
    quote = connection.ops.quote_name
    columns, values = insert_columns(event, exclude=("sequence",))
    sequence = quote(meta.get_field("sequence").column)
    subscription = quote(meta.get_field("subscription").column)
    table = quote(meta.db_table)
    statement = (
        f"INSERT INTO {table} ({', '.join(columns)}, {sequence}) "
        f"SELECT {', '.join(['%s'] * len(values))}, COALESCE(MAX({sequence}), 0) + 1 "
        f"FROM {table} WHERE {subscription} = %s "
        f"RETURNING {quote(meta.pk.column)}, {sequence}"
    )
    with connection.cursor() as cursor:
        cursor.execute(statement, [*values, event.subscription_id])
        pk, event.sequence = cursor.fetchone()
    inserted(event, pk)


def _ended(snapshot: dict[str, Any]) -> tuple[bool, str | None]:
    return snapshot.get("status") == SubscriptionStatus.CANCELLED, snapshot.get("cancelled_at")


def _ledger_entry(
    subscription: Subscription,
    *,
    kind: str,
    before: dict,
    actor: Actor,
    now: datetime,
    amount: Decimal | None = None,
    note: str = "",
) -> tuple[SubscriptionEvent, dict | None]:
    """The ledger row for a change just made to ``subscription`` (not saved yet), and the
    billing command that carries the change out (None when the gateway has nothing to do)."""
    after = _snapshot(subscription)
    command = billing_gateway().command(
        subscription=subscription,
        kind=kind,
        before=before,
        after=after,
        amount=amount,
        channel=actor.channel,
        now=now,
    )
    event = SubscriptionEvent(
        subscription=subscription,
        kind=kind,
        channel=actor.channel,
        actor=actor.user,
        actor_label=actor.label[:120],
        before=before,
        after=after,
        amount=amount,
        currency=subscription.currency if amount is not None else "",
        note=note[:500],
        created_at=now,
    )
    return event, command


def _commit(
    subscription: Subscription,
    *,
    kind: str,
    actor: Actor,
    before: dict,
    amount: Decimal | None = None,
    note: str = "",
    now: datetime | None = None,
) -> SubscriptionEvent:
    """Save the row, append its ledger entry, its webhook and its billing command."""
    now = now or timezone.now()
    event, command = _ledger_entry(
        subscription,
        kind=kind,
        before=before,
        actor=actor,
        now=now,
        amount=amount,
        note=note,
    )
    subscription.save()
    if kind in LEAVE_KINDS or _ended(before) != _ended(event.after):
        # An earlier save of this subscription may no longer count as billing-verified, and
        # a comeback of it may have ended again (or no longer has).
        changes_mark(kind=ChangeKind.SUBSCRIPTION_LEFT, ids=[subscription.pk], at=now)
    _append(event)
    ledger_event_publish(event=event, subscription=subscription)
    if command is not None:
        billing_command_queue(
            subscription_id=subscription.pk,
            ledger_event_id=event.pk,
            kind=kind,
            payload={**command, "tack_subscription": subscription.external_id},
        )
    return event
