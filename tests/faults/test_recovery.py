"""Recovery in seconds (README "Delivery"): the database refuses the worker for a while, or the
broker is lost mid-drain and comes back empty; everything is delivered soon after.

- Database: a real worker reaches PostgreSQL through a gate that is shut mid-drain for
  ``DB_DOWN_SECONDS`` (every connection cut, new ones refused). Tasks that fail then are
  retried by Celery with backoff (at most 30 s apart) and an outcome already known is
  recorded once the database answers again (its sender keeps trying for
  TACK_OUTBOX_RECORD_SECONDS, 90 s, longer than the outage), so no sweep is run at all here:
  everything is delivered within 60 s of the database's return.
- Broker: a private Redis is stopped while a win-back drain, receipts and webhooks are in
  flight, and started again empty. The sweeps run at beat's own intervals; the first of
  each kind notices the empty broker and publishes again what it had published, so
  everything is delivered within 60 s of the broker's return, not after the requeue window.
"""

import asyncio
import threading
import time
from collections import Counter

import pytest
from django.conf import settings as django_settings

from core import webhooks
from core.enums import DeliveryPromise, EmailStatus, WebhookDeliveryStatus, WebhookEventType
from core.models import OutboundEmail, WebhookDelivery
from core.outbox import email as email_outbox
from core.outbox import webhooks as webhook_outbox
from tests.conftest import CapturingSMTPHandler
from tests.factories import make_endpoint
from tests.faults.conftest import (
    SMTPServer,
    report,
    run_database_url,
    start_worker,
    stop_process,
    tack_env,
)
from tests.helpers import wait_until
from tests.winback.conftest import campaigns, defaults, make_lost  # noqa: F401 - fixtures
from tests.winback.test_worker import one_campaign_due_now
from winback import services as winback_services
from winback.enums import OutreachStatus
from winback.models import Outreach

pytestmark = [pytest.mark.worker, pytest.mark.slow, pytest.mark.django_db(transaction=True)]

DB_DOWN_SECONDS = 40  # as long as production saw
RECEIPTS = 30
EVENTS = 30
RECOVERY_BOUND = 60


class SlowSMTPHandler(CapturingSMTPHandler):
    """Accepts each message after 50 ms; ``before_accepting(n)`` runs before it answers the
    ``n``th, so a test can cut the database while a sender waits for that answer."""

    def __init__(self, before_accepting=None):
        super().__init__()
        self.before_accepting = before_accepting

    async def handle_DATA(self, server, session, envelope):
        await asyncio.sleep(0.05)
        if self.before_accepting is not None:
            self.before_accepting(len(self.messages) + 1)
        return await super().handle_DATA(server, session, envelope)


def queue_receipts(count: int, prefix: str) -> None:
    for n in range(count):
        email_outbox.email_queue(
            dedupe_key=f"{prefix}-{n}",
            kind="cancellation_cancelled",
            to_email=f"{prefix}-{n}@example.com",
            subject="Your cancellation",
            body_text="Undo: ...",
            promise=DeliveryPromise.AT_LEAST_ONCE,
        )


def publish_events(count: int) -> None:
    for n in range(count):
        webhooks.webhook_publish(
            event_type=WebhookEventType.choices[0][0],
            scope=f"subscription:{n}",
            data={"n": n},
        )


def undelivered() -> dict:
    return {
        "emails": OutboundEmail.objects.exclude(status=EmailStatus.SENT).count(),
        "webhooks": WebhookDelivery.objects.exclude(status=WebhookDeliveryStatus.DELIVERED).count(),
    }


def stuck() -> dict:
    """What is not delivered yet, by status and attempts (for a failure's message)."""
    return {
        "emails": Counter(
            OutboundEmail.objects.exclude(status=EmailStatus.SENT).values_list("status", "attempts")
        ),
        "webhooks": Counter(
            WebhookDelivery.objects.exclude(status=WebhookDeliveryStatus.DELIVERED).values_list(
                "status", "attempts"
            )
        ),
    }


def test_database_refused_mid_drain_everything_is_delivered_within_a_minute_of_its_return(
    broker, database_gate, receiver, settings, tmp_path
):
    shut = threading.Event()

    def cut_the_database_at_the_fifth(n: int) -> None:
        # The worker has claimed this email and waits for the mail server's answer: it has
        # to record a "sent" while the database refuses it (the window where a short record
        # window left the email claimed until its lease ran out, 10 minutes).
        if n == 5 and not shut.is_set():
            database_gate.shut()
            shut.set()

    smtp = SMTPServer(SlowSMTPHandler(before_accepting=cut_the_database_at_the_fifth))
    smtp.start()
    make_endpoint(url=receiver.url)
    env = tack_env(
        database_url=database_gate.database_url(),
        redis_url=broker.url,
        smtp_port=smtp.port,
        TACK_WEBHOOK_TIMEOUT_SECONDS="2",
    )
    worker = start_worker(env, tmp_path / "worker.log")
    try:
        queue_receipts(RECEIPTS, "receipt")
        publish_events(EVENTS)
        assert shut.wait(timeout=60), "the worker did not send five emails"
        time.sleep(DB_DOWN_SECONDS)
        during = undelivered()
        database_gate.open()
        back = time.monotonic()
        try:
            wait_until(
                lambda: undelivered() == {"emails": 0, "webhooks": 0}, timeout=90, interval=0.5
            )
        except AssertionError:
            raise AssertionError(f"still undelivered 90 s after: {stuck()}") from None
        recovered = time.monotonic() - back
    finally:
        stop_process(worker)
        smtp.stop()

    assert during["emails"] + during["webhooks"] > 0  # the outage did cut the drain short
    assert recovered < RECOVERY_BOUND
    # At least once, with the same Message-ID; no webhook event lost.
    emails = {email.to_email: email.pk for email in OutboundEmail.objects.all()}
    assert {m["To"]: m["Message-ID"] for m in smtp.messages} == {
        to: f"<tack-{pk}@example.com>" for to, pk in emails.items()
    }
    accepted = Counter(post.event_id for post in receiver.accepted())
    assert set(accepted) == {
        str(event_id) for event_id in WebhookDelivery.objects.values_list("event_id", flat=True)
    }
    report(
        f"database refused for {DB_DOWN_SECONDS} s mid-drain ({during['emails']} emails and "
        f"{during['webhooks']} webhooks waiting): all {len(emails)} emails and "
        f"{len(accepted)} webhooks delivered {recovered:.1f} s after it was back "
        f"(by the tasks' own retries, no sweep); {len(smtp.messages) - len(emails)} emails "
        f"and {sum(accepted.values()) - len(accepted)} webhooks twice"
    )


def test_broker_lost_mid_drain_everything_is_delivered_within_a_minute_of_its_return(
    campaigns,  # noqa: F811
    broker,
    receiver,
    settings,
    tmp_path,
):
    settings.TACK_WINBACK_SEND_BATCH = 4
    settings.TACK_WINBACK_QUEUE_TARGET = 12
    one_campaign_due_now()
    for n in range(24):
        make_lost(reason="expectations", email=f"lost{n}@example.com")  # a receipt each too
    winback_services.outreach_plan()
    make_endpoint(url=receiver.url)
    smtp = SMTPServer(SlowSMTPHandler())
    smtp.start()
    env = tack_env(
        database_url=run_database_url(),
        redis_url=broker.url,
        smtp_port=smtp.port,
        TACK_WEBHOOK_TIMEOUT_SECONDS="2",
        TACK_WINBACK_SEND_BATCH="4",
        TACK_WINBACK_QUEUE_TARGET="12",
    )
    log = tmp_path / "worker.log"
    worker = start_worker(env, log)
    intervals = {
        name: django_settings.CELERY_BEAT_SCHEDULE[key]["schedule"].total_seconds()
        for name, key in (
            ("email", "core-sweep-outbound-email"),
            ("webhooks", "core-sweep-webhooks"),
            ("winback", "winback-dispatch-outreach"),
        )
    }
    sweeps = {
        "email": email_outbox.email_sweep,
        "webhooks": webhook_outbox.webhook_sweep,
        "winback": lambda: (
            winback_services.outreach_sync_channels(),
            winback_services.outreach_dispatch_due(),
        ),
    }
    due = {name: 0.0 for name in sweeps}
    restarts = 0

    def beat() -> None:
        """What beat runs, at its intervals; and a supervisor restarting a dead worker."""
        nonlocal worker, restarts
        if worker.poll() is not None:
            restarts += 1
            worker = start_worker(env, log)
        for name, sweep in sweeps.items():
            if time.monotonic() >= due[name]:
                sweep()
                due[name] = time.monotonic() + intervals[name]

    def done() -> bool:
        beat()
        return (
            undelivered() == {"emails": 0, "webhooks": 0}
            and not Outreach.objects.exclude(status=OutreachStatus.SENT).exists()
        )

    try:
        publish_events(EVENTS)
        wait_until(lambda: beat() or len(smtp.messages) >= 8, timeout=60, interval=0.2)
        broker.stop()
        stopped = time.monotonic()
        while time.monotonic() - stopped < 3:
            beat()  # publishing fails: rows are left for the sweeps
            time.sleep(0.2)
        during = undelivered()
        broker.start()  # empty
        back = time.monotonic()
        wait_until(done, timeout=90, interval=0.5)
        recovered = time.monotonic() - back
    finally:
        stop_process(worker)
        smtp.stop()

    assert recovered < RECOVERY_BOUND
    emails = OutboundEmail.objects.all()
    assert emails.count() == 2 * 24  # a receipt and a win-back email each
    assert Counter(m["Message-ID"] for m in smtp.messages) == Counter(
        f"<tack-{pk}@example.com>" for pk in emails.values_list("pk", flat=True)
    )
    assert set(post.event_id for post in receiver.accepted()) == {
        str(event_id) for event_id in WebhookDelivery.objects.values_list("event_id", flat=True)
    }
    report(
        f"broker lost mid-drain and back empty ({during['emails']} emails, "
        f"{during['webhooks']} webhooks waiting, 24 win-back contacts in all): everything delivered once {recovered:.1f} s after its return, "
        f"sweeps at beat's intervals {intervals} (worker restarted {restarts} times)"
    )
