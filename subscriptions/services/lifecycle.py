"""A subscription's life: start, pause and resume, plan changes, credits and discounts,
cancellation (scheduled, withdrawn, immediate), reactivation and the changes falling due."""

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from core.dates import add_months
from subscriptions.actors import Actor
from subscriptions.enums import CancelledBy, EventKind
from subscriptions.enums import SubscriptionStatus as Status
from subscriptions.errors import SubscriptionError, SubscriptionInputError
from subscriptions.models import Customer, Plan, Subscription, SubscriptionEvent
from subscriptions.selectors import next_period_end
from subscriptions.services.ledger import _commit, _lock, _require, _snapshot

MAX_PAUSE_MONTHS = 12
MAX_DISCOUNT_MONTHS = 24


@transaction.atomic
def subscription_start(
    *,
    external_id: str,
    customer: Customer,
    plan: Plan,
    actor: Actor,
    started_at: datetime | None = None,
    current_period_end: datetime | None = None,
    monthly_amount: Decimal | None = None,
) -> Subscription:
    """Create an active subscription. Side effects: a STARTED ledger row."""
    started_at = started_at or timezone.now()
    subscription = Subscription(
        external_id=external_id,
        customer=customer,
        plan=plan,
        status=Status.ACTIVE,
        started_at=started_at,
        current_period_end=current_period_end or add_months(started_at, 1),
        monthly_amount=plan.monthly_price if monthly_amount is None else monthly_amount,
        currency=plan.currency,
    )
    if subscription.current_period_end <= subscription.started_at:
        raise SubscriptionInputError(_("The period end must be after the start."))
    subscription.save()
    _commit(subscription, kind=EventKind.STARTED, actor=actor, before={}, now=started_at)
    return subscription


@transaction.atomic
def subscription_pause(
    *, subscription: Subscription, until: datetime, actor: Actor, now: datetime | None = None
) -> Subscription:
    """Pause billing until ``until``; the paid time left is kept for after the pause.

    Side effects: a PAUSED ledger row. ``subscription_apply_due_changes`` resumes it.
    """
    now = now or timezone.now()
    subscription = _lock(subscription)
    _require(subscription, {Status.ACTIVE}, _("pause"))
    if until <= now or until > add_months(now, MAX_PAUSE_MONTHS):
        raise SubscriptionInputError(
            _("A pause must end in the future and last at most %(months)d months.")
            % {"months": MAX_PAUSE_MONTHS}
        )
    before = _snapshot(subscription)
    subscription.status = Status.PAUSED
    subscription.paused_until = until
    subscription.current_period_end = next_period_end(subscription, now=now) + (until - now)
    _commit(subscription, kind=EventKind.PAUSED, actor=actor, before=before, now=now)
    return subscription


@transaction.atomic
def subscription_resume(
    *, subscription: Subscription, actor: Actor, now: datetime | None = None
) -> Subscription:
    """End a pause. Side effects: a RESUMED ledger row."""
    subscription = _lock(subscription)
    _require(subscription, {Status.PAUSED}, _("resume"))
    before = _snapshot(subscription)
    subscription.status = Status.ACTIVE
    subscription.paused_until = None
    _commit(subscription, kind=EventKind.RESUMED, actor=actor, before=before, now=now)
    return subscription


@transaction.atomic
def subscription_change_plan(
    *, subscription: Subscription, plan: Plan, actor: Actor, note: str = ""
) -> Subscription:
    """Move to another plan at its price. Side effects: a PLAN_CHANGED ledger row."""
    subscription = _lock(subscription)
    _require(subscription, {Status.ACTIVE, Status.PAUSED}, _("change the plan of"))
    if plan.pk == subscription.plan_id:
        raise SubscriptionInputError(_("The subscription is already on this plan."))
    if not plan.active:
        raise SubscriptionInputError(_("This plan is no longer offered."))
    before = _snapshot(subscription)
    subscription.plan = plan
    subscription.monthly_amount = plan.monthly_price
    subscription.currency = plan.currency
    _commit(subscription, kind=EventKind.PLAN_CHANGED, actor=actor, before=before, note=note)
    return subscription


@transaction.atomic
def subscription_grant_credit(
    *, subscription: Subscription, amount: Decimal, actor: Actor, note: str = ""
) -> SubscriptionEvent:
    """Credit the customer's account. Side effects: a CREDIT_GRANTED ledger row."""
    subscription = _lock(subscription)
    _require(subscription, {Status.ACTIVE, Status.PAUSED, Status.CANCEL_PENDING}, _("credit"))
    if amount <= 0:
        raise SubscriptionInputError(_("A credit must be a positive amount."))
    before = _snapshot(subscription)
    return _commit(
        subscription,
        kind=EventKind.CREDIT_GRANTED,
        actor=actor,
        before=before,
        amount=amount,
        note=note,
    )


@transaction.atomic
def subscription_grant_discount(
    *,
    subscription: Subscription,
    percent: int,
    months: int,
    actor: Actor,
    now: datetime | None = None,
) -> SubscriptionEvent:
    """A percentage off the monthly amount for ``months`` months.

    Side effects: a DISCOUNT_GRANTED ledger row whose amount is the discount's total value.
    """
    now = now or timezone.now()
    subscription = _lock(subscription)
    _require(subscription, {Status.ACTIVE, Status.PAUSED}, _("discount"))
    if not 0 < percent <= 100 or not 0 < months <= MAX_DISCOUNT_MONTHS:
        raise SubscriptionInputError(_("A discount needs a percentage and a length in months."))
    before = _snapshot(subscription)
    subscription.discount_percent = percent
    subscription.discount_until = add_months(now, months)
    value = (subscription.monthly_amount * percent / 100 * months).quantize(Decimal("0.01"))
    return _commit(
        subscription,
        kind=EventKind.DISCOUNT_GRANTED,
        actor=actor,
        before=before,
        amount=value,
        now=now,
    )


@transaction.atomic
def subscription_schedule_cancel(
    *,
    subscription: Subscription,
    actor: Actor,
    at: datetime | None = None,
    cancelled_by: str = CancelledBy.CUSTOMER,
    now: datetime | None = None,
) -> Subscription:
    """Schedule the cancellation for ``at`` (default: the end of the current period).

    Side effects: a CANCEL_REQUESTED ledger row; ``subscription_apply_due_changes``
    cancels it when the time comes. A time not in the future cancels at once.
    """
    now = now or timezone.now()
    subscription = _lock(subscription)
    _require(subscription, {Status.ACTIVE, Status.PAUSED}, _("cancel"))
    at = at or next_period_end(subscription, now=now)
    if at <= now:
        return subscription_cancel(
            subscription=subscription, actor=actor, cancelled_by=cancelled_by, now=now
        )
    before = _snapshot(subscription)
    subscription.status = Status.CANCEL_PENDING
    subscription.cancel_at = at
    subscription.cancelled_by = cancelled_by
    subscription.paused_until = None
    _commit(subscription, kind=EventKind.CANCEL_REQUESTED, actor=actor, before=before, now=now)
    return subscription


@transaction.atomic
def subscription_withdraw_cancel(
    *, subscription: Subscription, actor: Actor, now: datetime | None = None
) -> Subscription:
    """Undo a scheduled cancellation before it takes effect.

    Side effects: a CANCEL_WITHDRAWN ledger row.
    """
    now = now or timezone.now()
    subscription = _lock(subscription)
    _require(subscription, {Status.CANCEL_PENDING}, _("withdraw the cancellation of"))
    if subscription.cancel_at <= now:
        raise SubscriptionError(_("The cancellation has already taken effect."))
    before = _snapshot(subscription)
    subscription.status = Status.ACTIVE
    subscription.cancel_at = None
    subscription.cancelled_by = ""
    _commit(subscription, kind=EventKind.CANCEL_WITHDRAWN, actor=actor, before=before, now=now)
    return subscription


@transaction.atomic
def subscription_cancel(
    *,
    subscription: Subscription,
    actor: Actor,
    cancelled_by: str | None = None,
    now: datetime | None = None,
) -> Subscription:
    """End the subscription now. Side effects: a CANCELLED ledger row."""
    now = now or timezone.now()
    subscription = _lock(subscription)
    _require(subscription, {Status.ACTIVE, Status.PAUSED, Status.CANCEL_PENDING}, _("cancel"))
    before = _snapshot(subscription)
    subscription.status = Status.CANCELLED
    subscription.cancelled_at = now
    subscription.cancelled_by = cancelled_by or subscription.cancelled_by or CancelledBy.CUSTOMER
    subscription.cancel_at = None
    subscription.paused_until = None
    _commit(subscription, kind=EventKind.CANCELLED, actor=actor, before=before, now=now)
    return subscription


@transaction.atomic
def subscription_reactivate(
    *,
    subscription: Subscription,
    actor: Actor,
    plan: Plan | None = None,
    now: datetime | None = None,
    note: str = "",
) -> Subscription:
    """Bring a cancelled subscription back, optionally on another plan, from today.

    Side effects: a REACTIVATED ledger row.
    """
    now = now or timezone.now()
    subscription = _lock(subscription)
    _require(subscription, {Status.CANCELLED}, _("reactivate"))
    plan = plan or subscription.plan
    if not plan.active:
        raise SubscriptionInputError(_("This plan is no longer offered."))
    before = _snapshot(subscription)
    subscription.status = Status.ACTIVE
    subscription.plan = plan
    subscription.monthly_amount = plan.monthly_price
    subscription.currency = plan.currency
    subscription.cancelled_at = None
    subscription.cancelled_by = ""
    subscription.discount_percent = 0
    subscription.discount_until = None
    subscription.current_period_end = add_months(now, 1)
    _commit(
        subscription,
        kind=EventKind.REACTIVATED,
        actor=actor,
        before=before,
        amount=plan.monthly_price,
        note=note,
        now=now,
    )
    return subscription


@transaction.atomic
def _end_discount(*, subscription: Subscription, actor: Actor, now: datetime) -> None:
    subscription = _lock(subscription)
    if subscription.discount_until is None or subscription.discount_until > now:
        return
    before = _snapshot(subscription)
    subscription.discount_percent = 0
    subscription.discount_until = None
    _commit(subscription, kind=EventKind.UPDATED, actor=actor, before=before, note="discount ended")


@dataclass(frozen=True)
class DueChanges:
    cancelled: int
    resumed: int
    discounts_ended: int


def subscription_apply_due_changes(*, now: datetime | None = None, limit: int = 1000) -> DueChanges:
    """Carry out what is due: scheduled cancellations, ended pauses and ended discounts.

    Each subscription is handled in its own transaction, so one failure stops nothing else.
    """
    now = now or timezone.now()
    actor = Actor.system("scheduler")
    cancelled = resumed = discounts = 0
    for subscription in Subscription.objects.filter(
        status=Status.CANCEL_PENDING, cancel_at__lte=now
    )[:limit]:
        with transaction.atomic():
            locked = _lock(subscription)
            if locked.status == Status.CANCEL_PENDING and locked.cancel_at <= now:
                subscription_cancel(subscription=locked, actor=actor, now=locked.cancel_at)
                cancelled += 1
    for subscription in Subscription.objects.filter(status=Status.PAUSED, paused_until__lte=now)[
        :limit
    ]:
        with transaction.atomic():
            locked = _lock(subscription)
            if locked.status == Status.PAUSED and locked.paused_until <= now:
                subscription_resume(subscription=locked, actor=actor, now=locked.paused_until)
                resumed += 1
    for subscription in Subscription.objects.filter(discount_until__lte=now)[:limit]:
        _end_discount(subscription=subscription, actor=actor, now=now)
        discounts += 1
    return DueChanges(cancelled, resumed, discounts)
