"""Time recording, segmenting and scoring lost customers at scale on PostgreSQL.

Inside one transaction that is rolled back at the end (the database is left as it was), the
demo's tables are emptied, N customers with a cancelled subscription each are loaded with
COPY, most with a cancellation case (every exit reason, competitors, some agents' churn
groups, earlier saves), and then lost_customers_record, lost_customers_segment and
lost_customers_score are timed one by one.

Usage: DATABASE_URL=postgres://postgres@127.0.0.1:5432/tack_bench \
       .venv/bin/python bench/segment_lost_customers.py [lost customers, default 100000]
"""

import os
import random
import sys
import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
os.environ.setdefault("DJANGO_DEBUG", "1")
os.environ.setdefault("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/tack_bench")

import django  # noqa: E402

django.setup()

from django.apps import apps  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.db import connection, transaction  # noqa: E402
from django.db.models import Count  # noqa: E402

from cancellations.defaults import ensure_defaults  # noqa: E402
from cancellations.enums import ChurnGroup  # noqa: E402
from cancellations.models import CancellationCase, ExitReason  # noqa: E402
from demo.cases import CASE_COLUMNS, COMPETITORS, REASON_WEIGHTS  # noqa: E402
from demo.seed import (  # noqa: E402
    CUSTOMER_COLUMNS,
    PLAN_WEIGHTS,
    PLANS,
    SUBSCRIPTION_COLUMNS,
    DemoContext,
    flush_demo_data,
    seed_plans,
)
from demo.writer import write_rows  # noqa: E402
from subscriptions.models import Customer, Subscription  # noqa: E402
from winback import segmentation  # noqa: E402
from winback.models import LostCustomer  # noqa: E402

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
LOCALES = {"sv": "SE", "nb": "NO", "da": "DK", "en": "GB"}


def load(count: int, rng: random.Random) -> None:
    """``count`` customers, each with one cancelled subscription; 80% left through a case."""
    ensure_defaults(apps)
    plan_ids = seed_plans(DemoContext(rng=rng, today=NOW.date(), customers=count))
    reasons = dict(ExitReason.objects.values_list("code", "pk"))
    codes, weights = list(REASON_WEIGHTS), list(REASON_WEIGHTS.values())
    customers, subscriptions, cases = [], [], []
    case_id = 1
    for n in range(1, count + 1):
        locale = rng.choice(list(LOCALES))
        since = NOW - timedelta(days=rng.randrange(60, 3600))
        left = NOW - timedelta(days=rng.randrange(1, 730))
        code, _name, price, _rank, _months = rng.choices(PLANS, PLAN_WEIGHTS)[0]
        customers.append(
            (
                n,
                f"B{n:07d}",
                f"Bench {n}",
                f"bench.{n}@example.com",
                "+4670000000",
                locale,
                LOCALES[locale],
                since.date(),
                True,
                since,
                "signup",
                since,
                since,
            )
        )
        roll = rng.random()
        cancelled_by = "non_payment" if roll < 0.03 else "misuse" if roll < 0.05 else "customer"
        subscriptions.append(
            (
                n,
                f"B{n:07d}",
                n,
                plan_ids[code],
                "cancelled",
                since,
                left,
                None,
                None,
                left,
                cancelled_by,
                price,
                "SEK",
                0,
                None,
                since,
                since,
            )
        )
        plan = (plan_ids[code], price)
        if rng.random() < 0.05:  # an earlier cancellation that ended saved
            saved_at = left - timedelta(days=200)
            cases.append(_case(case_id, n, plan, "saved", saved_at, reasons["price"], "", ""))
            case_id += 1
        if rng.random() < 0.8:
            reason = rng.choices(codes, weights)[0]
            competitor = (
                rng.choice(COMPETITORS)
                if reason.startswith("competitor") or (reason == "price" and rng.random() < 0.3)
                else ""
            )
            agent = rng.choice(ChurnGroup.values) if rng.random() < 0.1 else ""
            opened = left - timedelta(days=20)
            reason_id = reasons[reason]
            cases.append(_case(case_id, n, plan, "cancelled", opened, reason_id, competitor, agent))
            case_id += 1
    write_rows("subscriptions_customer", CUSTOMER_COLUMNS, customers)
    write_rows("subscriptions_subscription", SUBSCRIPTION_COLUMNS, subscriptions)
    write_rows("cancellations_cancellationcase", CASE_COLUMNS, cases)
    analyze(Customer, Subscription, CancellationCase)


def _case(pk, subscription, plan: tuple[int, Decimal], outcome, at, reason, competitor, agent):
    plan_id, amount = plan
    ends = at + timedelta(days=20) if outcome == "cancelled" else None
    return (
        pk,
        subscription,
        subscription,
        "phone" if agent else "web",
        outcome,
        "sv",
        reason,
        "",
        competitor,
        agent,
        "[]",
        plan_id,
        amount,
        "SEK",
        12,
        at,
        at,
        at,
        at + timedelta(minutes=3),
        None,
        ends,
        "",
    )


def analyze(*models) -> None:
    """Statistics for freshly loaded rows, as the demo seed gives the planner."""
    with connection.cursor() as cursor:
        for model in models:
            cursor.execute(f"ANALYZE {model._meta.db_table}")


def timed(label: str, figures: list, step):
    started = time.monotonic()
    rows = step()
    figures.append((label, rows, time.monotonic() - started))


def main() -> None:
    count = int(sys.argv[1]) if len(sys.argv) > 1 else 100_000
    name = connection.settings_dict["NAME"]
    if connection.vendor != "postgresql" or name.startswith("test"):
        sys.exit(f"Refusing to run on {connection.vendor} database {name!r}: use a scratch one.")
    call_command("migrate", verbosity=0)
    figures: list[tuple[str, int, float]] = []
    with transaction.atomic():
        flush_demo_data()  # undone by the rollback below, like everything else
        started = time.monotonic()
        load(count, random.Random(1))
        loaded = time.monotonic() - started
        timed("lost_customers_record", figures, lambda: segmentation.lost_customers_record(now=NOW))
        analyze(LostCustomer)
        timed("lost_customers_segment", figures, segmentation.lost_customers_segment)
        timed("lost_customers_score", figures, lambda: segmentation.lost_customers_score(now=NOW))
        # The nightly refresh runs both again over every row.
        timed("lost_customers_segment (again)", figures, segmentation.lost_customers_segment)
        timed(
            "lost_customers_score (again)",
            figures,
            lambda: segmentation.lost_customers_score(now=NOW),
        )
        groups = list(
            LostCustomer.objects.values_list("churn_group", "churn_group_source")
            .annotate(n=Count("pk"))
            .order_by("churn_group", "churn_group_source")
        )
        transaction.set_rollback(True)

    print(f"Loaded {count:,} cancelled subscriptions in {loaded:.1f} s (database {name!r}).")
    print("| step | rows | seconds |\n|---|---:|---:|")
    for label, rows, seconds in figures:
        print(f"| {label} | {rows:,} | {seconds:.2f} |")
    print("\n| churn group | source | lost customers |\n|---|---|---:|")
    for group, source, n in groups:
        print(f"| {group} | {source} | {n:,} |")
    print("\nRolled back: the database is as it was.")


if __name__ == "__main__":
    main()
