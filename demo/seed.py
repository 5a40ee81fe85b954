"""A believable Nordic subscription business, deterministic for a given seed.

Everything is generated in memory from one ``random.Random(seed)`` and loaded with COPY
(see ``demo.writer``), so a million subscriptions take minutes, not hours. Each subscription
is written with its whole history at once (``demo.history``): ledger, cancellation cases and,
if it ended, its lost-customer record. The win-back then runs through the real services
(``demo.winback``).
"""

import random
import unicodedata
from bisect import bisect
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time
from decimal import Decimal
from itertools import accumulate
from typing import NamedTuple

from django.db import connection, transaction

from demo.cases import (
    CALLBACK_COLUMNS,
    CASE_AGENT_COLUMNS,
    CASE_COLUMNS,
    OFFER_COLUMNS,
    STEP_COLUMNS,
    Agent,
    CaseBook,
    OfferEngine,
    load_rules,
)
from demo.history import EVENT_COLUMNS, BookPlan, Histories, Ledger, Life
from demo.lost import LOST_COLUMNS, lost_customer_row
from demo.names import COUNTRY_BY_LOCALE, FIRST_NAMES, LAST_NAMES, PHONE_PREFIX_BY_LOCALE
from demo.winback import seed_winback, segment_and_score
from demo.writer import IdCounter, RowSink, bulk_load, next_id, reset_sequences


class Plan(NamedTuple):
    code: str
    name: str
    price: Decimal
    rank: int
    months: int


PLANS = [
    Plan("bas", "Bas", Decimal("99.00"), 1, 1),
    Plan("standard", "Standard", Decimal("179.00"), 2, 1),
    Plan("premium", "Premium", Decimal("299.00"), 3, 1),
    Plan("familj", "Familj", Decimal("399.00"), 4, 1),
    Plan("bas-12", "Bas 12 mån", Decimal("89.00"), 1, 12),
    Plan("standard-12", "Standard 12 mån", Decimal("159.00"), 2, 12),
    Plan("premium-12", "Premium 12 mån", Decimal("269.00"), 3, 12),
]
PLAN_WEIGHTS = [18, 30, 14, 6, 8, 16, 8]
LOCALE_WEIGHTS = {"sv": 45, "nb": 20, "da": 20, "en": 15}
MARKETING_CONSENT = 0.75
UPGRADED = 0.2  # long-standing customers who moved up a plan before the flow went live

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

    @property
    def now(self) -> datetime:
        return datetime.combine(self.today, time(12, 0), tzinfo=UTC)


def _ascii(text: str) -> str:
    text = text.replace("ø", "o").replace("æ", "ae").replace("Ø", "O").replace("Æ", "Ae")
    return unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode().lower()


def seed_plans(ctx: DemoContext) -> dict[str, int]:
    from subscriptions.models import Plan as PlanModel

    for code, name, price, rank, months in PLANS:
        PlanModel.objects.update_or_create(
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
    return {code: PlanModel.objects.get(code=code).pk for code, *_ in PLANS}


def _catalog(plan_ids: dict[str, int]) -> list[BookPlan]:
    """The plans in PLANS order, each knowing the next cheaper one (``next_cheaper_plan``)."""
    plans = [BookPlan(plan_ids[p.code], p.code, p.name, p.price, p.rank, p.months) for p in PLANS]
    for plan in plans:
        below = [
            p
            for p in plans
            if p.rank < plan.rank and p.price < plan.price and p.months == plan.months
        ]
        plan.cheaper = max(below, key=lambda p: (p.rank, p.price), default=None)
    return plans


def _cumulative(weights) -> list[float]:
    total = sum(weights)
    return [value / total for value in accumulate(weights)]


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
BOOK_COLUMNS = {
    "subscriptions_customer": CUSTOMER_COLUMNS,
    "subscriptions_subscription": SUBSCRIPTION_COLUMNS,
    "subscriptions_subscriptionevent": EVENT_COLUMNS,
    "cancellations_cancellationcase": CASE_COLUMNS + CASE_AGENT_COLUMNS,
    "cancellations_offer": OFFER_COLUMNS,
    "cancellations_casestep": STEP_COLUMNS,
    "desk_callbackrequest": CALLBACK_COLUMNS,
    "winback_lostcustomer": LOST_COLUMNS,
}
ID_NAMES = {
    "customer": "subscriptions_customer",
    "subscription": "subscriptions_subscription",
    "event": "subscriptions_subscriptionevent",
    "case": "cancellations_cancellationcase",
    "offer": "cancellations_offer",
    "step": "cancellations_casestep",
    "callback": "desk_callbackrequest",
    "lost": "winback_lostcustomer",
}


class CustomerDraw:
    """Draws the demo's customers: locale and name, how long they have been with us, and
    whether they gave marketing consent at sign-up."""

    def __init__(self, rng: random.Random, today: date, first_id: int):
        self.draw = rng.random
        self.today_ordinal = today.toordinal()
        self.first_id = first_id
        self.locales = list(LOCALE_WEIGHTS)
        self.locale_cumulative = _cumulative(LOCALE_WEIGHTS.values())
        self.ascii = {
            name: _ascii(name)
            for names in (*FIRST_NAMES.values(), *LAST_NAMES.values())
            for name in names
        }

    def row(self, n: int) -> tuple:
        """The ``n``-th customer's row (CUSTOMER_COLUMNS)."""
        draw = self.draw
        locale = self.locales[bisect(self.locale_cumulative, draw())]
        first_names, last_names = FIRST_NAMES[locale], LAST_NAMES[locale]
        first = first_names[int(draw() * len(first_names))]
        last = last_names[int(draw() * len(last_names))]
        since = date.fromordinal(self.today_ordinal - 20 - int(draw() ** 1.6 * 3630))
        consent = draw() < MARKETING_CONSENT
        minutes = int(draw() * 600)
        created = datetime(
            since.year, since.month, since.day, 8 + minutes // 60, minutes % 60, tzinfo=UTC
        )
        return (
            self.first_id + n,
            f"C{n + 1:07d}",
            f"{first} {last}",
            f"{self.ascii[first]}.{self.ascii[last]}.{n + 1}@example.com",
            f"{PHONE_PREFIX_BY_LOCALE[locale]}{1_000_000 + int(draw() * 9_000_000)}",
            locale,
            COUNTRY_BY_LOCALE[locale],
            since,
            consent,
            created if consent else None,
            "signup" if consent else "",
            created,
            created,
        )


def _subscription_row(n: int, life: Life) -> tuple:
    """The subscription's row (SUBSCRIPTION_COLUMNS) as its history left it."""
    return (
        life.id,
        f"S{n + 1:07d}",
        life.customer_id,
        life.plan.id,
        life.status,
        life.created,
        life.period_end,
        life.paused_until,
        life.cancel_at,
        life.cancelled_at,
        life.cancelled_by,
        life.amount,
        "SEK",
        life.discount_percent,
        life.discount_until,
        life.created,
        life.created,
    )


def seed_book(ctx: DemoContext, plan_ids: dict[str, int], agents: list[Agent]) -> None:
    """Customers with one subscription each, its history, and the lost customers."""
    from cancellations.models import ExitReason

    rng, today = ctx.rng, ctx.today
    draw = rng.random
    plans = _catalog(plan_ids)
    plan_cumulative = _cumulative(PLAN_WEIGHTS)
    reasons = list(ExitReason.objects.values_list("code", "pk", "label_en"))
    reason_ids = {code: pk for code, pk, _label in reasons}
    ids = IdCounter({name: next_id(table) for name, table in ID_NAMES.items()})
    first_event = ids.peek("event")
    engine = OfferEngine(load_rules())
    people = CustomerDraw(rng, today, ids.peek("customer"))
    first_subscription = ids.peek("subscription")

    with RowSink(BOOK_COLUMNS) as sink:
        customers = sink.rows["subscriptions_customer"]
        subscriptions = sink.rows["subscriptions_subscription"]
        lost = sink.rows["winback_lostcustomer"]
        histories = Histories(
            rng=rng,
            now=ctx.now,
            ledger=Ledger(sink.rows["subscriptions_subscriptionevent"], ids),
            cases=CaseBook(
                sink,
                rng=rng,
                reason_ids=reason_ids,
                reason_labels={code: label for code, _pk, label in reasons},
                ids=ids,
            ),
            engine=engine,
            agents=agents,
        )
        for n in range(ctx.customers):
            customer = people.row(n)
            customers.append(customer)
            customer_id, locale, since, created = (
                customer[0],
                customer[5],
                customer[7],
                customer[11],
            )
            plan = plans[bisect(plan_cumulative, draw())]
            # Customers of many years may still pay an older, lower price.
            grandfathered = (today - since).days > 1500 and draw() < 0.3
            amount = plan.price - 10 if grandfathered else plan.price
            life = Life(first_subscription + n, customer_id, locale, since, created, plan, amount)
            histories.live(life, upgraded=draw() < UPGRADED)
            subscriptions.append(_subscription_row(n, life))
            if life.status == "cancelled":
                lost.append(lost_customer_row(ids.next("lost"), life, reason_ids))
            if len(customers) >= 20_000:
                sink.flush()
                ctx.progress("customers and subscriptions", n + 1, ctx.customers)
    ctx.progress("customers and subscriptions", ctx.customers, ctx.customers)
    ctx.counts["customers"] = ctx.customers
    ctx.counts["subscriptions"] = ctx.customers
    ctx.counts["ledger events"] = ids.peek("event") - first_event
    ctx.counts["cancellation cases"] = sink.written["cancellations_cancellationcase"]


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
    "desk.CallbackRequest",
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
    from django.apps import apps

    from cancellations.defaults import ensure_defaults
    from demo.users import ensure_demo_agents

    ctx = DemoContext(rng=random.Random(seed), today=today, customers=customers, progress=progress)
    with transaction.atomic():
        plan_ids = seed_plans(ctx)
        ensure_defaults(apps)
        agents = [Agent(pk, username) for pk, username in ensure_demo_agents()]
        with bulk_load(*BOOK_COLUMNS):
            seed_book(ctx, plan_ids, agents)
            segment_and_score(ctx)
        reset_sequences(*BOOK_COLUMNS)
        seed_winback(ctx, agents)
    return ctx.counts
