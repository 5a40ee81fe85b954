"""The first import from Stripe (``manage.py stripe_sync``), safe to re-run: prices become
plans, customers and subscriptions come in through the subscription services with channel
``billing``, keyed by Stripe's ids. What cannot be taken is counted with its reason.

Stripe's lists are read a page at a time (``limit`` 100, ``starting_after``); a
subscription whose state Tack already holds is passed over without a write, so a second run
is cheap and changes nothing.
"""

from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from subscriptions.actors import Actor
from subscriptions.enums import BillingInterval, Channel
from subscriptions.enums import SubscriptionStatus as Status
from subscriptions.errors import SubscriptionError, SubscriptionInputError
from subscriptions.models import Customer, Plan, Subscription
from subscriptions.services import (
    customer_create_many,
    customer_upsert,
    subscription_start_many,
    subscription_upsert,
)
from subscriptions.stripe_billing.client import stripe_client
from subscriptions.stripe_billing.gateway import ZERO_DECIMAL

ACTOR = Actor(channel=Channel.BILLING, label="stripe sync")
PAGE = 100


@dataclass
class SyncReport:
    created: Counter = field(default_factory=Counter)
    updated: Counter = field(default_factory=Counter)
    unchanged: Counter = field(default_factory=Counter)
    skipped: Counter = field(default_factory=Counter)  # (kind, reason) → count


def _pages(client, path: str, params: dict) -> Iterator[list[dict]]:
    """Stripe's list at ``path``, a page at a time, as plain JSON (``raw_request``: turning
    10,000 objects into SDK objects took longer than the sync's own work)."""
    after = None
    while True:
        query = {**params, "limit": PAGE, **({"starting_after": after} if after else {})}
        page = client.raw_request("get", path, **query).data
        data = page["data"]
        if data:
            yield data
        if not page.get("has_more") or not data:
            return
        after = data[-1]["id"]


def _at(epoch) -> datetime | None:
    return datetime.fromtimestamp(int(epoch), tz=UTC) if epoch else None


def _monthly(price: dict) -> Decimal:
    recurring = price["recurring"]
    factor = 1 if price["currency"].lower() in ZERO_DECIMAL else 100
    months = {"month": 1, "year": 12}[recurring["interval"]] * int(
        recurring.get("interval_count") or 1
    )
    return (Decimal(price.get("unit_amount") or 0) / factor / months).quantize(Decimal("0.01"))


def stripe_sync(*, progress: Callable[[str, int], None] = lambda kind, done: None) -> SyncReport:
    """Import prices, customers and subscriptions from Stripe. Side effects: plans,
    customers and subscriptions created or updated (ledger rows with channel billing)."""
    client = stripe_client()
    report = SyncReport()
    _sync_prices(client, report, progress)
    _sync_customers(client, report, progress)
    _sync_subscriptions(client, report, progress)
    return report


def _sync_prices(client, report: SyncReport, progress) -> None:
    done = 0
    for page in _pages(client, "/v1/prices", {}):
        for price in page:
            done += 1
            recurring = price.get("recurring")
            if not recurring or recurring.get("interval") not in ("month", "year"):
                report.skipped["price", "not billed monthly or yearly"] += 1
                continue
            values = {
                "name": (price.get("nickname") or price.get("lookup_key") or price["id"])[:100],
                "monthly_price": _monthly(price),
                "currency": price["currency"].upper(),
                "billing_interval": BillingInterval(recurring["interval"]),
                "active": bool(price.get("active", True)),
            }
            plan = Plan.objects.filter(code=price["id"]).first()
            if plan is None:
                rank = int(values["monthly_price"] * 100)
                Plan.objects.create(code=price["id"], rank=rank, **values)
                report.created["plan"] += 1
            elif any(getattr(plan, k) != v for k, v in values.items()):
                Plan.objects.filter(pk=plan.pk).update(**values)
                report.updated["plan"] += 1
            else:
                report.unchanged["plan"] += 1
        progress("prices", done)


def _sync_customers(client, report: SyncReport, progress) -> None:
    done = 0
    for page in _pages(client, "/v1/customers", {}):
        known = dict(
            Customer.objects.filter(external_id__in=[c["id"] for c in page]).values_list(
                "external_id", "email"
            )
        )
        fresh = []
        for customer in page:
            done += 1
            email = customer.get("email") or ""
            if customer["id"] in known and known[customer["id"]] == email:
                report.unchanged["customer"] += 1
                continue
            data = {"email": email, "customer_since": _at(customer["created"]).date()}
            if customer["id"] not in known:
                name = (customer.get("name") or email or customer["id"])[:200]
                fresh.append({**data, "external_id": customer["id"], "name": name})
                continue
            try:
                _, _, changed = customer_upsert(external_id=customer["id"], data=data, actor=ACTOR)
            except (SubscriptionError, ValidationError) as exc:
                report.skipped["customer", _reason(exc)] += 1
                continue
            (report.updated if changed else report.unchanged)["customer"] += 1
        _create_customers(fresh, report)
        progress("customers", done)


def _state(subscription) -> dict:
    """Tack's fields for a Stripe subscription object."""
    pause = subscription.get("pause_collection") or None
    cancel_at = _at(subscription.get("cancel_at"))
    item = subscription["items"]["data"][0]
    period_end = _at(item.get("current_period_end") or subscription.get("current_period_end"))
    if cancel_at is None and subscription.get("cancel_at_period_end"):
        cancel_at = period_end
    if subscription["status"] == "canceled":
        status = Status.CANCELLED
    elif pause and pause.get("resumes_at"):
        status = Status.PAUSED
    elif cancel_at:
        status = Status.CANCEL_PENDING
    else:
        status = Status.ACTIVE
    return {
        "price": (item.get("price") or item.get("plan")).get("id"),
        "status": status,
        "started_at": _at(subscription.get("start_date") or subscription["created"]),
        "current_period_end": period_end,
        "paused_until": _at(pause["resumes_at"]) if status == Status.PAUSED else None,
        "cancel_at": cancel_at if status == Status.CANCEL_PENDING else None,
        "cancelled_at": _at(subscription.get("ended_at") or subscription.get("canceled_at")),
    }


def _holds(held: dict | None, state: dict) -> bool:
    return held is not None and all(
        held[key] == state[key] for key in ("price", "status", "paused_until", "cancel_at")
    )


def _batched(state: dict, now: datetime) -> bool:
    """A new subscription that runs, or is set to end later, is started in its page's
    batch; one paused or ended goes through ``subscription_upsert`` on its own."""
    if state["status"] == Status.CANCEL_PENDING:
        return state["cancel_at"] > now
    return state["status"] == Status.ACTIVE


def _sync_subscriptions(client, report: SyncReport, progress) -> None:
    plans = {plan.code: plan for plan in Plan.objects.all()}
    done = 0
    for page in _pages(client, "/v1/subscriptions", {"status": "all"}):
        now = timezone.now()  # the page's batch starts subscriptions as of this moment
        ids = [s["id"] for s in page]
        held = {
            row["external_id"]: {**row, "price": row.pop("plan__code")}
            for row in Subscription.objects.filter(external_id__in=ids).values(
                "external_id",
                "plan__code",
                "status",
                "paused_until",
                "cancel_at",
            )
        }
        customers = Customer.objects.in_bulk(
            [s["customer"] for s in page], field_name="external_id"
        )
        fresh: list[dict] = []
        for subscription in page:
            done += 1
            if subscription["status"] in ("incomplete", "incomplete_expired"):
                report.skipped["subscription", f"status {subscription['status']}"] += 1
                continue
            state = _state(subscription)
            if _holds(held.get(subscription["id"]), state):
                report.unchanged["subscription"] += 1
                continue
            plan = plans.get(state["price"])
            if plan is None:
                report.skipped["subscription", "price not imported"] += 1
                continue
            if subscription["customer"] not in customers:
                report.skipped["subscription", "customer not imported"] += 1
                continue
            is_new = subscription["id"] not in held
            if is_new and state["status"] == Status.CANCELLED:
                report.skipped["subscription", "cancelled before Tack knew it"] += 1
                continue
            if is_new and _batched(state, now):
                fresh.append(
                    {
                        "external_id": subscription["id"],
                        "customer": customers[subscription["customer"]],
                        "plan": plan,
                        "started_at": state["started_at"],
                        "current_period_end": state["current_period_end"],
                        "cancel_at": state["cancel_at"],
                    }
                )
                continue
            try:
                with transaction.atomic():
                    subscription_upsert(
                        external_id=subscription["id"],
                        customer=customers[subscription["customer"]],
                        plan=plan,
                        actor=ACTOR,
                        # Only on the way in: a pause in Tack moves the period end on.
                        started_at=state["started_at"] if is_new else None,
                        current_period_end=state["current_period_end"] if is_new else None,
                        status=state["status"],
                        paused_until=state["paused_until"],
                        cancel_at=state["cancel_at"],
                        cancelled_at=state["cancelled_at"],
                    )
            except SubscriptionError as exc:
                report.skipped["subscription", str(exc)] += 1
                continue
            (report.created if is_new else report.updated)["subscription"] += 1
        _start_page(fresh, report, now)
        progress("subscriptions", done)


# What refuses a batch of new subscriptions, or one of them: a state, an input, a duplicate.
_START_ERRORS = (SubscriptionError, SubscriptionInputError, IntegrityError)


def _start_page(fresh: list[dict], report: SyncReport, now: datetime) -> None:
    """The page's new subscriptions (running, or set to end later) in one batch; one by one
    if the batch fails."""
    if not fresh:
        return
    try:
        subscription_start_many(rows=fresh, actor=ACTOR, now=now)
        report.created["subscription"] += len(fresh)
        return
    except _START_ERRORS:
        pass
    for row in fresh:
        try:
            subscription_start_many(rows=[row], actor=ACTOR, now=now)
        except _START_ERRORS as exc:
            report.skipped["subscription", _reason(exc)] += 1
        else:
            report.created["subscription"] += 1


def _reason(exc: Exception) -> str:
    if isinstance(exc, ValidationError):
        return "; ".join(f"{k}: {' '.join(v)}" for k, v in exc.message_dict.items())
    return str(exc).splitlines()[0]


def _create_customers(fresh: list[dict], report: SyncReport) -> None:
    """The page's new customers in one batch; one by one if the batch fails."""
    if not fresh:
        return
    try:
        customer_create_many(rows=fresh)
        report.created["customer"] += len(fresh)
        return
    except (ValidationError, IntegrityError):
        pass
    for row in fresh:
        try:
            customer_create_many(rows=[row])
        except (ValidationError, IntegrityError) as exc:
            report.skipped["customer", _reason(exc)] += 1
        else:
            report.created["customer"] += 1
