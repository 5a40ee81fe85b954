"""Small builders for test data. Every row goes through the real services where one exists."""

import itertools
from datetime import date, datetime, timedelta
from decimal import Decimal

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.utils import timezone

from core.enums import WebhookEventType
from core.models import WebhookEndpoint
from core.roles import AGENTS, MANAGERS, ensure_roles
from subscriptions import services as subscription_services
from subscriptions.actors import Actor
from subscriptions.models import Customer, Plan, Subscription

_counter = itertools.count(1)


def unique(prefix: str) -> str:
    return f"{prefix}{next(_counter)}"


def make_plan(
    *,
    code: str | None = None,
    price: str = "199.00",
    rank: int = 2,
    contract_months: int = 1,
    active: bool = True,
) -> Plan:
    code = code or unique("plan-")
    return Plan.objects.create(
        code=code,
        name=code.title(),
        monthly_price=Decimal(price),
        rank=rank,
        contract_months=contract_months,
        active=active,
    )


def make_customer(
    *,
    name: str = "Astrid Lindqvist",
    email: str | None = None,
    locale: str = "sv",
    country: str = "SE",
    since: date | None = None,
    consent: bool = True,
    phone: str = "+46701234567",
) -> Customer:
    external_id = unique("cust-")
    customer, _, _ = subscription_services.customer_upsert(
        external_id=external_id,
        data={
            "name": name,
            "email": email if email is not None else f"{external_id}@example.com",
            "phone": phone,
            "locale": locale,
            "country": country,
            "customer_since": since or date(2019, 3, 14),
            "marketing_consent": consent,
        },
        actor=Actor.system("test"),
    )
    return customer


def make_subscription(
    *,
    customer: Customer | None = None,
    plan: Plan | None = None,
    started_at: datetime | None = None,
    period_end: datetime | None = None,
    **customer_kwargs,
) -> Subscription:
    customer = customer or make_customer(**customer_kwargs)
    started_at = started_at or datetime.combine(
        customer.customer_since, datetime.min.time(), tzinfo=timezone.get_current_timezone()
    )
    return subscription_services.subscription_start(
        external_id=unique("sub-"),
        customer=customer,
        plan=plan or make_plan(),
        actor=Actor.system("test"),
        started_at=started_at,
        current_period_end=period_end or timezone.now() + timedelta(days=12),
    )


def make_user(username: str, *, role: str | None = None, staff: bool = True, superuser=False):
    ensure_roles()
    user = get_user_model().objects.create_user(
        username=username,
        password="correct horse battery staple",
        is_staff=staff,
        is_superuser=superuser,
    )
    if role:
        user.groups.add(Group.objects.get(name=role))
    return user


def make_agent(username: str = "agent"):
    return make_user(username, role=AGENTS)


def make_manager(username: str = "manager"):
    return make_user(username, role=MANAGERS)


def make_endpoint(*, url: str, event_types: list[str] | None = None, active: bool = True):
    """A webhook endpoint for ``url`` wanting ``event_types`` (default: every type)."""
    return WebhookEndpoint.objects.create(
        name=unique("endpoint-"),
        url=url,
        event_types=list(WebhookEventType.values) if event_types is None else event_types,
        active=active,
    )
