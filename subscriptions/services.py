"""Every change to customers and subscriptions.

Each subscription service locks the row, checks the transition, hands the change to the
billing gateway and writes one ledger row, all in one transaction.
"""

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from django.db import transaction
from django.db.models import Max
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from core.changes import changes_mark
from core.dates import add_months
from core.enums import ChangeKind
from core.errors import ConflictError, TackError
from subscriptions.actors import Actor
from subscriptions.billing import billing_gateway
from subscriptions.enums import LEAVE_KINDS, CancelledBy, Channel, ConsentSource, EventKind
from subscriptions.enums import SubscriptionStatus as Status
from subscriptions.models import Customer, Plan, Subscription, SubscriptionEvent
from subscriptions.webhooks import ledger_event_publish

MAX_PAUSE_MONTHS = 12
MAX_DISCOUNT_MONTHS = 24


class SubscriptionError(ConflictError):
    code = "invalid_transition"


class SubscriptionInputError(TackError):
    code = "invalid"


class CustomerErased(ConflictError):
    code = "customer_erased"


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


def next_period_end(subscription: Subscription, *, now: datetime) -> datetime:
    """The end of the billing period running at ``now`` (rolled forward monthly if stale)."""
    end = subscription.current_period_end
    while end <= now:
        end = add_months(end, 1)
    return end


# --- Customers -----------------------------------------------------------------

CUSTOMER_FIELDS = ("name", "email", "phone", "locale", "country", "customer_since")
CONSENT_SOURCE_BY_CHANNEL = {
    Channel.WEB: ConsentSource.WEB,
    Channel.PHONE: ConsentSource.PHONE,
    Channel.API: ConsentSource.API,
    Channel.IMPORT: ConsentSource.IMPORT,
}


@transaction.atomic
def customer_upsert(
    *, external_id: str, data: dict[str, Any], actor: Actor
) -> tuple[Customer, bool, bool]:
    """Create or update a customer by external id. Returns (customer, created, changed).

    ``data`` holds any of CUSTOMER_FIELDS plus ``marketing_consent``. Sending the same data
    twice changes nothing the second time. An erased customer is refused (CustomerErased).
    """
    customer = Customer.objects.select_for_update().filter(external_id=external_id).first()
    if customer is not None and customer.erased_at is not None:
        raise CustomerErased(
            _("This customer's personal data has been erased, so it cannot be sent in again.")
        )
    created = customer is None
    if created:
        customer = Customer(external_id=external_id)
    changed = created
    for field in CUSTOMER_FIELDS:
        if field in data and getattr(customer, field) != data[field]:
            setattr(customer, field, data[field])
            changed = True
    if "marketing_consent" in data and (
        created or customer.marketing_consent != data["marketing_consent"]
    ):
        customer_set_consent_fields(
            customer,
            consent=data["marketing_consent"],
            source=CONSENT_SOURCE_BY_CHANNEL.get(actor.channel, ConsentSource.API),
        )
        changed = True
    if changed:
        customer.full_clean(exclude=["external_id"] if not created else None)
        customer.save()
    return customer, created, changed


def customer_set_consent_fields(customer: Customer, *, consent: bool, source: str) -> None:
    customer.marketing_consent = consent
    customer.marketing_consent_at = timezone.now()
    customer.marketing_consent_source = source


# --- Subscriptions: lifecycle -------------------------------------------------------


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


# --- Subscriptions: sync from the company's systems -----------------------------------


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
) -> tuple[Subscription, bool, bool]:
    """Create or update a subscription by external id. Returns (subscription, created, changed).

    Status changes go through the lifecycle services above (so they are validated and
    ledgered like any other change); the same input twice changes nothing the second time.
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
            raise SubscriptionInputError(_("A subscription cannot move to another customer."))
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
    if status and status != subscription.status:
        _transition_to(
            subscription,
            status=status,
            actor=actor,
            paused_until=paused_until,
            cancel_at=cancel_at,
            cancelled_at=cancelled_at or now,
        )
        subscription.refresh_from_db()
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
) -> None:
    current = subscription.status
    if status == Status.CANCELLED:
        subscription_cancel(subscription=subscription, actor=actor, now=cancelled_at)
    elif status == Status.PAUSED:
        if paused_until is None:
            raise SubscriptionInputError(_("A paused subscription needs paused_until."))
        subscription_pause(subscription=subscription, until=paused_until, actor=actor)
    elif status == Status.CANCEL_PENDING:
        if cancel_at is None:
            raise SubscriptionInputError(_("A scheduled cancellation needs cancel_at."))
        subscription_schedule_cancel(subscription=subscription, actor=actor, at=cancel_at)
    elif current == Status.PAUSED:
        subscription_resume(subscription=subscription, actor=actor)
    elif current == Status.CANCEL_PENDING:
        subscription_withdraw_cancel(subscription=subscription, actor=actor)
    else:
        subscription_reactivate(subscription=subscription, actor=actor)
