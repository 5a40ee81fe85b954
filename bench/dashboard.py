"""Time the retention dashboard's figures for the last 12 months on a seeded database.

Usage (seed first with bench/seed_demo.py, or pass --seed N to seed N customers here):
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/tack_bench \
    .venv/bin/python bench/dashboard.py [--seed 1000000] [--runs 5]

Prints the data size, the median and best server time of `selectors.dashboard` (the whole
page's figures), and its number of queries, as a markdown table.
"""

import argparse
import os
import statistics
import subprocess
import sys
import time
from datetime import timedelta

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seed", type=int, default=0, help="seed this many customers first")
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    os.environ.setdefault("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/tack_bench")
    os.environ.setdefault("DJANGO_DEBUG", "1")
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    if args.seed:
        env = dict(os.environ)
        python = sys.executable
        subprocess.run([python, "manage.py", "migrate", "-v0"], cwd=ROOT, env=env, check=True)
        subprocess.run(
            [python, "manage.py", "seed_demo", f"--customers={args.seed}", "--flush"],
            cwd=ROOT,
            env=env,
            check=True,
        )

    import django

    django.setup()
    from django.db import connection
    from django.test.utils import CaptureQueriesContext
    from django.utils import timezone

    from cancellations.models import CancellationCase
    from retention import selectors
    from subscriptions.models import Subscription
    from winback.models import Outreach

    today = timezone.localdate()
    filters = selectors.Filters(start=today - timedelta(days=364), end=today)
    timings = []
    for _ in range(args.runs):
        with CaptureQueriesContext(connection) as queries:
            started = time.perf_counter()
            selectors.dashboard(filters)
            timings.append(time.perf_counter() - started)
    sizes = (
        Subscription.objects.count(),
        CancellationCase.objects.count(),
        Outreach.objects.count(),
    )
    print("| subscriptions | cases | outreach | dashboard median | best | queries |")
    print("| --- | --- | --- | --- | --- | --- |")
    print(
        f"| {sizes[0]:,} | {sizes[1]:,} | {sizes[2]:,} | "
        f"{statistics.median(timings) * 1000:.0f} ms | {min(timings) * 1000:.0f} ms | "
        f"{len(queries.captured_queries)} |"
    )


if __name__ == "__main__":
    main()
