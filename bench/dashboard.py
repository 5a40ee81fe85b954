"""Time the retention dashboard for the last 12 months against the raw-SQL scan of the same
figures, and the voice-of-the-customer page's search over three years of cases, in one run,
on a seeded PostgreSQL database.

Usage (seed first with bench/seed_demo.py, or pass --seed N to seed N customers here):
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/tack_bench \\
    .venv/bin/python bench/dashboard.py [--seed 1000000] [--runs 7] [--scan-runs 1] [--rebuild]

Runs with production settings (DEBUG off) and prints a markdown table: the data size; the
whole page's server time (request to response, through the Django test client, as a
manager); the figures from the rollups and from the raw scan, each with its SQL time and
query count; whether the two agree; and what a refresh costs after one change (and a full
rebuild, with --rebuild).
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
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument(
        "--scan-runs", type=int, default=0, help="runs of the raw scan (default: --runs)"
    )
    parser.add_argument("--rebuild", action="store_true", help="time a full rebuild too")
    args = parser.parse_args()
    os.environ.setdefault("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/tack_bench")
    os.environ["DJANGO_DEBUG"] = "0"
    os.environ.setdefault("SECRET_KEY", "bench-only-secret-key-0123456789-abcdefghijklmnopqrstuv")
    os.environ.setdefault("ALLOWED_HOSTS", "testserver")
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    if args.seed:
        env = dict(os.environ, DJANGO_DEBUG="1")
        python = sys.executable
        subprocess.run([python, "manage.py", "migrate", "-v0"], cwd=ROOT, env=env, check=True)
        subprocess.run(
            [python, "manage.py", "seed_demo", f"--customers={args.seed}", "--flush"],
            cwd=ROOT,
            env=env,
            check=True,
        )

    # Production settings serve hashed static files: the page needs the manifest.
    subprocess.run(
        [sys.executable, "manage.py", "collectstatic", "--noinput", "-v0"], cwd=ROOT, check=True
    )

    import django

    django.setup()
    rows = measure(runs=args.runs, scan_runs=args.scan_runs or args.runs, rebuild=args.rebuild)
    print("| what | median | best | queries |")
    print("| --- | --- | --- | --- |")
    for row in rows:
        print("| " + " | ".join(row) + " |")


def timed(function, runs: int) -> tuple[list[float], int, float]:
    """Server times (s), the query count and the SQL time (s) of the last run."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    timings = []
    for _ in range(runs):
        with CaptureQueriesContext(connection) as queries:
            started = time.perf_counter()
            function()
            timings.append(time.perf_counter() - started)
    sql = sum(float(query["time"]) for query in queries.captured_queries)
    return timings, len(queries.captured_queries), sql


def ms(seconds: float) -> str:
    return f"{seconds * 1000:,.0f} ms"


def vacuum(*tables: str) -> None:
    """What autovacuum does to a live database after a bulk load: statistics for the
    planner and the visibility map, which lets a count read an index without its rows (a
    freshly seeded table has none until autovacuum gets to it)."""
    from django.db import connection

    if connection.vendor != "postgresql":
        return
    with connection.cursor() as cursor:
        for table in tables:
            cursor.execute(f"VACUUM (ANALYZE) {table}")


def measure(*, runs: int, scan_runs: int, rebuild: bool) -> list[list[str]]:
    from django.contrib.auth import get_user_model
    from django.contrib.auth.models import Group
    from django.test import Client
    from django.utils import timezone

    from cancellations.models import CancellationCase
    from core.enums import ChangeKind
    from core.models import ChangeMark
    from core.roles import MANAGERS, ensure_roles
    from retention import selectors
    from retention.services import rollups_refresh
    from subscriptions.models import Subscription
    from winback.models import Outreach

    rows = []
    vacuum("cancellations_cancellationcase")
    if rebuild:
        started = time.perf_counter()
        rollups_refresh(rebuild=True)
        rows.append(["full rebuild of the rollups", ms(time.perf_counter() - started), "", ""])
    else:
        rollups_refresh()
    today = timezone.localdate()
    filters = selectors.Filters(start=today - timedelta(days=364), end=today)

    ensure_roles()
    manager, _ = get_user_model().objects.get_or_create(
        username="bench-manager", defaults={"is_staff": True}
    )
    manager.groups.add(Group.objects.get(name=MANAGERS))
    client = Client()
    client.force_login(manager)
    url = f"/admin/retention/dashboard/?start={filters.start}&end={filters.end}"
    assert client.get(url, secure=True).status_code == 200
    page, page_queries, page_sql = timed(lambda: client.get(url, secure=True), runs)
    rows.append(
        [
            f"dashboard page, last 12 months (SQL {ms(page_sql)})",
            ms(statistics.median(page)),
            ms(min(page)),
            str(page_queries),
        ]
    )
    rows.extend(measure_voice(client, runs=runs))
    now = timezone.now()
    for label, source, count in (
        ("figures from the rollups", selectors.ROLLUPS, runs),
        ("raw-SQL scan", selectors.SCAN, scan_runs),  # a minute a run at 10,000,000
    ):
        times, queries, sql = timed(
            lambda source=source: selectors.dashboard(filters, now=now, source=source), count
        )
        rows.append(
            [f"{label} (SQL {ms(sql)})", ms(statistics.median(times)), ms(min(times)), str(queries)]
        )
    same = selectors.dashboard(filters, now=now, source=selectors.ROLLUPS) == selectors.dashboard(
        filters, now=now, source=selectors.SCAN
    )
    rows.append([f"rollups equal the scan: {'yes' if same else 'NO'}", "", "", ""])

    latest = CancellationCase.objects.filter(decided_at__isnull=False).order_by("-decided_at")
    refresh = []
    for case_id in latest.values_list("pk", flat=True)[:runs]:
        # The mark a service writes, without the refresh it asks for after commit.
        ChangeMark.objects.create(kind=ChangeKind.CASE, object_id=case_id)
        started = time.perf_counter()
        rollups_refresh()
        refresh.append(time.perf_counter() - started)
    rows.append(
        ["refresh after one changed case", ms(statistics.median(refresh)), ms(min(refresh)), ""]
    )
    sizes = (
        Subscription.objects.count(),
        CancellationCase.objects.count(),
        Outreach.objects.count(),
    )
    rows.insert(
        0,
        [
            f"data: {sizes[0]:,} subscriptions, {sizes[1]:,} cases, {sizes[2]:,} outreach",
            "",
            "",
            "",
        ],
    )
    return rows


def measure_voice(client, *, runs: int) -> list[list[str]]:
    """The voice-of-the-customer page over three years of cases: the newest page of texts,
    a search for a word a few customers used, and for a competitor many named (each with its
    count of matches, the slowest part)."""
    from django.utils import timezone

    from cancellations.models import CancellationCase
    from retention import selectors

    today = timezone.localdate()
    start = today - timedelta(days=3 * 365)
    base = f"/admin/retention/voice/?start={start}&end={today}"
    in_period = CancellationCase.objects.filter(opened_at__date__gte=start).count()
    rows = []
    for label, query in (
        ("no search", ""),
        ("search for a rare word", "&q=offline"),
        ("search for a competitor", "&q=nordflix"),
    ):
        url = base + query
        response = client.get(url, secure=True)
        assert response.status_code == 200
        words = query.partition("=")[2]
        matches = selectors.voice_cases(
            selectors.VoiceFilters(start=start, end=today, search=words)
        ).count()
        times, queries, sql = timed(lambda url=url: client.get(url, secure=True), runs)
        rows.append(
            [
                f"voice of the customer over {in_period:,} cases, {label}: {matches:,} "
                f"matches (SQL {ms(sql)})",
                ms(statistics.median(times)),
                ms(min(times)),
                str(queries),
            ]
        )
    return rows


if __name__ == "__main__":
    main()
