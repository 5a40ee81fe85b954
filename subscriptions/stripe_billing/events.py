"""Stripe's webhooks: verify the signature, keep each event once, and bring a
subscription's state in through the lifecycle services (channel ``billing``).

Events can arrive late, twice, or out of order. Each event is kept under its id (a replay
finds it and changes nothing). A subscription event carries the whole object as it was when
the event was made, so Tack compares states, not arrival order: an event older than the
newest one already taken for that subscription is kept as ``stale`` and changes nothing;
otherwise Tack moves its subscription to the object's state (paused, cancellation
scheduled, cancelled, plan) — which is already so when the change came from Tack itself.

``invoice.payment_failed`` is recorded per subscription; a ``customer.subscription.deleted``
after one (or whose ``cancellation_details.reason`` says so) is cancelled as non-payment,
so involuntary churn is told apart from a customer's own decision.
"""

import logging
from datetime import UTC, datetime

from django.conf import settings
from django.db import IntegrityError, transaction

from core.enums import BillingCommandStatus
from core.models import BillingCommand
from subscriptions.actors import Actor
from subscriptions.enums import CancelledBy, Channel
from subscriptions.enums import SubscriptionStatus as Status
from subscriptions.errors import SubscriptionError
from subscriptions.models import Plan, StripeEvent, Subscription
from subscriptions.services.ledger import _lock
from subscriptions.services.lifecycle import (
    subscription_cancel,
    subscription_change_plan,
    subscription_pause,
    subscription_resume,
    subscription_schedule_cancel,
    subscription_withdraw_cancel,
)

logger = logging.getLogger(__name__)

ACTOR = Actor(channel=Channel.BILLING, label="stripe")
Outcome = StripeEvent.Outcome
# What to enable on the Stripe webhook endpoint (README "Connecting Stripe").
EVENTS = (
    "customer.subscription.created",
    "customer.subscription.updated",
    "customer.subscription.paused",
    "customer.subscription.resumed",
    "customer.subscription.deleted",
    "invoice.payment_failed",
)
INVOLUNTARY = {"payment_failed", "payment_disputed"}


class StripeSignatureError(Exception):
    """Unsigned, wrongly signed, or older than STRIPE_WEBHOOK_TOLERANCE_SECONDS."""


def stripe_event_verify(*, payload: bytes, signature: str) -> dict:
    """The event, if ``signature`` (the Stripe-Signature header) is Stripe's over
    ``payload`` with the signing secret and recent enough; else StripeSignatureError."""
    import stripe  # here, not at import: the SDK takes a quarter of a second to import,
    # and every process that loads the URLconf (each web and Celery worker) would pay it

    secret = settings.STRIPE_WEBHOOK_SECRET
    if not secret or not signature:
        raise StripeSignatureError("missing signature or signing secret")
    try:
        event = stripe.Webhook.construct_event(
            payload.decode("utf-8"),
            signature,
            secret,
            tolerance=settings.STRIPE_WEBHOOK_TOLERANCE_SECONDS,
        )
    except (stripe.SignatureVerificationError, ValueError, UnicodeDecodeError) as exc:
        raise StripeSignatureError(str(exc)) from exc
    return event.to_dict()


def _at(epoch: int | None) -> datetime | None:
    return datetime.fromtimestamp(int(epoch), tz=UTC) if epoch else None


def _subject(event: dict) -> str:
    obj = event["data"]["object"]
    if obj.get("object") == "subscription":
        return obj["id"]
    subscription = obj.get("subscription") or (obj.get("parent") or {}).get(
        "subscription_details", {}
    ).get("subscription")
    return subscription or ""


@transaction.atomic
def stripe_event_receive(*, event: dict) -> StripeEvent | None:
    """Take one verified event. Returns its row, or None when it was taken before.
    Side effects: a StripeEvent row; lifecycle changes (ledger rows, channel billing)."""
    row = StripeEvent(
        event_id=event["id"],
        type=event["type"],
        subject=_subject(event),
        created=_at(event["created"]),
        outcome=Outcome.IGNORED,
    )
    try:
        with transaction.atomic():
            row.save()
    except IntegrityError:
        return None  # a replay: Stripe sends an event again until it gets a 2xx
    if row.type == "invoice.payment_failed":
        row.outcome = Outcome.RECORDED
    elif row.type.startswith("customer.subscription.") and row.subject:
        row.outcome = _take_state(row, event["data"]["object"])
    row.save(update_fields=["outcome"])
    return row


def _take_state(row: StripeEvent, obj: dict) -> str:
    newer = (
        StripeEvent.objects.filter(
            subject=row.subject, created__gt=row.created, outcome__in=[Outcome.APPLIED]
        )
        .exclude(pk=row.pk)
        .exists()
    )
    if newer:
        return Outcome.STALE
    tack_id = (obj.get("metadata") or {}).get("tack_subscription") or obj["id"]
    subscription = Subscription.objects.filter(external_id=tack_id).first()
    if subscription is None:
        return Outcome.IGNORED  # not imported yet: stripe_sync brings it in
    if _current_stripe_id(subscription) != obj["id"]:
        return Outcome.IGNORED  # a Stripe subscription it had before it came back
    try:
        _converge(_lock(subscription), obj, row)
    except SubscriptionError as exc:
        logger.warning("stripe event %s not applied: %s", row.event_id, exc)
        return Outcome.IGNORED
    return Outcome.APPLIED


def _current_stripe_id(subscription: Subscription) -> str:
    """The Stripe subscription Tack's subscription acts on now: the one its last comeback made."""
    made = (
        BillingCommand.objects.filter(
            subscription_id=subscription.pk,
            status=BillingCommandStatus.APPLIED,
            result__has_key="subscription",
        )
        .order_by("-pk")
        .values_list("result", flat=True)
        .first()
    )
    return made["subscription"] if made else subscription.external_id


def _converge(subscription: Subscription, obj: dict, row: StripeEvent) -> None:
    """Move ``subscription`` to the state of Stripe's object, one lifecycle step at a time."""
    status = obj.get("status")
    if status in ("canceled", "incomplete_expired") or row.type.endswith(".deleted"):
        if subscription.status != Status.CANCELLED:
            subscription_cancel(
                subscription=subscription,
                actor=ACTOR,
                cancelled_by=_cancelled_by(obj, row),
                now=_at(obj.get("ended_at") or obj.get("canceled_at")) or row.created,
            )
        return
    if subscription.status == Status.CANCELLED:
        return  # coming back is a new Stripe subscription (reactivation), not this one
    price = _price_of(obj)
    if price and price != subscription.plan.code:
        plan = Plan.objects.filter(code=price).first()
        if plan is not None and plan.active:
            subscription = subscription_change_plan(
                subscription=subscription, plan=plan, actor=ACTOR
            )
    pause = obj.get("pause_collection") or None
    if pause and pause.get("resumes_at") and subscription.status == Status.ACTIVE:
        subscription = subscription_pause(
            subscription=subscription, until=_at(pause["resumes_at"]), actor=ACTOR
        )
    elif not pause and subscription.status == Status.PAUSED:
        subscription = subscription_resume(subscription=subscription, actor=ACTOR)
    cancel_at = _at(obj.get("cancel_at"))
    if obj.get("cancel_at_period_end") and not cancel_at:
        cancel_at = subscription.current_period_end
    if cancel_at and subscription.status in (Status.ACTIVE, Status.PAUSED):
        subscription_schedule_cancel(
            subscription=subscription, actor=ACTOR, at=cancel_at, now=row.created
        )
    elif not cancel_at and subscription.status == Status.CANCEL_PENDING:
        subscription_withdraw_cancel(subscription=subscription, actor=ACTOR)


def _price_of(obj: dict) -> str:
    items = (obj.get("items") or {}).get("data") or []
    if not items:
        return ""
    item = items[0]
    return (item.get("price") or {}).get("id") or (item.get("plan") or {}).get("id") or ""


def _cancelled_by(obj: dict, row: StripeEvent) -> str:
    reason = (obj.get("cancellation_details") or {}).get("reason")
    failed = StripeEvent.objects.filter(
        subject=row.subject, type="invoice.payment_failed", created__lte=row.created
    ).exists()
    if reason in INVOLUNTARY or failed:
        return CancelledBy.COMPANY_NON_PAYMENT
    return CancelledBy.CUSTOMER
