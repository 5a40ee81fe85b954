"""Tack's decisions carried out in Stripe.

``command`` (in the decision's transaction) turns a ledger change into plain data; ``send``
(in the outbox worker) makes the Stripe calls with the idempotency key. Tack names Stripe
objects by its own ids: a customer's and a subscription's ``external_id`` are Stripe's
``cus_…`` and ``sub_…``, a plan's ``code`` is the Stripe price id (``stripe_sync`` imports
them that way).

What each decision does in Stripe:

- pause: ``pause_collection`` (behaviour ``void``) with ``resumes_at``; resume: cleared;
- plan change: the subscription item's price swapped, with ``STRIPE_PRORATION_BEHAVIOR``;
- discount: a coupon ``tack-<percent>pct-<months>m`` (``percent_off``, ``duration_in_months``),
  created once and reused, applied to the subscription;
- loyalty credit: a customer balance transaction (a negative amount is a credit);
- cancel at period end (or at a date) and its undo; immediate cancel;
- reactivation: a new subscription for the customer on the plan's price (Stripe cannot bring
  a cancelled one back); its id is the command's result, used by later commands.

Changes Stripe makes itself are not sent back: a pause that ends at ``resumes_at``, a
cancellation falling due at the period end, and every change that came from Stripe
(channel ``billing``).
"""

from datetime import datetime
from decimal import Decimal

import stripe
from django.conf import settings
from django.utils.translation import gettext_lazy as _

from core.outbox.billing import BillingRefused, BillingUnavailable
from subscriptions.billing import BillingError
from subscriptions.enums import Channel, EventKind
from subscriptions.enums import SubscriptionStatus as Status
from subscriptions.stripe_billing.client import stripe_client

# Currencies Stripe counts in whole units (no cents).
ZERO_DECIMAL = {"bif", "clp", "djf", "gnf", "jpy", "kmf", "krw", "mga", "pyg", "rwf", "ugx"}
PAUSE_BEHAVIOR = "void"


def minor_units(amount: Decimal, currency: str) -> int:
    factor = 1 if currency.lower() in ZERO_DECIMAL else 100
    return int((Decimal(amount) * factor).to_integral_value())


def _epoch(value: datetime) -> int:
    return int(value.timestamp())


def _months_between(start: datetime, end: datetime) -> int:
    return max((end.year - start.year) * 12 + end.month - start.month, 1)


def coupon_id(percent: int, months: int) -> str:
    return f"tack-{percent}pct-{months}m"


class StripeGateway:
    def command(
        self,
        *,
        subscription,
        kind: str,
        before: dict,
        after: dict,
        amount: Decimal | None,
        channel: str,
        now: datetime,
    ) -> dict | None:
        if channel == Channel.BILLING:
            return None  # Stripe told us; telling it back would loop
        sub = subscription.external_id
        if kind == EventKind.PAUSED:
            return {
                "op": "pause",
                "subscription": sub,
                "resumes_at": _epoch(subscription.paused_until),
            }
        if kind == EventKind.RESUMED:
            due = (
                before.get("paused_until") and datetime.fromisoformat(before["paused_until"]) <= now
            )
            return None if due else {"op": "resume", "subscription": sub}
        if kind == EventKind.PLAN_CHANGED:
            return {
                "op": "change_price",
                "subscription": sub,
                "price": subscription.plan.code,
                "proration_behavior": settings.STRIPE_PRORATION_BEHAVIOR,
            }
        if kind == EventKind.CREDIT_GRANTED:
            currency = subscription.currency.lower()
            return {
                "op": "credit",
                "customer": subscription.customer.external_id,
                "amount": -minor_units(amount, currency),
                "currency": currency,
            }
        if kind == EventKind.DISCOUNT_GRANTED:
            percent = subscription.discount_percent
            months = _months_between(now, subscription.discount_until)
            return {"op": "discount", "subscription": sub, "percent": percent, "months": months}
        if kind == EventKind.CANCEL_REQUESTED:
            at_period_end = subscription.cancel_at == subscription.current_period_end
            return {
                "op": "cancel_later",
                "subscription": sub,
                "cancel_at": None if at_period_end else _epoch(subscription.cancel_at),
            }
        if kind == EventKind.CANCEL_WITHDRAWN:
            return {"op": "uncancel", "subscription": sub}
        if kind == EventKind.CANCELLED:
            scheduled = before.get("status") == Status.CANCEL_PENDING and before.get("cancel_at")
            if scheduled and datetime.fromisoformat(before["cancel_at"]) <= now:
                return None  # Stripe ends it at cancel_at by itself
            return {"op": "cancel", "subscription": sub}
        if kind == EventKind.REACTIVATED:
            return {
                "op": "create",
                "subscription": sub,
                "customer": subscription.customer.external_id,
                "price": subscription.plan.code,
            }
        if kind in (EventKind.STARTED, EventKind.UPDATED):
            return None
        raise BillingError(_("Stripe cannot carry out this change."))

    def send(self, *, command: dict, idempotency_key: str) -> dict:
        try:
            return _SENDERS[command["op"]](stripe_client().v1, command, idempotency_key)
        except (stripe.APIConnectionError, stripe.RateLimitError) as exc:
            raise BillingUnavailable(_message(exc)) from exc
        except stripe.StripeError as exc:
            if exc.http_status is None or exc.http_status >= 500 or exc.http_status == 409:
                raise BillingUnavailable(_message(exc)) from exc  # 409: the key is in use now
            raise BillingRefused(_message(exc), code=exc.code or "") from exc


def _message(exc: stripe.StripeError) -> str:
    status = f"HTTP {exc.http_status}: " if exc.http_status else ""
    return f"{status}{exc.user_message or exc.__class__.__name__}"


def _opts(key: str, part: str = "") -> dict:
    return {"idempotency_key": f"{key}{part}"}


def _pause(v1, command, key) -> dict:
    pause = {"behavior": PAUSE_BEHAVIOR, "resumes_at": command["resumes_at"]}
    v1.subscriptions.update(command["subscription"], {"pause_collection": pause}, _opts(key))
    return {}


def _resume(v1, command, key) -> dict:
    v1.subscriptions.update(command["subscription"], {"pause_collection": ""}, _opts(key))
    return {}


def _change_price(v1, command, key) -> dict:
    current = v1.subscriptions.retrieve(command["subscription"])
    item = current["items"]["data"][0]["id"]
    params = {
        "items": [{"id": item, "price": command["price"]}],
        "proration_behavior": command["proration_behavior"],
    }
    v1.subscriptions.update(command["subscription"], params, _opts(key))
    return {}


def _credit(v1, command, key) -> dict:
    params = {
        "amount": command["amount"],
        "currency": command["currency"],
        "description": "Tack: loyalty credit",
    }
    created = v1.customers.balance_transactions.create(command["customer"], params, _opts(key))
    return {"balance_transaction": created.id}


def _discount(v1, command, key) -> dict:
    coupon = coupon_id(command["percent"], command["months"])
    try:
        v1.coupons.retrieve(coupon)
    except stripe.InvalidRequestError as exc:
        if exc.http_status != 404:
            raise
        params = {
            "id": coupon,
            "percent_off": command["percent"],
            "duration": "repeating",
            "duration_in_months": command["months"],
        }
        try:
            v1.coupons.create(params, _opts(key, ":coupon"))
        except stripe.StripeError as race:  # made meanwhile by another command: use it
            if race.http_status not in (400, 409):
                raise
    params = {"discounts": [{"coupon": coupon}]}
    v1.subscriptions.update(command["subscription"], params, _opts(key))
    return {"coupon": coupon}


def _cancel_later(v1, command, key) -> dict:
    params = (
        {"cancel_at": command["cancel_at"]}
        if command.get("cancel_at")
        else {"cancel_at_period_end": True}
    )
    v1.subscriptions.update(command["subscription"], params, _opts(key))
    return {}


def _uncancel(v1, command, key) -> dict:
    params = {"cancel_at_period_end": False, "cancel_at": ""}
    v1.subscriptions.update(command["subscription"], params, _opts(key))
    return {}


def _cancel(v1, command, key) -> dict:
    v1.subscriptions.cancel(command["subscription"], options=_opts(key))
    return {}


def _create(v1, command, key) -> dict:
    params = {
        "customer": command["customer"],
        "items": [{"price": command["price"]}],
        "metadata": {"tack_subscription": command["tack_subscription"]},
    }
    created = v1.subscriptions.create(params, _opts(key))
    return {"subscription": created.id}


_SENDERS = {
    "pause": _pause,
    "resume": _resume,
    "change_price": _change_price,
    "credit": _credit,
    "discount": _discount,
    "cancel_later": _cancel_later,
    "uncancel": _uncancel,
    "cancel": _cancel,
    "create": _create,
}
