"""How every subscription change is made: lock the row, check the transition, hand the
change to the billing gateway and write one ledger row, in the caller's transaction."""

from datetime import datetime
from decimal import Decimal
from typing import Any

from django.db.models import Max
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from core.changes import changes_mark
from core.enums import ChangeKind
from subscriptions.actors import Actor
from subscriptions.billing import billing_gateway
from subscriptions.enums import LEAVE_KINDS
from subscriptions.errors import SubscriptionError
from subscriptions.models import Subscription, SubscriptionEvent
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
    return (
        Subscription.objects.select_for_update(of=("self",))
        .select_related("plan", "customer")
        .get(pk=subscription.pk)
    )


def _require(subscription: Subscription, allowed: set[str], action) -> None:
    if subscription.status not in allowed:
        raise SubscriptionError(
            _("Cannot %(action)s a subscription that is %(status)s.")
            % {"action": action, "status": subscription.get_status_display().lower()}
        )


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
    """Pass the change to billing, save the row, append its ledger entry and its webhook."""
    after = _snapshot(subscription)
    billing_gateway().apply(subscription=subscription, kind=kind, before=before, after=after)
    subscription.save()
    last = subscription.events.aggregate(last=Max("sequence"))["last"] or 0
    if kind in LEAVE_KINDS:
        # An earlier save of this subscription may no longer count as billing-verified.
        changes_mark(kind=ChangeKind.SUBSCRIPTION_LEFT, ids=[subscription.pk])
    event = SubscriptionEvent.objects.create(
        subscription=subscription,
        sequence=last + 1,
        kind=kind,
        channel=actor.channel,
        actor=actor.user,
        actor_label=actor.label[:120],
        before=before,
        after=after,
        amount=amount,
        currency=subscription.currency if amount is not None else "",
        note=note[:500],
        created_at=now or timezone.now(),
    )
    ledger_event_publish(event=event, subscription=subscription)
    return event
