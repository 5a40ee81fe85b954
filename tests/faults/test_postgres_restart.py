"""PostgreSQL restarts (``pg_ctl restart -m fast``) under a steady stream of customers.

A private cluster, migrated (restored from a dump of the suite's migrated template); gunicorn
(2 processes x 4 threads, persistent connections with health checks, as configured for
production) serves the cancellation flow to a few threads of customers, and a monitor polls
/healthz. Mid-load the database restarts: every session is
cut and open transactions roll back. Requests caught by it must fail cleanly and fast (our
error page, no traceback, no hang), every request that starts once the database is back
must succeed, and the database must hold no half-made change: each case agrees with its
steps, the subscription's state, its ledger and its outbox, and no subscription has two.
"""

import json
import subprocess
import sys
import threading
import time
from collections import Counter

import psycopg2
import pytest

from tests.faults.conftest import (
    ROOT,
    Browser,
    Response,
    customer_ip,
    report,
    start_web,
    stop_process,
    tack_env,
    walk_cancel_flow,
)

pytestmark = pytest.mark.slow

THREADS = 4
CUSTOMERS = 400  # more than the threads walk in the whole run, so the load never runs dry
LOAD_BEFORE_RESTART = 3.0  # seconds
LOAD_AFTER_RESTART = 4.0


def _started_after(walks: dict, moment: float) -> int:
    return sum(1 for _, walk in list(walks.values()) for r in walk.responses if r.started > moment)


def sql(url: str, query: str, args=()) -> list[tuple]:
    db = psycopg2.connect(url)
    db.autocommit = True
    try:
        with db.cursor() as cursor:
            cursor.execute(query, args)
            return cursor.fetchall() if cursor.description else []
    finally:
        db.close()


def audit(url: str) -> list[str]:
    """Every way a case could disagree with its steps, subscription, ledger and outbox."""
    problems = [
        f"subscription {sub} has {n} cases"
        for sub, n in sql(
            url,
            "SELECT subscription_id, count(*) FROM cancellations_cancellationcase "
            "GROUP BY 1 HAVING count(*) > 1",
        )
    ]
    problems += [
        f"subscription {sub}: ledger sequences {seqs}"
        for sub, seqs in sql(
            url,
            "SELECT subscription_id, array_agg(sequence ORDER BY sequence) "
            "FROM subscriptions_subscriptionevent GROUP BY 1",
        )
        if seqs != list(range(1, len(seqs) + 1))
    ]
    cases = sql(
        url,
        """
        SELECT c.id, c.outcome, c.reason_id IS NOT NULL, c.accepted_offer_id IS NOT NULL,
               c.decided_at IS NOT NULL, s.status,
               (SELECT json_object_agg(kind, n) FROM (SELECT kind, count(*) n
                  FROM cancellations_casestep WHERE case_id = c.id GROUP BY kind) k),
               (SELECT json_object_agg(kind, n) FROM (SELECT kind, count(*) n
                  FROM subscriptions_subscriptionevent WHERE subscription_id = s.id
                  GROUP BY kind) e),
               (SELECT array_agg(kind ORDER BY kind) FROM core_outboundemail
                  WHERE dedupe_key LIKE 'case-' || c.id || '-%%')
        FROM cancellations_cancellationcase c
        JOIN subscriptions_subscription s ON s.id = c.subscription_id
        """,
    )
    expected = {
        # outcome: (reason chosen, offer accepted, decided, status, steps, ledger, emails)
        "saved": (
            True,
            True,
            True,
            "paused",
            {"offer_accepted": 1, "declined": 0},
            {"started": 1, "paused": 1},
            ["cancellation_saved"],
        ),
        "cancelled": (
            True,
            False,
            True,
            "cancel_pending",
            {"offer_accepted": 0, "declined": 1},
            {"started": 1, "cancel_requested": 1},
            ["cancellation_cancelled"],
        ),
    }
    for case_id, outcome, has_reason, accepted, decided, status, steps, ledger, emails in cases:
        steps = steps or {}
        if steps.get("opened") != 1:
            problems.append(f"case {case_id}: opened {steps.get('opened')} times")
        if bool(steps.get("reason_chosen")) != has_reason:
            problems.append(f"case {case_id}: reason {has_reason}, steps {steps}")
        if outcome == "open":
            want = (has_reason, False, False, "active", {"offer_accepted": 0, "declined": 0})
            want += ({"started": 1}, None)
        elif outcome in expected:
            want = expected[outcome]
        else:
            problems.append(f"case {case_id}: outcome {outcome}")
            continue
        got = (
            has_reason,
            accepted,
            decided,
            status,
            {kind: steps.get(kind, 0) for kind in ("offer_accepted", "declined")},
            ledger,
            emails,
        )
        if got != want:
            problems.append(f"case {case_id} ({outcome}): {got} != {want}")
    return problems


def test_requests_fail_cleanly_while_postgres_restarts_and_no_change_is_half_made(
    django_db_setup,  # the migrated template the private cluster's database is restored from
    private_postgres,
    private_redis,
    tmp_path,
):
    database_url = private_postgres.create_migrated("tack")
    env = tack_env(database_url=database_url, redis_url=private_redis.url)
    env.pop("CONN_MAX_AGE", None)  # production's persistent connections (60 s)
    run = {"cwd": ROOT, "env": env, "check": True, "capture_output": True, "timeout": 180}
    seeded = json.loads(
        subprocess.run([sys.executable, "-m", "tests.faults.seed_private", str(CUSTOMERS)], **run)
        .stdout.decode()
        .strip()
        .splitlines()[-1]
    )
    web = start_web(env, tmp_path / "web.log", workers=2, threads=THREADS)

    queue = list(enumerate(seeded["subscriptions"]))
    queue_lock = threading.Lock()
    stop_taking = threading.Event()
    walks: dict[str, tuple[bool, list[Response]]] = {}
    health: list[Response] = []

    def customers():
        while not stop_taking.is_set():
            with queue_lock:
                if not queue:
                    return
                n, subscription = queue.pop(0)
            accept = n % 2 == 0
            walk = walk_cancel_flow(
                web.url,
                subscription["token"],
                reason_id=seeded["reason"],
                accept=accept,
                deadline=time.monotonic() + 40,
                source_ip=customer_ip(n),
            )
            walks[subscription["external_id"]] = (accept, walk)

    def monitor():
        browser = Browser(timeout=15)
        while not stop_taking.is_set():
            health.append(browser.get(f"{web.url}/healthz"))
            time.sleep(0.1)

    threads = [threading.Thread(target=customers, daemon=True) for _ in range(THREADS)]
    threads.append(threading.Thread(target=monitor, daemon=True))
    try:
        for thread in threads:
            thread.start()
        time.sleep(LOAD_BEFORE_RESTART)
        restart_started = time.monotonic()
        private_postgres.restart()
        restart_ended = time.monotonic()
        # At least LOAD_AFTER_RESTART seconds of load, and enough walks finished after the
        # restart to tell (a loaded machine walks fewer customers per second).
        load_until = time.monotonic() + LOAD_AFTER_RESTART
        give_up = load_until + 30
        while time.monotonic() < load_until or (
            _started_after(walks, restart_ended) <= 20 and time.monotonic() < give_up
        ):
            time.sleep(0.2)
        stop_taking.set()
        ran_dry = not queue
        for thread in threads:
            thread.join(timeout=60)
        assert not any(thread.is_alive() for thread in threads), "a customer hung"
        assert not ran_dry, "every customer was walked before the load ended: raise CUSTOMERS"
        connections = sql(
            private_postgres.url(),
            "SELECT count(*) FROM pg_stat_activity WHERE datname = 'tack'",
        )[0][0]
    finally:
        stop_taking.set()
        stop_process(web.process)

    responses = [r for _, walk in walks.values() for r in walk.responses]
    failed = [r for r in responses if r.status is None or r.status >= 400]
    during = [
        r
        for r in responses
        if restart_started <= r.started + r.seconds and r.started <= restart_ended
    ]
    after = [r for r in responses if r.started > restart_ended]
    # Requests caught by the restart fail fast with our error page, never a traceback.
    assert during, "no request was in flight during the restart"
    assert [r.status for r in failed if r.status not in (500, 503)] == [], failed
    assert all("Something went wrong" in r.text for r in failed), [r.text[:300] for r in failed]
    assert not [r for r in responses if "Traceback" in r.text or "psycopg2" in r.text]
    assert max(r.seconds for r in responses) < 10
    # Once the database is back, every request succeeds: the persistent connections that
    # the restart cut are noticed by the health check and replaced.
    assert [r for r in after if r in failed] == [], [(r.status, r.url) for r in after]
    assert len(after) > 20
    # Each customer who started finished where they meant to, and the database agrees.
    assert all(walk.outcome == "done" for _, walk in walks.values())
    assert audit(database_url) == []
    outcomes = dict(
        sql(
            database_url,
            "SELECT s.external_id, c.outcome FROM cancellations_cancellationcase c "
            "JOIN subscriptions_subscription s ON s.id = c.subscription_id",
        )
    )
    assert outcomes == {
        external_id: "saved" if accept else "cancelled"
        for external_id, (accept, _) in walks.items()
    }
    # Persistent connections are reused, not piled up: at most one per gunicorn thread.
    assert connections <= 2 * THREADS
    statuses = Counter(r.status for r in health)
    assert set(statuses) <= {200, 503}, statuses
    report(
        f"postgres restart: 1 restart ({restart_ended - restart_started:.1f} s) under "
        f"{THREADS} customer threads; {len(walks)} customers, {len(responses)} requests, "
        f"{len(during)} during the restart ({len([r for r in during if r in failed])} failed "
        f"cleanly with 500/503), {len(after)} after it (0 failed); /healthz {dict(statuses)}; "
        f"{len(outcomes)} cases consistent with steps, subscription, ledger and outbox"
    )
