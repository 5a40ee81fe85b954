"""Time ``stripe_sync`` over N subscriptions (default 10,000) from a Stripe-compatible server.

Starts localstripe with Tack's extensions (tests/stripe_server.py) on a free port, seeds N
customers and subscriptions (a tenth cancelling at the period end, a quarter on a yearly
price) through its bulk route, then runs the sync twice inside one transaction that is
rolled back at the end (the database is left as it was): the first run imports, the second
must find nothing to change. Prints the figures and writes them to bench/stripe_sync.md.

Usage: DATABASE_URL=postgres://postgres@127.0.0.1:5432/tack_bench \
       .venv/bin/python bench/stripe_sync.py [subscriptions, default 10000]
"""

import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)
sys.path.insert(0, os.path.join(ROOT, "bench"))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
os.environ.setdefault("DJANGO_DEBUG", "1")
os.environ.setdefault("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/tack_bench")

import django  # noqa: E402

django.setup()

from django.conf import settings  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.db import transaction  # noqa: E402
from report import Row, markdown_table  # noqa: E402

from subscriptions.models import SubscriptionEvent  # noqa: E402
from subscriptions.stripe_billing.sync import stripe_sync  # noqa: E402

PRICES = [
    {
        "id": "price_bench_month",
        "unit_amount": 19900,
        "currency": "sek",
        "recurring": {"interval": "month"},
        "product": {"name": "Bench"},
    },
    {
        "id": "price_bench_year",
        "unit_amount": 199000,
        "currency": "sek",
        "recurring": {"interval": "year"},
        "product": {"name": "Bench"},
    },
]


class Rollback(Exception):
    pass


def post(url: str, data: dict) -> None:
    request = urllib.request.Request(
        url, json.dumps(data).encode(), {"Content-Type": "application/json"}, method="POST"
    )
    urllib.request.urlopen(request, timeout=300).close()


def main(count: int) -> None:
    call_command("migrate", verbosity=0)
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = subprocess.Popen(
        [sys.executable, "-m", "tests.stripe_server", "--port", str(port)], cwd=ROOT
    )
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(100):
            try:
                urllib.request.urlopen(url + "/_config/tack/requests", timeout=1).close()
                break
            except OSError:
                time.sleep(0.1)
        started = int(time.time()) - 86400
        seeded = time.monotonic()
        for first in range(0, count, 1000):
            subs = [
                {
                    "id": f"sub_bench{n:07d}",
                    "customer": f"cus_bench{n:07d}",
                    "start_date": started,
                    "price": PRICES[n % 4 == 0]["id"],
                    "cancel_at_period_end": n % 10 == 0,
                }
                for n in range(first, min(first + 1000, count))
            ]
            customers = [
                {"id": s["customer"], "email": f"{s['customer']}@example.com"} for s in subs
            ]
            post(
                url + "/_config/tack/seed",
                {"prices": PRICES, "customers": customers, "subscriptions": subs},
            )
        seeded = time.monotonic() - seeded
        settings.STRIPE_API_BASE = url
        settings.STRIPE_SECRET_KEY = "sk_test_bench"  # noqa: S105 (localstripe takes any)
        # The server is on this machine over plain http: let it past the outbound guard.
        settings.TACK_OUTBOUND_ALLOW_HTTP = True
        settings.TACK_OUTBOUND_ALLOWED_ADDRESSES = ["127.0.0.1"]
        try:
            with transaction.atomic():
                before = SubscriptionEvent.objects.count()
                t0 = time.monotonic()
                first_run = stripe_sync()
                t1 = time.monotonic()
                second_run = stripe_sync()
                t2 = time.monotonic()
                ledger = SubscriptionEvent.objects.count() - before
                raise Rollback
        except Rollback:
            pass
    finally:
        server.terminate()
        server.wait(timeout=10)
    load = os.getloadavg()
    changed = sum(second_run.created.values()) + sum(second_run.updated.values())
    unchanged = sum(second_run.unchanged.values())
    lines = [
        f"seeded {count:,} subscriptions in {seeded:.1f} s",
        f"first sync: {t1 - t0:.1f} s ({dict(first_run.created)} created, "
        f"skipped {dict(first_run.skipped)})",
        f"second sync: {t2 - t1:.1f} s ({dict(second_run.unchanged)} unchanged, {changed} changed)",
        f"ledger rows written: {ledger:,}; load average {load[0]:.2f}",
    ]
    print("\n".join(lines))
    created = first_run.created
    rows = [
        Row(
            f"`stripe_sync`, first run: {created.get('plan', 0):,} plans, "
            f"{created.get('customer', 0):,} customers, {created.get('subscription', 0):,} "
            f"subscriptions ({ledger:,} ledger rows)",
            "—",
            f"{t1 - t0:.1f} s",
            None,
        ),
        Row(
            "`stripe_sync`, second run (nothing to change)",
            "0 changes",
            f"{t2 - t1:.1f} s, {changed} changed, {unchanged:,} unchanged",
            changed == 0,
        ),
    ]
    header = (
        f"# `bench/stripe_sync.py` at {count:,} subscriptions\n\n"
        f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, {os.cpu_count()} CPUs, load "
        f"average {load[0]:.2f} at the end. localstripe with Tack's extensions on localhost "
        "(seeded through its bulk route), a tenth of the subscriptions cancelling at the period "
        "end, a quarter on a yearly price; both runs in one transaction, rolled back "
        "afterwards.\n\n"
    )
    (Path(ROOT) / "bench" / "stripe_sync.md").write_text(header + markdown_table(rows))


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 10_000)
