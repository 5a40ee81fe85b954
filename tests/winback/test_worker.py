"""Win-back outreach through real Celery workers on Redis into a real SMTP server (aiosmtpd):
at most once, also when a worker is killed in the middle of a batch and another takes over
(the email it was sending is then "outcome unknown", never sent twice)."""

import os
import signal
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from django.conf import settings as django_settings
from django.db import connection

from config.celery import app
from core.enums import EmailStatus
from core.models import OutboundEmail
from core.outbox import email as email_outbox
from tests.conftest import CapturingSMTPHandler, free_port
from tests.helpers import wait_until
from tests.winback.conftest import make_lost
from winback import services
from winback.enums import OutreachStatus
from winback.models import Campaign, LostCustomer, Outreach
from winback.tasks import dispatch_outreach, refresh_lost_customers, send_outreach

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]

IMPROVED = "Unintentionally pushed away: what we have improved"
ROOT = Path(__file__).resolve().parents[2]


def one_campaign_due_now():
    Campaign.objects.exclude(name=IMPROVED).update(active=False)
    Campaign.objects.filter(name=IMPROVED).update(
        holdout_percent=0, first_contact_days=0, min_attractiveness=0
    )


def winback_messages(messages):
    """The win-back emails among everything the server took (leaving sends a receipt too)."""
    return [message for message in messages if message["List-Unsubscribe"]]


def sent_outreach() -> int:
    return Outreach.objects.filter(status=OutreachStatus.SENT).count()


def test_refresh_dispatch_and_send_run_on_a_real_worker_exactly_once(
    campaigns, celery_worker, smtp_server
):
    one_campaign_due_now()
    for n in range(12):
        make_lost(reason="expectations", email=f"lost{n}@example.com")
    LostCustomer.objects.all().delete()  # the worker's refresh records them again

    refresh_lost_customers.delay()
    wait_until(lambda: Outreach.objects.count() == 12)
    dispatch_outreach.delay()
    winback_emails = OutboundEmail.objects.filter(kind="winback")
    wait_until(lambda: winback_emails.filter(status=EmailStatus.SENT).count() == 12)
    for outreach_id in Outreach.objects.values_list("pk", flat=True):
        send_outreach.delay(outreach_id)  # a duplicated message, or a retry
    dispatch_outreach.delay()  # carries the deliveries back
    wait_until(lambda: sent_outreach() == 12)

    messages = winback_messages(smtp_server.messages)
    assert sorted(m["To"] for m in messages) == sorted(f"lost{n}@example.com" for n in range(12))
    assert all(m["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click" for m in messages)
    assert winback_emails.count() == 12


class KillOnceHandler(CapturingSMTPHandler):
    """Accepts messages; on the ``kill_at``-th it kills the worker that is sending it and
    refuses that message (the client is gone before the server could answer)."""

    def __init__(self, kill_at: int, kill):
        super().__init__()
        self.kill_at, self.kill = kill_at, kill
        self.seen = 0
        self.killed = threading.Event()

    async def handle_DATA(self, server, session, envelope):
        if b"List-Unsubscribe:" in envelope.content:
            self.seen += 1
        if self.seen == self.kill_at and not self.killed.is_set():
            self.kill()
            self.killed.set()
            return "451 4.3.0 Connection lost"
        return await super().handle_DATA(server, session, envelope)


def start_worker(smtp_port: int, log: Path) -> subprocess.Popen:
    database = connection.settings_dict
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "DJANGO_DEBUG": "0",
        "SECRET_KEY": "worker-test-secret-key-0123456789-abcdefghijklmnopqrstuvwxyz",
        "DATABASE_URL": f"postgres://{database['USER']}@{database['HOST'] or '127.0.0.1'}:"
        f"{database['PORT'] or 5432}/{database['NAME']}",
        "REDIS_URL": django_settings.REDIS_URL,
        "CONN_MAX_AGE": "0",
        "EMAIL_BACKEND": "django.core.mail.backends.smtp.EmailBackend",
        "EMAIL_HOST": "127.0.0.1",
        "EMAIL_PORT": str(smtp_port),
        "TACK_PUBLIC_BASE_URL": "http://testserver",
        "CELERY_SKIP_CHECKS": "1",  # as in tests/faults/conftest.py's tack_env
    }
    command = [
        sys.executable,
        "-m",
        "celery",
        "-A",
        "config",
        "worker",
        "--pool=solo",
        "--without-gossip",
        "--without-mingle",
        "--without-heartbeat",
        "--loglevel=WARNING",
    ]
    return subprocess.Popen(
        command, cwd=ROOT, env=env, stdout=log.open("ab"), stderr=subprocess.STDOUT
    )


@pytest.fixture
def publishing():
    """Tasks from this process go to Redis (not run eagerly), for a worker process to take."""
    app.conf.task_always_eager = False
    app.control.purge()
    yield
    app.control.purge()
    app.conf.task_always_eager = True


@pytest.mark.slow
def test_a_worker_killed_mid_batch_sends_none_twice_and_marks_the_cut_send_unknown(
    campaigns, publishing, settings, tmp_path
):
    from aiosmtpd.controller import Controller

    settings.TACK_EMAIL_LEASE_SECONDS = 1
    settings.TACK_WINBACK_REQUEUE_SECONDS = 1
    batch = 30
    one_campaign_due_now()
    for n in range(batch):
        make_lost(reason="expectations", email=f"batch{n}@example.com")
    services.outreach_plan()
    workers: list[subprocess.Popen] = []

    def kill_first_worker():
        workers[0].send_signal(signal.SIGKILL)
        workers[0].wait(timeout=10)

    handler = KillOnceHandler(kill_at=batch // 3, kill=kill_first_worker)
    controller = Controller(handler, hostname="127.0.0.1", port=free_port())
    controller.start()
    log = tmp_path / "workers.log"
    try:
        workers.append(start_worker(controller.port, log))
        services.outreach_dispatch_due()
        wait_until(handler.killed.is_set, timeout=60)
        assert workers[0].returncode == -signal.SIGKILL
        workers.append(start_worker(controller.port, log))

        def drained() -> bool:
            # What beat would do every few seconds: release the dead worker's claims and
            # re-enqueue what it never finished, then carry deliveries back.
            email_outbox.email_sweep()
            services.outreach_dispatch_due()
            services.outreach_sync_channels()
            return sent_outreach() == batch

        wait_until(drained, timeout=120, interval=0.5)
    finally:
        for worker in workers:
            if worker.poll() is None:
                worker.terminate()
                try:
                    worker.wait(timeout=20)
                except subprocess.TimeoutExpired:
                    worker.kill()
        controller.stop()

    # Marketing is sent at most once: the email in flight when its worker died (the server
    # refused it as the client vanished) is not sent again but marked "outcome unknown";
    # every other one arrived once, and every outreach counts as made.
    winback_emails = OutboundEmail.objects.filter(kind="winback")
    unknown = winback_emails.get(status=EmailStatus.UNKNOWN)
    assert unknown.attempts == 1
    messages = winback_messages(handler.messages)
    recipients = sorted(message["To"] for message in messages)
    everyone = {f"batch{n}@example.com" for n in range(batch)}
    assert recipients == sorted(everyone - {unknown.to_email}), log.read_text()
    assert len({message["Message-ID"] for message in messages}) == batch - 1
    assert winback_emails.filter(status=EmailStatus.SENT).count() == batch - 1
    assert not winback_emails.filter(attempts__gt=1).exists()  # none was sent again
