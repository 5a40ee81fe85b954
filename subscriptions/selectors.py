"""Reads over customers, plans and subscriptions."""

from datetime import date, datetime

from django.db.models import Q, QuerySet

from core.dates import add_months, whole_months_between
from subscriptions.models import Customer, Plan, Subscription, SubscriptionEvent


def customer_list() -> QuerySet[Customer]:
    return Customer.objects.order_by("pk")


def subscription_list() -> QuerySet[Subscription]:
    return Subscription.objects.select_related("customer", "plan").order_by("pk")


def subscription_ledger(*, subscription: Subscription) -> QuerySet[SubscriptionEvent]:
    return subscription.events.select_related("actor").order_by("sequence")


def tenure_months(*, customer: Customer, today: date) -> int:
    return whole_months_between(customer.customer_since, today)


def next_cheaper_plan(*, plan: Plan) -> Plan | None:
    """The dearest active plan below ``plan`` with the same currency and contract length."""
    return (
        Plan.objects.filter(
            active=True,
            rank__lt=plan.rank,
            monthly_price__lt=plan.monthly_price,
            currency=plan.currency,
            contract_months=plan.contract_months,
        )
        .order_by("-rank", "-monthly_price")
        .first()
    )


def subscription_search(*, query: str, limit: int = 25) -> list[Subscription]:
    """Subscriptions matching one search box: name, email, phone, customer or subscription id."""
    query = query.strip()
    if not query:
        return []
    matches = Q(external_id=query) | Q(customer__external_id=query)
    matches |= Q(customer__email__iexact=query) | Q(customer__name__icontains=query)
    digits = "".join(ch for ch in query if ch.isdigit() or ch == "+")
    if len(digits) >= 5:
        matches |= Q(customer__phone__contains=digits)
    return list(
        Subscription.objects.filter(matches)
        .select_related("customer", "plan")
        .order_by("customer__name", "external_id")[:limit]
    )


def next_period_end(subscription: Subscription, *, now: datetime) -> datetime:
    """The end of the billing period running at ``now`` (rolled forward monthly if stale)."""
    end = subscription.current_period_end
    while end <= now:
        end = add_months(end, 1)
    return end
