"""A believable Nordic subscription business, deterministic for a given seed.

Everything is generated in memory from one ``random.Random(seed)`` and loaded with COPY,
so a million subscriptions take minutes, not hours.
"""

import random
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal

from django.db import connection, transaction

from core.dates import add_months, whole_months_between
from demo.cases import seed_cases
from demo.names import COUNTRY_BY_LOCALE, FIRST_NAMES, LAST_NAMES, PHONE_PREFIX_BY_LOCALE
from demo.winback import seed_winback
from demo.writer import json_text, next_id, reset_sequences, write_rows

PLANS = [
    # code, name, monthly price (SEK), rank, contract months
    ("bas", "Bas", Decimal("99.00"), 1, 1),
    ("standard", "Standard", Decimal("179.00"), 2, 1),
    ("premium", "Premium", Decimal("299.00"), 3, 1),
    ("familj", "Familj", Decimal("399.00"), 4, 1),
    ("bas-12", "Bas 12 mån", Decimal("89.00"), 1, 12),
    ("standard-12", "Standard 12 mån", Decimal("159.00"), 2, 12),
    ("premium-12", "Premium 12 mån", Decimal("269.00"), 3, 12),
]
PLAN_WEIGHTS = [18, 30, 14, 6, 8, 16, 8]
LOCALE_WEIGHTS = {"sv": 45, "nb": 20, "da": 20, "en": 15}

Progress = Callable[[str, int, int], None]


def _quiet(label: str, done: int, total: int) -> None:
    return None


@dataclass
class DemoContext:
    rng: random.Random
    today: date
    customers: int
    progress: Progress = _quiet
    counts: dict[str, int] = field(default_factory=dict)
    # Cancellation cases to create once the subscriptions are written (see seed_cases).
    case_plans: list[dict] = field(default_factory=list)

    @property
    def now(self) -> datetime:
        return datetime.combine(self.today, time(12, 0), tzinfo=UTC)


def _ascii(text: str) -> str:
    text = text.replace("ø", "o").replace("æ", "ae").replace("Ø", "O").replace("Æ", "Ae")
    return unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode().lower()


def _snapshot(status, plan_code, amount, period_end, **extra) -> dict:
    return {
        "status": status,
        "plan": plan_code,
        "monthly_amount": str(amount),
        "currency": "SEK",
        "current_period_end": period_end.isoformat(),
        **extra,
    }


def seed_plans(ctx: DemoContext) -> dict[str, int]:
    from subscriptions.models import Plan

    for code, name, price, rank, months in PLANS:
        Plan.objects.update_or_create(
            code=code,
            defaults={
                "name": name,
                "monthly_price": price,
                "rank": rank,
                "contract_months": months,
                "currency": "SEK",
                "active": True,
            },
        )
    return {code: Plan.objects.get(code=code).pk for code, *_ in PLANS}


def seed_customers_and_subscriptions(ctx: DemoContext, plan_ids: dict[str, int]) -> None:
    """Customers with one subscription each, and their ledger history."""
    rng, today, now = ctx.rng, ctx.today, ctx.now
    locales = list(LOCALE_WEIGHTS)
    locale_weights = list(LOCALE_WEIGHTS.values())
    plans = PLANS
    first_customer = next_id("subscriptions_customer")
    first_subscription = next_id("subscriptions_subscription")
    event_id = first_event = next_id("subscriptions_subscriptionevent")
    cheaper = {p[0]: [q for q in plans if q[3] < p[3] and q[4] == p[4]] for p in plans}

    customers, subscriptions, events = [], [], []

    def flush() -> None:
        write_rows("subscriptions_customer", CUSTOMER_COLUMNS, customers)
        write_rows("subscriptions_subscription", SUBSCRIPTION_COLUMNS, subscriptions)
        write_rows("subscriptions_subscriptionevent", EVENT_COLUMNS, events)
        customers.clear()
        subscriptions.clear()
        events.clear()

    for n in range(ctx.customers):
        customer_id, subscription_id = first_customer + n, first_subscription + n
        locale = rng.choices(locales, locale_weights)[0]
        first, last = rng.choice(FIRST_NAMES[locale]), rng.choice(LAST_NAMES[locale])
        tenure_days = 20 + int(rng.random() ** 1.6 * 3630)
        since = today - timedelta(days=tenure_days)
        consent = rng.random() < 0.62
        created = datetime.combine(since, time(8, 0), tzinfo=UTC) + timedelta(
            minutes=rng.randrange(600)
        )
        customers.append(
            (
                customer_id,
                f"C{n + 1:07d}",
                f"{first} {last}",
                f"{_ascii(first)}.{_ascii(last)}.{n + 1}@example.com",
                f"{PHONE_PREFIX_BY_LOCALE[locale]}{rng.randrange(10**6, 10**7)}",
                locale,
                COUNTRY_BY_LOCALE[locale],
                since,
                consent,
                created if consent else None,
                "signup" if consent else "",
                created,
                created,
            )
        )

        code, _name, price, _rank, _months = rng.choices(plans, PLAN_WEIGHTS)[0]
        requested = target = None
        amount = price - 10 if tenure_days > 1500 and rng.random() < 0.3 else price
        period_end = add_months(created, whole_months_between(created.date(), today))
        while period_end <= now:
            period_end = add_months(period_end, 1)
        roll = rng.random()
        status, paused_until, cancel_at, cancelled_at, cancelled_by = "active", None, None, None, ""
        if roll < 0.10 and tenure_days > 40:
            status, cancelled_by = "cancelled", "customer"
            cancelled_at = now - timedelta(days=rng.randrange(1, min(tenure_days - 20, 730)))
            if rng.random() < 0.06:
                cancelled_by = rng.choice(["non_payment", "misuse"])
        elif roll < 0.13:
            status, cancel_at, cancelled_by = "cancel_pending", period_end, "customer"
        elif roll < 0.15:
            status = "paused"
            paused_until = now + timedelta(days=rng.randrange(7, 90))
        subscriptions.append(
            (
                subscription_id,
                f"S{n + 1:07d}",
                customer_id,
                plan_ids[code],
                status,
                created,
                period_end,
                paused_until,
                cancel_at,
                cancelled_at,
                cancelled_by,
                amount,
                "SEK",
                0,
                None,
                created,
                created,
            )
        )

        sequence = 1
        events.append(
            (
                event_id,
                subscription_id,
                sequence,
                "started",
                "import",
                "import",
                "{}",
                json_text(_snapshot("active", code, amount, add_months(created, 1))),
                None,
                "",
                "",
                created,
            )
        )
        event_id += 1
        # A plan change happened before any cancellation request (see `requested` below).
        latest_change = min(tenure_days - 30, ((cancelled_at or now) - created).days - 28)
        if tenure_days > 400 and cheaper[code] and latest_change > 60 and rng.random() < 0.2:
            old = rng.choice(cheaper[code])
            when = created + timedelta(days=rng.randrange(60, latest_change))
            sequence += 1
            events.append(
                (
                    event_id,
                    subscription_id,
                    sequence,
                    "plan_changed",
                    "web",
                    "customer",
                    json_text(_snapshot("active", old[0], old[2], period_end)),
                    json_text(_snapshot("active", code, amount, period_end)),
                    None,
                    "",
                    "",
                    when,
                )
            )
            event_id += 1
        if status == "paused":
            paused_at = now - timedelta(days=rng.randrange(1, 20))
            sequence += 1
            events.append(
                (
                    event_id,
                    subscription_id,
                    sequence,
                    "paused",
                    "web",
                    "customer",
                    json_text(_snapshot("active", code, amount, period_end)),
                    json_text(
                        _snapshot(
                            "paused",
                            code,
                            amount,
                            period_end,
                            paused_until=paused_until.isoformat(),
                        )
                    ),
                    None,
                    "",
                    "",
                    paused_at,
                )
            )
            event_id += 1
        elif status in ("cancel_pending", "cancelled"):
            requested = (cancelled_at or now) - timedelta(days=rng.randrange(1, 28))
            requested = max(requested, created + timedelta(hours=1))
            target = cancel_at or cancelled_at
            sequence += 1
            events.append(
                (
                    event_id,
                    subscription_id,
                    sequence,
                    "cancel_requested",
                    "web",
                    "customer",
                    json_text(_snapshot("active", code, amount, period_end)),
                    json_text(
                        _snapshot(
                            "cancel_pending", code, amount, period_end, cancel_at=target.isoformat()
                        )
                    ),
                    None,
                    "",
                    "",
                    requested,
                )
            )
            event_id += 1
            if status == "cancelled":
                sequence += 1
                events.append(
                    (
                        event_id,
                        subscription_id,
                        sequence,
                        "cancelled",
                        "system",
                        "scheduler",
                        json_text(
                            _snapshot(
                                "cancel_pending",
                                code,
                                amount,
                                period_end,
                                cancel_at=target.isoformat(),
                            )
                        ),
                        json_text(
                            _snapshot(
                                "cancelled",
                                code,
                                amount,
                                period_end,
                                cancelled_at=cancelled_at.isoformat(),
                            )
                        ),
                        None,
                        "",
                        "",
                        cancelled_at,
                    )
                )
                event_id += 1
        case_plan = {
            "subscription": subscription_id,
            "customer": customer_id,
            "locale": locale,
            "plan": plan_ids[code],
            "amount": amount,
            "tenure": tenure_days * 12 // 365,
            "has_cheaper": bool(cheaper[code]),
        }
        if status == "paused":
            ctx.case_plans.append(
                {**case_plan, "outcome": "saved", "kind": "pause", "at": paused_at}
            )
        elif status in ("cancel_pending", "cancelled") and requested > now - timedelta(days=365):
            ctx.case_plans.append(
                {**case_plan, "outcome": "cancelled", "kind": "", "at": requested, "end": target}
            )
        elif status == "active" and sequence == 1 and tenure_days > 60:
            roll = rng.random()
            at = now - timedelta(
                days=rng.randrange(1, min(365, tenure_days - 30)), minutes=rng.randrange(600)
            )
            pricier = [q for q in plans if q[3] == _rank + 1 and q[4] == _months]
            if roll < 0.015 and pricier:
                # Saved by a cheaper plan: the ledger shows the move down from the pricier one.
                sequence += 1
                events.append(
                    (
                        event_id,
                        subscription_id,
                        sequence,
                        "plan_changed",
                        "web",
                        "customer",
                        json_text(_snapshot("active", pricier[0][0], pricier[0][2], period_end)),
                        json_text(_snapshot("active", code, amount, period_end)),
                        None,
                        "",
                        "retention offer",
                        at,
                    )
                )
                event_id += 1
                ctx.case_plans.append(
                    {
                        **case_plan,
                        "outcome": "saved",
                        "kind": "downgrade",
                        "at": at,
                        "saving": pricier[0][2] - amount,
                        "has_cheaper": True,
                    }
                )
            elif roll < 0.03 and tenure_days > 3 * 365 + 30:
                sequence += 1
                events.append(
                    (
                        event_id,
                        subscription_id,
                        sequence,
                        "credit_granted",
                        "web",
                        "customer",
                        json_text(_snapshot("active", code, amount, period_end)),
                        json_text(_snapshot("active", code, amount, period_end)),
                        amount,
                        "SEK",
                        "loyalty bonus",
                        at,
                    )
                )
                event_id += 1
                ctx.case_plans.append(
                    {**case_plan, "outcome": "saved", "kind": "loyalty_bonus", "at": at}
                )
            elif roll < 0.045:
                ctx.case_plans.append({**case_plan, "outcome": "abandoned", "kind": "", "at": at})
        if len(customers) >= 20_000:
            flush()
            ctx.progress("customers and subscriptions", n + 1, ctx.customers)
    flush()
    ctx.progress("customers and subscriptions", ctx.customers, ctx.customers)
    reset_sequences(
        "subscriptions_customer", "subscriptions_subscription", "subscriptions_subscriptionevent"
    )
    ctx.counts["customers"] = ctx.customers
    ctx.counts["subscriptions"] = ctx.customers
    ctx.counts["ledger events"] = event_id - first_event


CUSTOMER_COLUMNS = (
    "id",
    "external_id",
    "name",
    "email",
    "phone",
    "locale",
    "country",
    "customer_since",
    "marketing_consent",
    "marketing_consent_at",
    "marketing_consent_source",
    "created_at",
    "updated_at",
)
SUBSCRIPTION_COLUMNS = (
    "id",
    "external_id",
    "customer_id",
    "plan_id",
    "status",
    "started_at",
    "current_period_end",
    "paused_until",
    "cancel_at",
    "cancelled_at",
    "cancelled_by",
    "monthly_amount",
    "currency",
    "discount_percent",
    "discount_until",
    "created_at",
    "updated_at",
)
EVENT_COLUMNS = (
    "id",
    "subscription_id",
    "sequence",
    "kind",
    "channel",
    "actor_label",
    "before",
    "after",
    "amount",
    "currency",
    "note",
    "created_at",
)


def database_is_empty() -> bool:
    from subscriptions.models import Customer

    return not Customer.objects.exists()


# Rows the demo creates (configuration such as plans, reasons and API keys is kept).
DEMO_MODELS = [
    "winback.Comeback",
    "winback.Outreach",
    "winback.Suppression",
    "winback.LostCustomer",
    "core.OutboundEmail",
    "cancellations.CallbackRequest",
    "cancellations.CaseStep",
    "cancellations.Offer",
    "cancellations.CancellationCase",
    "subscriptions.SubscriptionEvent",
    "subscriptions.Subscription",
    "subscriptions.Customer",
]


def flush_demo_data() -> None:
    """Remove the demo's rows, and everything that hangs off them."""
    from django.apps import apps

    tables = [apps.get_model(label)._meta.db_table for label in DEMO_MODELS]
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
            cursor.execute(f"TRUNCATE {', '.join(tables)} RESTART IDENTITY CASCADE")
            # Cases and their accepted offers point at each other: check at commit.
            cursor.execute("SET CONSTRAINTS ALL DEFERRED")
        else:
            # Cases and their accepted offers point at each other: delete both in one
            # transaction, so the (deferred) foreign keys are checked at its end.
            with transaction.atomic():
                for table in tables:
                    cursor.execute(f"DELETE FROM {table}")
                if connection.vendor == "sqlite":
                    # Restart the ids as TRUNCATE … RESTART IDENTITY does, so a seed is
                    # deterministic (holdouts are drawn from lost customers' ids).
                    placeholders = ", ".join(["%s"] * len(tables))
                    cursor.execute(
                        f"DELETE FROM sqlite_sequence WHERE name IN ({placeholders})", tables
                    )


def seed(*, customers: int, seed: int, today: date, progress: Progress = _quiet) -> dict[str, int]:
    ctx = DemoContext(rng=random.Random(seed), today=today, customers=customers, progress=progress)
    with transaction.atomic():
        plan_ids = seed_plans(ctx)
        seed_customers_and_subscriptions(ctx, plan_ids)
        seed_cases(ctx)
        seed_winback(ctx)
    return ctx.counts
