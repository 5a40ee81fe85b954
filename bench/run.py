"""`make bench`: Tack against the bare stack, at BENCH_SCALE subscriptions, in one table.

Steps (each prints as it goes; the table is printed at the end and written to bench/results.md):

1. The seeded database ``tack_bench_<scale>`` (or BENCH_DATABASE_URL): reused when its
   ``bench_seed`` marker says it holds that scale, else seeded with ``seed_demo``. Every run
   works on a fresh copy of it (``<name>_run``, CREATE DATABASE … TEMPLATE), so runs do not
   use up each other's customers and the seed stays as it was.
2. The dashboard (bench/dashboard.py) and the segmentation of lost customers
   (bench/segment_lost_customers.py), run as they are, their figures parsed.
3. gunicorn with production settings (DEBUG off, HTTPS via ``X-Forwarded-Proto``, rate limits
   off, the bare baseline view routed), a Celery worker (``--concurrency 6``: six worker
   processes) and a local SMTP server. wrk loads the bare view and the flow's pages over many
   signed links; a fixed-rate load generator POSTs decisions; the database is then checked for
   duplicates.
4. The outreach drain: due win-back emails sent by the worker processes into the SMTP
   server, the periodic sweeps triggered as beat would (CELERY_BEAT_SCHEDULE's intervals).
5. Peak memory (VmHWM) of the gunicorn and Celery processes.

Environment: BENCH_SCALE (1000000), BENCH_DATABASE_URL, BENCH_REDIS_URL
(redis://127.0.0.1:6379/15, flushed by the bench), BENCH_SECONDS (15, per wrk run),
BENCH_CONNECTIONS (16), BENCH_DECIDE_RATE (150) for BENCH_DECIDE_SECONDS (10),
BENCH_OUTREACH (min(100000, scale/10)) sent within at most BENCH_DRAIN_MAX_SECONDS (600),
BENCH_LOST (min(100000, max(10000, scale/10))), BENCH_GUNICORN_WORKERS (3),
BENCH_CELERY_CONCURRENCY (6, the Celery worker's processes, as in docker-compose.yml),
SECRET_KEY (a random one for the run when unset), BENCH_ONLY (comma-separated steps: seed,
dashboard, segmentation, web, drain).
"""

import json
import os
import queue
import re
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from http.client import HTTPConnection
from pathlib import Path
from urllib.parse import urlencode, urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from report import Row, count_deliveries, markdown_table, percentile  # noqa: E402

PYTHON = sys.executable
HOST = "bench.tack.test"
SEED_MARKER = "bench_seed"
STEPS = ("seed", "dashboard", "segmentation", "web", "drain")


def env_int(name: str, default: int) -> int:
    return int(os.environ.get(name) or default)


SCALE = env_int("BENCH_SCALE", 1_000_000)
SECONDS = env_int("BENCH_SECONDS", 15)
CONNECTIONS = env_int("BENCH_CONNECTIONS", 16)
DECIDE_RATE = env_int("BENCH_DECIDE_RATE", 150)
OUTREACH = env_int("BENCH_OUTREACH", min(100_000, SCALE // 10))
DRAIN_MAX_SECONDS = env_int("BENCH_DRAIN_MAX_SECONDS", 600)
DECIDE_SECONDS = env_int("BENCH_DECIDE_SECONDS", 10)
BEHIND_SECONDS = 5
DRAIN_FLOOR = 300  # emails/s at 1,000,000 (issue 22)
LOST = env_int("BENCH_LOST", min(100_000, max(10_000, SCALE // 10)))
GUNICORN_WORKERS = env_int("BENCH_GUNICORN_WORKERS", 3)
# As docker-compose.yml runs it: a drain's worker waits on PostgreSQL and SMTP for most of
# each email (at 1,000,000 subscriptions two processes left 42% of the two cores idle, four
# 28%, six 23%).
CELERY_CONCURRENCY = env_int("BENCH_CELERY_CONCURRENCY", 6)
ONLY = set(filter(None, os.environ.get("BENCH_ONLY", ",".join(STEPS)).split(",")))


def duration(ms: float) -> str:
    return f"{ms / 1000:,.0f} s" if ms >= 10_000 else f"{ms:,.0f} ms"


def log(message: str) -> None:
    print(f"[bench {datetime.now(UTC):%H:%M:%S}] {message}", flush=True)


def with_database(url: str, name: str) -> str:
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path=f"/{name}"))


def database_name(url: str) -> str:
    return urlsplit(url).path.lstrip("/")


# --- The seeded database and its per-run copy ---------------------------------------------


def admin_sql(url: str, sql: str) -> list[tuple]:
    """Run one statement on the server's ``postgres`` database (outside any transaction)."""
    return query(with_database(url, "postgres"), sql)


def query(url: str, sql: str, params=None) -> list[tuple]:
    import psycopg2

    connection = psycopg2.connect(url)
    connection.autocommit = True
    try:
        with connection.cursor() as cursor:
            cursor.execute(sql, params)
            return cursor.fetchall() if cursor.description else []
    finally:
        connection.close()


def seeded(url: str) -> tuple[float, str] | None:
    """(seed seconds, when) if the database holds a bench seed of SCALE, else None."""
    name = database_name(url)
    if not admin_sql(url, f"SELECT 1 FROM pg_database WHERE datname = '{name}'"):
        admin_sql(url, f'CREATE DATABASE "{name}"')
        return None
    rows = query(
        url,
        f"SELECT to_regclass('{SEED_MARKER}') IS NOT NULL",
    )
    if not rows[0][0]:
        return None
    marker = query(url, f"SELECT scale, seconds, seeded_at FROM {SEED_MARKER}")
    if not marker or marker[0][0] != SCALE:
        return None
    return marker[0][1], f"{marker[0][2]:%Y-%m-%d %H:%M} UTC"


def seed(url: str, rows: list[Row]) -> None:
    env = {**os.environ, "DATABASE_URL": url, "DJANGO_DEBUG": "1"}
    env.pop("REDIS_URL", None)
    seeded(url)  # creates the database if it does not exist yet
    subprocess.run([PYTHON, "manage.py", "migrate", "-v0"], cwd=ROOT, env=env, check=True)
    found = seeded(url)
    if found is not None:
        seconds, when = found
        log(f"reusing {database_name(url)}: {SCALE:,} subscriptions seeded {when}")
        note = f"{seconds:.0f} s (seeded {when}, reused)"
    else:
        log(f"seeding {database_name(url)} with {SCALE:,} subscriptions")
        query(url, f"DROP TABLE IF EXISTS {SEED_MARKER}")
        started = time.monotonic()
        done = subprocess.run(
            [PYTHON, "manage.py", "seed_demo", f"--customers={SCALE}", "--flush", "--seed=1"],
            cwd=ROOT,
            env=env,
            check=True,
            stdout=subprocess.PIPE,
            text=True,
        )
        seconds = time.monotonic() - started
        log(next(line for line in done.stdout.splitlines() if line.startswith("Seeded")))
        query(url, f"CREATE TABLE {SEED_MARKER} (scale int, seconds float, seeded_at timestamptz)")
        query(url, f"INSERT INTO {SEED_MARKER} VALUES (%s, %s, now())", (SCALE, seconds))
        note = f"{seconds:.0f} s"
    rows.append(Row(f"seed_demo, {SCALE:,} subscriptions", "< 300 s", note, seconds < 300))


def fresh_copy(url: str) -> str:
    """A copy of the seeded database for this run (the seed itself is never changed)."""
    name = database_name(url)
    copy = f"{name}_run"
    started = time.monotonic()
    admin_sql(url, f'DROP DATABASE IF EXISTS "{copy}" WITH (FORCE)')
    admin_sql(url, f'CREATE DATABASE "{copy}" TEMPLATE "{name}" STRATEGY FILE_COPY')
    log(f"copied {name} to {copy} in {time.monotonic() - started:.1f} s")
    return with_database(url, copy)


# --- Processes ------------------------------------------------------------------------------


class Processes:
    """The servers the bench starts; all stopped at the end, whatever happens."""

    def __init__(self) -> None:
        self.running: list[subprocess.Popen] = []

    def start(self, args: list[str], log_path: Path, **kwargs) -> subprocess.Popen:
        out = open(log_path, "w")  # noqa: SIM115 - closed with the process
        process = subprocess.Popen(
            args,
            cwd=ROOT,
            stdout=kwargs.pop("stdout", out),
            stderr=out,
            start_new_session=True,
            **kwargs,
        )
        self.running.append(process)
        return process

    def stop_all(self) -> None:
        for process in reversed(self.running):
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
        for process in reversed(self.running):
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)


def descendants(pid: int) -> list[int]:
    children = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
            children.append(int(entry.name))
    return children + [grand for child in children for grand in descendants(child)]


def peak_rss_mb(pid: int) -> float:
    """The process's peak resident set size (VmHWM), in MB; 0 if it is gone."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return 0.0
    found = re.search(r"VmHWM:\s+(\d+) kB", status)
    return int(found.group(1)) / 1024 if found else 0.0


def wait_for_http(port: int, path: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            connection = HTTPConnection("127.0.0.1", port, timeout=5)
            connection.request("GET", path, headers={"Host": HOST, "X-Forwarded-Proto": "https"})
            if connection.getresponse().status < 500:
                return
        except OSError:
            pass
        time.sleep(0.5)
    raise RuntimeError(f"gunicorn did not answer on port {port}")


def free_port() -> int:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


# --- Tokens: the signed links the load is made of ----------------------------------------


def prepare_links(workdir: Path) -> dict[str, list]:
    """Disjoint sets of active subscriptions, brought to each step of the flow."""
    import random

    from django.db import transaction

    from cancellations import selectors, services
    from cancellations.models import ExitReason
    from core.links import make_token
    from subscriptions.actors import Actor
    from subscriptions.enums import Channel, SubscriptionStatus
    from subscriptions.models import Subscription

    rate_total = DECIDE_RATE * DECIDE_SECONDS
    sizes = {"entry": 3000, "offers": 300, "done": 200, "decide": rate_total}
    ids = list(
        Subscription.objects.filter(status=SubscriptionStatus.ACTIVE)
        .exclude(cancellation_cases__outcome="open")
        .order_by("pk")
        .values_list("pk", flat=True)
    )
    random.Random(9).shuffle(ids)
    needed = sum(sizes.values())
    if len(ids) < needed:
        raise SystemExit(f"only {len(ids):,} active subscriptions; the bench needs {needed:,}")
    picked, start = {}, 0
    for name, size in sizes.items():
        picked[name] = ids[start : start + size]
        start += size
    reasons = list(ExitReason.objects.filter(active=True))
    actor = Actor.customer(Channel.WEB)
    subscriptions = Subscription.objects.select_related("customer", "plan").in_bulk(
        picked["offers"] + picked["done"] + picked["decide"]
    )

    def prepare(job: tuple[str, int, int]) -> tuple[int, dict] | None:
        name, n, pk = job
        subscription = subscriptions[pk]
        with transaction.atomic():
            case = services.cancellation_start(
                subscription=subscription, actor=actor, language=subscription.customer.locale
            )
            services.cancellation_choose_reason(
                case=case, reason=reasons[n % len(reasons)], actor=actor
            )
            if name == "done":
                services.cancellation_decline(case=case, actor=actor)
        if name != "decide":
            return None
        offer = selectors.current_offers(case=case).first()
        accept = n % 2 == 0 and offer is not None and offer.kind != "callback"
        form = {"case": case.pk, "choice": f"offer-{offer.pk}" if accept else "decline"}
        if accept:
            form[f"months-{offer.pk}"] = "1"
        return pk, form

    jobs = [
        (name, n, pk) for name in ("offers", "done", "decide") for n, pk in enumerate(picked[name])
    ]
    started = time.monotonic()
    # Threads: half of each case's time is waiting for PostgreSQL.
    with ThreadPoolExecutor(max_workers=4) as pool:
        decisions = [found for found in pool.map(prepare, jobs) if found is not None]
    prepared = sum(sizes.values()) - sizes["entry"]
    log(f"prepared {prepared:,} cases in {time.monotonic() - started:.0f} s")

    def token(pk: int) -> str:
        return make_token(purpose="cancel", payload={"id": pk})

    files = {
        "bare": [f"/bench/bare/{pk}/" for pk in ids[-3000:]],
        "entry": [f"/cancel/{token(pk)}/" for pk in picked["entry"]],
        "offers": [f"/cancel/{token(pk)}/offers/" for pk in picked["offers"]],
        "done": [f"/cancel/{token(pk)}/done/" for pk in picked["done"]],
    }
    for name, paths in files.items():
        (workdir / f"{name}.paths").write_text("\n".join(paths) + "\n")
    return {
        "decide": [(pk, f"/cancel/{token(pk)}/decide/", form) for pk, form in decisions],
        "entry_ids": picked["entry"],
    }


# --- Load -------------------------------------------------------------------------------------


def wrk(port: int, paths: Path, seconds: int) -> dict:
    threads = 2
    done = subprocess.run(
        [
            "wrk",
            f"-t{threads}",
            f"-c{CONNECTIONS}",
            f"-d{seconds}s",
            "--timeout",
            "10s",
            "-s",
            str(ROOT / "bench" / "paths.lua"),
            f"http://127.0.0.1:{port}",
            "--",
            str(paths),
            HOST,
            str(threads),
        ],
        check=True,
        stdout=subprocess.PIPE,
        text=True,
    )
    figures = json.loads(done.stdout.strip().splitlines()[-1])
    figures["rps"] = figures["requests"] / figures["seconds"]
    figures["errors"] = (
        figures["socket_errors"] + figures["http_errors"] + figures["timeouts"] + figures["not_200"]
    )
    return figures


def fixed_rate_posts(port: int, requests: list[tuple[int, str, dict]], rate: float) -> dict:
    """POST each form once, at a fixed rate (open loop): the i-th request is due at i / rate,
    whether or not earlier ones have been answered, and its latency counts from then.

    When the server falls more than BEHIND_SECONDS behind, the rest are not sent (the rate is
    not sustained; waiting for the backlog would only make the run longer)."""
    csrf = secrets.token_hex(16)  # a 32-character secret: the cookie and the form carry it
    due: queue.Queue = queue.Queue()
    results: list[tuple[float, int]] = []
    posted: list[int] = []
    lock = threading.Lock()

    def worker() -> None:
        connection = HTTPConnection("127.0.0.1", port, timeout=30)
        while True:
            item = due.get()
            if item is None:
                return
            at, pk, path, form = item
            body = urlencode({**form, "csrfmiddlewaretoken": csrf})
            headers = {
                "Host": HOST,
                "X-Forwarded-Proto": "https",
                "Origin": f"https://{HOST}",
                "Referer": f"https://{HOST}{path}",
                "Cookie": f"csrftoken={csrf}",
                "Content-Type": "application/x-www-form-urlencoded",
            }
            try:
                connection.request("POST", path, body=body, headers=headers)
                response = connection.getresponse()
                response.read()
                status = response.status
                if response.getheader("Connection", "").lower() == "close":
                    connection.close()
            except OSError:
                connection.close()
                status = 0
            with lock:
                results.append((time.monotonic() - at, status))
                posted.append(pk)

    workers = [threading.Thread(target=worker, daemon=True) for _ in range(32)]
    for thread in workers:
        thread.start()
    started = time.monotonic()
    behind = False
    for n, (pk, path, form) in enumerate(requests):
        at = started + n / rate
        pause = at - time.monotonic()
        if pause > 0:
            time.sleep(pause)
        if due.qsize() > rate * BEHIND_SECONDS:
            behind = True
            break
        due.put((at, pk, path, form))
    if behind:
        with due.mutex:
            due.queue.clear()
    for _ in workers:
        due.put(None)
    for thread in workers:
        thread.join()
    elapsed = time.monotonic() - started
    latencies = [latency for latency, _status in results]
    statuses: dict[int, int] = {}
    for _latency, status in results:
        statuses[status] = statuses.get(status, 0) + 1
    return {
        "requests": len(results),
        "rps": len(results) / elapsed,
        "p50_ms": percentile(latencies, 0.5) * 1000,
        "p99_ms": percentile(latencies, 0.99) * 1000,
        "errors": sum(n for status, n in statuses.items() if status != 303),
        "statuses": statuses,
        "posted": posted,
        "behind": behind,
    }


def decision_duplicates(subscription_ids: list[int], since: datetime) -> dict:
    """What the database says about the decided subscriptions: every one decided exactly once,
    one case per customer, one request to leave in the ledger per cancelled one."""
    from django.db.models import Count, Q

    from cancellations.models import CancellationCase
    from subscriptions.models import SubscriptionEvent

    cases = CancellationCase.objects.filter(
        subscription_id__in=subscription_ids, opened_at__gte=since
    )
    per_customer = cases.values("customer_id").annotate(n=Count("pk")).filter(n__gt=1).count()
    decided = cases.filter(decided_at__isnull=False).count()
    ledger = (
        SubscriptionEvent.objects.filter(
            subscription_id__in=subscription_ids, created_at__gte=since
        )
        .values("subscription_id")
        .annotate(n=Count("pk", filter=Q(kind="cancel_scheduled")))
        .filter(n__gt=1)
        .count()
    )
    return {"decided": decided, "customers_with_two_cases": per_customer, "double_ledger": ledger}


# --- The outreach drain -------------------------------------------------------------------------


def plan_drain(count: int) -> tuple[int, datetime]:
    """Make ``count`` win-back emails due now, for customers the send may contact."""
    from django.db import connection
    from django.utils import timezone

    from cancellations.enums import ChurnGroup
    from winback.enums import ConsentBasis, OutreachChannel, OutreachStatus
    from winback.models import Campaign, Outreach

    now = timezone.now()
    # Rows the seed left due are sent too; they count.
    # Only emails: due phone contacts the seed left go to the call queue, not to SMTP.
    due_emails = Outreach.objects.filter(
        status=OutreachStatus.SCHEDULED, due_at__lte=now, channel=OutreachChannel.EMAIL
    )
    already = due_emails.count()
    template = Campaign.objects.filter(channel=OutreachChannel.EMAIL).order_by("pk").first()
    campaign = Campaign.objects.get(pk=template.pk)
    campaign.pk = None
    campaign.name = f"Bench drain {now:%Y%m%d%H%M%S}"
    campaign.active, campaign.starts_on, campaign.ends_on = True, None, None
    campaign.consent_basis = ConsentBasis.LEGITIMATE_INTEREST
    campaign.holdout_percent = 0
    # Every churn group, so that the send (which checks the campaign's groups again, as the
    # policy says) contacts every customer made due here instead of skipping most of them.
    campaign.churn_groups = list(ChurnGroup.values)
    campaign.include_deliberately_pushed = True
    campaign.save()
    with connection.cursor() as cursor:
        cursor.execute(
            """
            INSERT INTO winback_outreach (attempt, channel, due_at, status, language,
                skip_reason, error, call_outcome, created_at, campaign_id, customer_id,
                lost_customer_id)
            SELECT 1, 'email', %(now)s, 'scheduled', '', '', '', '', %(now)s, %(campaign)s,
                   customer_id, id
            FROM (
                SELECT DISTINCT ON (lc.customer_id) lc.id, lc.customer_id
                FROM winback_lostcustomer lc
                JOIN subscriptions_subscription s ON s.id = lc.subscription_id
                JOIN subscriptions_customer c ON c.id = lc.customer_id
                WHERE lc.came_back_at IS NULL AND s.status = 'cancelled' AND c.email <> ''
                  AND upper(c.country) <> 'DK'
                  AND NOT EXISTS (SELECT 1 FROM winback_suppression x WHERE x.customer_id = c.id)
                  AND NOT EXISTS (
                      SELECT 1 FROM winback_outreach o WHERE o.customer_id = c.id
                      AND (o.contacted_at > %(now)s - interval '40 days'
                           OR (o.status = 'scheduled' AND o.due_at <= %(now)s)))
                ORDER BY lc.customer_id, lc.left_at DESC
            ) eligible
            ORDER BY customer_id
            LIMIT %(limit)s
            """,
            {"now": now, "campaign": campaign.pk, "limit": max(0, count - already)},
        )
    total = due_emails.count()
    return total, now


def drain(sink_file: Path, count: int, rows: list[Row]) -> None:
    from django.conf import settings

    from core.enums import EmailStatus
    from core.models import OutboundEmail
    from core.tasks import sweep_outbound_email
    from winback.enums import OutreachChannel, OutreachStatus
    from winback.models import Outreach
    from winback.tasks import dispatch_outreach

    total, due_at = plan_drain(count)
    log(f"outreach drain: {total:,} win-back emails due")
    rows_due = Outreach.objects.filter(
        status=OutreachStatus.SCHEDULED, due_at__lte=due_at, channel=OutreachChannel.EMAIL
    )
    due_ids = list(rows_due.values_list("pk", flat=True))
    beat = settings.CELERY_BEAT_SCHEDULE
    every = beat["winback-dispatch-outreach"]["schedule"].total_seconds()
    email_every = beat["core-sweep-outbound-email"]["schedule"].total_seconds()
    started = time.monotonic()
    started_at = datetime.now(UTC)
    next_sweep = next_email_sweep = 0.0
    deadline = started + DRAIN_MAX_SECONDS
    while time.monotonic() < deadline:
        if time.monotonic() >= next_sweep:  # what beat does
            dispatch_outreach.delay()
            next_sweep = time.monotonic() + every
        if time.monotonic() >= next_email_sweep:
            sweep_outbound_email.delay()
            next_email_sweep = time.monotonic() + email_every
        # Cheap to ask every second (a list of 100,000 ids in the query cost as much CPU as a
        # worker): the rows due by then still to claim, and the emails made since the drain
        # began not yet sent. A row the frequency cap postpones moves past ``due_at``.
        waiting = rows_due.count() + (
            OutboundEmail.objects.filter(
                created_at__gte=started_at, status__in=[EmailStatus.PENDING, EmailStatus.SENDING]
            ).count()
        )
        if not waiting:
            break
        time.sleep(1)
    mine = Outreach.objects.filter(pk__in=due_ids)
    sent = OutboundEmail.objects.filter(pk__in=mine.values("email_id"), status=EmailStatus.SENT)
    # One snapshot for the count, the span and the Message-IDs expected (when the drain ran
    # out of time the workers are still sending).
    sent_rows = list(sent.values_list("pk", "sent_at"))
    n_sent = len(sent_rows)
    last_sent = max((at for _, at in sent_rows), default=None)
    seconds = (last_sent - started_at).total_seconds() if n_sent else float("nan")
    lags = [
        (email_sent - due).total_seconds()
        for email_sent, due in mine.filter(email__status=EmailStatus.SENT).values_list(
            "email__sent_at", "due_at"
        )
    ]
    skipped = mine.filter(status=OutreachStatus.SKIPPED).count()
    left = total - n_sent - skipped
    domain = settings.DEFAULT_FROM_EMAIL.rsplit("@", 1)[-1].strip(">") or "tack.local"
    expected = {f"<tack-{pk}@{domain}>" for pk, _ in sent_rows}
    time.sleep(1)
    received = sink_file.read_text().split()
    deliveries = count_deliveries(received, expected)
    rate = n_sent / seconds if n_sent else 0.0
    log(
        f"drain: {n_sent:,} sent in {seconds:.0f} s ({rate:.0f}/s), {skipped} skipped, "
        f"{left} still scheduled, {deliveries}"
    )
    rows.append(
        Row(
            f"outreach drain: {total:,} due emails, {CELERY_CONCURRENCY} worker processes → "
            "local SMTP",
            f"≥ {DRAIN_FLOOR} emails/s",
            f"{rate:,.0f} emails/s ({n_sent:,} sent in {seconds:,.0f} s; {skipped:,} skipped, "
            f"{left:,} not sent within {DRAIN_MAX_SECONDS} s)",
            rate >= DRAIN_FLOOR and left == 0,
        )
    )
    rows.append(
        Row(
            f"outreach: due → sent lag (all due at once; sweeps every {every:.0f} s)",
            "—",
            f"p50 {percentile(lags, 0.5):,.1f} s, p99 {percentile(lags, 0.99):,.1f} s, "
            f"max {max(lags, default=float('nan')):,.1f} s",
            None,
        )
    )
    rows.append(
        Row(
            "outreach: duplicates (Message-IDs received vs rows sent)",
            "0",
            f"{deliveries.duplicates} duplicates, {deliveries.received:,} of {n_sent:,} received, "
            f"{deliveries.missing} missing",
            deliveries.duplicates == 0 and deliveries.missing == 0,
        )
    )


# --- The dashboard and segmentation benches, as they are ---------------------------------


def bench_env(url: str) -> dict:
    env = {key: value for key, value in os.environ.items() if not key.startswith("BENCH_")}
    env.update(DATABASE_URL=url)
    for key in ("ALLOWED_HOSTS", "REDIS_URL", "TACK_BENCH_VIEWS", "RATELIMIT_ENABLE"):
        env.pop(key, None)
    return env


def dashboard(url: str, rows: list[Row]) -> None:
    log("dashboard: bench/dashboard.py")
    done = subprocess.run(
        [PYTHON, "bench/dashboard.py", "--runs", "5"],
        cwd=ROOT,
        env=bench_env(url),
        check=True,
        stdout=subprocess.PIPE,
        text=True,
    )
    print(done.stdout, flush=True)
    cells = [
        [cell.strip() for cell in line.strip().strip("|").split("|")]
        for line in done.stdout.splitlines()
        if line.startswith("|")
    ]

    def find(prefix: str) -> list[str]:
        return next((row for row in cells if row[0].startswith(prefix)), ["", "", "", ""])

    page = find("dashboard page")
    scan = find("raw-SQL scan")
    same = find("rollups equal the scan")
    page_ms = float(page[1].replace(",", "").split()[0]) if page[1] else float("nan")
    queries = int(page[3]) if page[3].isdigit() else 0
    sql = re.search(r"\(SQL ([\d,]+ ms)\)", page[0])
    rows.append(
        Row(
            "dashboard page, last 12 months (median server time)",
            "< 200 ms, ≤ 15 queries",
            f"{page[1]} ({queries} queries, SQL {sql.group(1) if sql else '?'})",
            page_ms < 200 and queries <= 15,
        )
    )
    rows.append(
        Row(
            "dashboard figures by raw-SQL scan (the reference)",
            "—",
            f"{scan[1]} ({scan[3]} queries); rollups equal the scan: "
            f"{same[0].rsplit(':', 1)[-1].strip()}",
            None,
        )
    )


def segmentation(url: str, rows: list[Row]) -> None:
    log(f"segmentation: bench/segment_lost_customers.py {LOST}")
    env = bench_env(url)
    env["DJANGO_DEBUG"] = "1"
    done = subprocess.run(
        [PYTHON, "bench/segment_lost_customers.py", str(LOST)],
        cwd=ROOT,
        env=env,
        check=True,
        stdout=subprocess.PIPE,
        text=True,
    )
    print(done.stdout, flush=True)
    steps = {}
    for line in done.stdout.splitlines():
        found = re.match(r"\| (lost_customers_\w+(?: \(again\))?) \| ([\d,]+) \| ([\d.]+) \|", line)
        if found:
            steps[found.group(1)] = float(found.group(3))
    work = steps.get("lost_customers_segment", 0) + steps.get("lost_customers_score", 0)
    target = 30 * LOST / 100_000
    scaled = "" if LOST == 100_000 else f" (scaled to {LOST:,}: < {target:.1f} s)"
    rows.append(
        Row(
            f"segment and score {LOST:,} lost customers",
            f"< 30 s at 100,000{scaled}",
            f"{work:.1f} s (segment {steps.get('lost_customers_segment', 0):.1f} s, "
            f"score {steps.get('lost_customers_score', 0):.1f} s; "
            f"recording them first {steps.get('lost_customers_record', 0):.1f} s)",
            work < target,
        )
    )


# --- The whole run ------------------------------------------------------------------------------


def web(workdir: Path, rows: list[Row], processes: Processes, run_env: dict) -> dict:
    from django.conf import settings

    port = free_port()
    gunicorn = processes.start(
        [
            str(Path(PYTHON).parent / "gunicorn"),
            "config.wsgi:application",
            "--bind",
            f"127.0.0.1:{port}",
            "--workers",
            str(GUNICORN_WORKERS),
            "--backlog",
            "256",
        ],
        workdir / "gunicorn.log",
        env=run_env,
    )
    since = datetime.now(UTC)
    links = prepare_links(workdir)
    wait_for_http(port, "/healthz")
    log(
        f"gunicorn on {port} with {GUNICORN_WORKERS} workers (CONN_MAX_AGE "
        f"{settings.DATABASES['default']['CONN_MAX_AGE']})"
    )
    figures = {}
    for name in ("bare", "entry", "offers", "done"):
        figures[name] = wrk(port, workdir / f"{name}.paths", SECONDS)
        log(f"wrk {name}: {figures[name]}")
    bare = figures["bare"]
    rows.append(
        Row(
            f"bare view (one row, one template), {CONNECTIONS} connections",
            "—",
            f"{bare['rps']:,.0f} req/s, p50 {bare['p50_ms']:.0f} ms, "
            f"p99 {bare['p99_ms']:.0f} ms, {bare['errors']} errors",
            None,
        )
    )
    labels = {
        "entry": "flow: entry page (a page view writes nothing)",
        "offers": "flow: offers page",
        "done": "flow: done page",
    }
    for name, label in labels.items():
        page = figures[name]
        share = page["rps"] / bare["rps"] if bare["rps"] else 0
        rows.append(
            Row(
                f"{label}, GET, {CONNECTIONS} connections",
                "≥ 50% of bare, p99 < 100 ms, 0 errors",
                f"{page['rps']:,.0f} req/s ({share:.0%} of bare), p50 {page['p50_ms']:.0f} ms, "
                f"p99 {page['p99_ms']:.0f} ms, {page['errors']} errors",
                share >= 0.5 and page["p99_ms"] < 100 and page["errors"] == 0,
            )
        )
    decisions = links["decide"]
    log(f"decide: {len(decisions):,} POSTs at {DECIDE_RATE}/s")
    posted = fixed_rate_posts(port, decisions, DECIDE_RATE)
    log(f"decide: { {key: value for key, value in posted.items() if key != 'posted'} }")
    checked = decision_duplicates(posted["posted"], since)
    entry_checked = decision_duplicates(links["entry_ids"], since)
    log(f"decide: database says {checked}; entry pages: {entry_checked}")
    duplicates = checked["customers_with_two_cases"] + checked["double_ledger"]
    duplicates += entry_checked["customers_with_two_cases"]
    rows.append(
        Row(
            f"flow: decision POST at a fixed rate ({len(posted['posted']):,} links, each once; "
            "Python open-loop load generator, not wrk)",
            f"sustains {DECIDE_RATE} req/s, 0 errors, 0 duplicate cases",
            f"{posted['rps']:,.1f} req/s, p50 {duration(posted['p50_ms'])}, "
            f"p99 {duration(posted['p99_ms'])}, {posted['errors']} errors; "
            f"{checked['decided']:,} of {len(posted['posted']):,} decided, {duplicates} duplicates"
            + (f"; stopped {BEHIND_SECONDS} s behind" if posted["behind"] else ""),
            posted["rps"] >= DECIDE_RATE * 0.97
            and posted["errors"] == 0
            and duplicates == 0
            and checked["decided"] == len(posted["posted"])
            and not posted["behind"],
        )
    )
    return {"gunicorn": gunicorn}


def static_outdated() -> bool:
    """Production settings serve hashed static files: collect them unless done since the last
    change (compressing them takes a minute here)."""
    manifest = ROOT / "staticfiles" / "staticfiles.json"
    if not manifest.exists():
        return True
    newest = max(path.stat().st_mtime for path in (ROOT / "static").rglob("*") if path.is_file())
    return newest > manifest.stat().st_mtime


def main() -> None:
    default_url = f"postgres://postgres@127.0.0.1:5432/tack_bench_{SCALE}"
    seed_url = os.environ.get("BENCH_DATABASE_URL") or default_url
    redis_url = os.environ.get("BENCH_REDIS_URL") or "redis://127.0.0.1:6379/15"
    rows: list[Row] = []
    load_before = os.getloadavg()
    started = time.monotonic()
    log(f"scale {SCALE:,}; seed database {database_name(seed_url)}; load {load_before}")
    if "seed" in ONLY:
        seed(seed_url, rows)
    run_url = fresh_copy(seed_url)

    workdir = Path(tempfile.mkdtemp(prefix="tack-bench-"))
    run_env = {
        **os.environ,
        "DATABASE_URL": run_url,
        "REDIS_URL": redis_url,
        "CACHE_KEY_PREFIX": "tack-bench",
        "DJANGO_DEBUG": "0",
        "SECRET_KEY": os.environ.get("SECRET_KEY") or secrets.token_urlsafe(50),
        "ALLOWED_HOSTS": HOST,
        "RATELIMIT_ENABLE": "0",
        "TACK_BENCH_VIEWS": "1",
        "EMAIL_BACKEND": "django.core.mail.backends.smtp.EmailBackend",
        "DJANGO_SETTINGS_MODULE": "config.settings",
    }
    if static_outdated():
        subprocess.run(
            [PYTHON, "manage.py", "collectstatic", "--noinput", "-v0"],
            cwd=ROOT,
            env=run_env,
            check=True,
        )
    if "dashboard" in ONLY:
        dashboard(run_url, rows)
    if "segmentation" in ONLY:
        segmentation(run_url, rows)

    processes = Processes()
    try:
        import redis

        redis.Redis.from_url(redis_url).flushdb()
        sink_file = workdir / "smtp.ids"
        sink_file.touch()
        sink = processes.start(
            [PYTHON, "bench/smtp_sink.py", str(sink_file)],
            workdir / "smtp.log",
            stdout=subprocess.PIPE,
            text=True,
        )
        smtp_port = int(sink.stdout.readline())
        run_env.update(EMAIL_HOST="127.0.0.1", EMAIL_PORT=str(smtp_port))
        worker = processes.start(
            [
                str(Path(PYTHON).parent / "celery"),
                "-A",
                "config",
                "worker",
                f"--concurrency={CELERY_CONCURRENCY}",
                "--loglevel=WARNING",
                "-n",
                f"bench-{os.getpid()}@%h",
            ],
            workdir / "celery.log",
            env=run_env,
        )
        os.environ.update(run_env)
        import django

        django.setup()
        servers = {}
        if "web" in ONLY:
            servers = web(workdir, rows, processes, run_env)
        if "drain" in ONLY:
            drain(sink_file, OUTREACH, rows)
        memory = []
        if servers:
            pids = descendants(servers["gunicorn"].pid)
            memory.append(
                Row(
                    f"peak memory (VmHWM), each of {len(pids)} gunicorn workers",
                    "—",
                    f"max {max(map(peak_rss_mb, pids), default=0):.0f} MB "
                    f"(master {peak_rss_mb(servers['gunicorn'].pid):.0f} MB)",
                    None,
                )
            )
        pool = descendants(worker.pid)
        celery_main = next((pid for pid in [worker.pid, *pool] if descendants(pid)), worker.pid)
        children = [pid for pid in pool if pid != celery_main]
        memory.append(
            Row(
                f"peak memory (VmHWM), Celery: {len(children)} worker processes",
                "—",
                f"max {max(map(peak_rss_mb, children), default=0):.0f} MB "
                f"(main {peak_rss_mb(celery_main):.0f} MB)",
                None,
            )
        )
        rows.extend(memory)
    finally:
        processes.stop_all()
        shutil.rmtree(workdir, ignore_errors=True)

    load_after = os.getloadavg()
    header = (
        f"# `make bench` at {SCALE:,} subscriptions\n\n"
        f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC, {os.cpu_count()} CPUs, load average "
        f"{load_before[0]:.2f} before and {load_after[0]:.2f} after (the machine is shared: "
        f"absolute figures are noisy, ratios within one run are not); the run took "
        f"{(time.monotonic() - started) / 60:.1f} min. gunicorn {GUNICORN_WORKERS} sync "
        f"workers, wrk {CONNECTIONS} connections for {SECONDS} s per page.\n\n"
    )
    table = markdown_table(rows)
    print("\n" + header + table, flush=True)
    (ROOT / "bench" / "results.md").write_text(header + table)


if __name__ == "__main__":
    main()
