"""The outbox's delivery promises (README "Delivery"), proven under SIGKILL at random moments.

A few hundred emails of both kinds — marketing (a win-back contact: at most once) and service
messages (a receipt: at least once, same Message-ID) — are sent by two real ``celery worker``
processes into a local SMTP server, while they are SIGKILLed in turn, again and again, each
time at a random moment soon after mail is flowing, and started again. The server keeps each message before it answers
and then takes a moment, so a kill often falls between the server's acceptance and the
outbox's record of it: the one moment in which the sender cannot know. The sweeps (what beat
runs) then settle every claim whose lease ran out by its promise.

Afterwards: every service email reached the server at least once and all its copies carry
its own Message-ID; no marketing email reached it twice; every marketing email is either
sent (received exactly once) or "outcome unknown" (received at most once) — none is lost
silently, none still waits.

``TACK_STRESS_TRIALS`` scales it (default 5: 150 + 150 emails, up to 12 kills).
"""

import asyncio
import os
import random
import time
from collections import Counter, defaultdict

import pytest

from core.enums import DeliveryPromise, EmailStatus
from core.models import OutboundEmail
from core.outbox import email as email_outbox
from tests.conftest import CapturingSMTPHandler
from tests.faults.conftest import (
    SMTPServer,
    kill_process,
    report,
    run_database_url,
    start_worker,
    stop_process,
    tack_env,
)
from tests.faults.worker_parent import ForkedWorker
from tests.helpers import wait_until

pytestmark = [pytest.mark.worker, pytest.mark.slow, pytest.mark.django_db(transaction=True)]

TRIALS = int(os.environ.get("TACK_STRESS_TRIALS", "5"))
EMAILS_OF_EACH_KIND = 30 * TRIALS
KILLS = 12 * TRIALS // 5
WORKERS = 2


class SlowToAnswerSMTPHandler(CapturingSMTPHandler):
    """Keeps the message, then takes a moment before it answers 250: a sender killed in
    that moment has had its message accepted without knowing it."""

    async def handle_DATA(self, server, session, envelope):
        answer = await super().handle_DATA(server, session, envelope)
        await asyncio.sleep(0.03)
        return answer


def queue_emails() -> dict[str, str]:
    """Both kinds, interleaved; returns each recipient's promise."""
    promises = {}
    for n in range(EMAILS_OF_EACH_KIND):
        for kind, promise in (
            ("winback", DeliveryPromise.AT_MOST_ONCE),
            ("cancellation_cancelled", DeliveryPromise.AT_LEAST_ONCE),
        ):
            to_email = f"{kind}-{n}@example.com"
            email_outbox.email_queue(
                dedupe_key=f"promise-{kind}-{n}",
                kind=kind,
                to_email=to_email,
                subject=f"{kind} {n}",
                body_text="Hej",
                promise=promise,
            )
            promises[to_email] = promise
    return promises


def test_marketing_is_sent_at_most_once_and_service_email_at_least_once_under_random_kills(
    broker, settings, tmp_path
):
    settings.TACK_EMAIL_LEASE_SECONDS = 3
    settings.TACK_EMAIL_REQUEUE_SECONDS = 3  # a task killed before its claim
    smtp = SMTPServer(SlowToAnswerSMTPHandler())
    smtp.start()
    env = tack_env(
        database_url=run_database_url(),
        redis_url=broker.url,
        smtp_port=smtp.port,
        TACK_EMAIL_LEASE_SECONDS="3",
    )
    log = tmp_path / "workers.log"
    rng = random.Random(int(os.environ.get("TACK_STRESS_SEED", "8")))
    started = time.monotonic()
    workers: list[ForkedWorker] = [start_worker(env, log) for _ in range(WORKERS)]
    dead: list[ForkedWorker] = []
    unsettled = OutboundEmail.objects.filter(status__in=[EmailStatus.PENDING, EmailStatus.SENDING])
    try:
        promises = queue_emails()
        victim, received, next_kill = 0, 0, None
        while len(dead) < KILLS and unsettled.exists():
            if next_kill is None and len(smtp.messages) > received:
                # Mail is flowing again since the last kill: strike at a random moment soon.
                next_kill = time.monotonic() + rng.uniform(0.05, 0.8)
            if next_kill is not None and time.monotonic() >= next_kill:
                # The older of the two, which has surely started by now.
                kill_process(workers[victim])
                dead.append(workers[victim])
                workers[victim] = start_worker(env, log)
                victim = (victim + 1) % WORKERS
                received, next_kill = len(smtp.messages), None
            email_outbox.email_sweep()  # what beat does: settle expired claims, publish
            time.sleep(0.05)

        def settled() -> bool:
            email_outbox.email_sweep()
            return not unsettled.exists()

        killing = time.monotonic() - started
        wait_until(settled, timeout=90, interval=0.5)
    finally:
        for worker in workers:
            stop_process(worker)
        smtp.stop()
    seconds = time.monotonic() - started

    assert all(worker.returncode == -9 for worker in dead)
    emails = {email.to_email: email for email in OutboundEmail.objects.all()}
    assert len(emails) == len(promises) == 2 * EMAILS_OF_EACH_KIND
    copies = Counter(message["To"] for message in smtp.messages)
    message_ids = defaultdict(set)
    for message in smtp.messages:
        message_ids[message["To"]].add(message["Message-ID"])
    assert set(copies) <= set(emails)
    service = [to for to, promise in promises.items() if promise == DeliveryPromise.AT_LEAST_ONCE]
    marketing = [to for to, promise in promises.items() if promise == DeliveryPromise.AT_MOST_ONCE]
    domain = "example.com"
    # Service messages: at least once, every copy with the email's own Message-ID.
    assert {to: emails[to].status for to in service} == dict.fromkeys(service, EmailStatus.SENT)
    assert all(copies[to] >= 1 for to in service)
    assert {to: message_ids[to] for to in service} == {
        to: {f"<tack-{emails[to].pk}@{domain}>"} for to in service
    }
    # Marketing: at most once; sent means received once, else "outcome unknown".
    assert max(copies[to] for to in marketing) <= 1
    assert {emails[to].status for to in marketing} <= {EmailStatus.SENT, EmailStatus.UNKNOWN}
    assert all(copies[to] == 1 for to in marketing if emails[to].status == EmailStatus.SENT)
    unknown = [to for to in marketing if emails[to].status == EmailStatus.UNKNOWN]
    assert all(emails[to].attempts == 1 for to in unknown)  # never tried again
    doubled = sum(1 for to in service if copies[to] > 1)
    resent = sum(1 for to in service if emails[to].attempts > 1)
    report(
        f"delivery promises: {len(dead)} SIGKILLs at random moments of {WORKERS} workers, "
        f"{len(service)} service + {len(marketing)} marketing emails; service: all received, "
        f"{resent} sent again after a kill, {doubled} received twice (same Message-ID); "
        f"marketing: none twice, {len(unknown)} outcome unknown "
        f"({sum(copies[to] for to in unknown)} of them had arrived); {seconds:.0f} s "
        f"({killing:.0f} s killing)"
    )
