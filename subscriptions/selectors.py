"""Reads over customers, plans and subscriptions."""

import functools
from datetime import date, datetime

from django.db import connection
from django.db.models import Q, QuerySet

from core.dates import add_months, whole_months_between
from core.sql import instances_from_row, prepared_row, select_list
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


@functools.cache
def _locked_statement() -> str:
    quote = connection.ops.quote_name
    parts = [("s", Subscription), ("pl", Plan), ("cu", Customer)]
    columns = ", ".join(column for alias, model in parts for column in select_list(alias, model))
    return (
        f"SELECT {columns} FROM {quote(Subscription._meta.db_table)} s "
        f"JOIN {quote(Plan._meta.db_table)} pl ON pl.id = s.plan_id "
        f"JOIN {quote(Customer._meta.db_table)} cu ON cu.id = s.customer_id "
        "WHERE s.id = %s FOR UPDATE OF s"
    )


def subscription_for_update(*, pk: int) -> Subscription:
    """The subscription ``pk``, locked until the transaction ends, with its plan and
    customer: one prepared statement, as every change of a subscription takes this lock
    first (``services.ledger``). Raises ``Subscription.DoesNotExist`` when there is none."""
    if connection.vendor != "postgresql":  # the embedded SQLite of `make run`: no FOR UPDATE OF
        return (
            Subscription.objects.select_for_update(of=("self",))
            .select_related("plan", "customer")
            .get(pk=pk)
        )
    row = prepared_row(_locked_statement(), [pk])
    if row is None:
        raise Subscription.DoesNotExist(f"no subscription {pk}")
    subscription, plan, customer = instances_from_row((Subscription, Plan, Customer), row)
    subscription.plan, subscription.customer = plan, customer
    return subscription
