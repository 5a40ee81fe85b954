"""The SMTP server is down, then refuses mail, then is back.

Customers leave (each gets a cancellation receipt) and win-back outreach is due, all sent by a
real worker process. While the mail server is down (connection refused) and then answering
451, every email is tried, kept with its error and retried with backoff — not failed, not
lost; the outreach stays handed to the channel. Once the server accepts mail again each email
arrives exactly once and the outreach is counted as contacted.
"""

from datetime import timedelta

import pytest
from django.utils import timezone

from core.enums import EmailStatus
from core.models import OutboundEmail
from core.outbox import email as email_outbox
from tests.conftest import CapturingSMTPHandler
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

LEAVERS = 4


def backoff_passes() -> None:
    """Time moves on past every email's next attempt (1, 2, 4 … minutes after a failure)."""
    OutboundEmail.objects.exclude(status=EmailStatus.SENT).update(next_attempt_at=timezone.now())


def test_email_waits_out_an_smtp_outage_and_is_sent_exactly_once_when_it_is_back(
    campaigns,  # noqa: F811
    broker,
    settings,
    tmp_path,
):
    settings.TACK_EMAIL_LEASE_SECONDS = 5
    one_campaign_due_now()
    smtp = SMTPServer(CapturingSMTPHandler())  # not started: the port refuses connections
    env = tack_env(database_url=run_database_url(), redis_url=broker.url, smtp_port=smtp.port)
    worker = start_worker(env, tmp_path / "worker.log")
    emails = OutboundEmail.objects.all()

    def attempted(times: int):
        def check() -> bool:
            email_outbox.email_sweep()
            winback_services.outreach_dispatch_due()
            return emails.count() == 2 * LEAVERS and all(
                (email.status, email.attempts) == (EmailStatus.PENDING, times)
                for email in emails.all()
            )

        wait_until(check, timeout=60, interval=0.5)

    try:
        for n in range(LEAVERS):
            make_lost(reason="expectations", email=f"smtp{n}@example.com")
        winback_services.outreach_plan()
        winback_services.outreach_dispatch_due()

        # 1. Down: nothing listens on the port.
        attempted(1)
        first_errors = set(emails.values_list("last_error", flat=True))
        retry_after = [email.next_attempt_at - timezone.now() for email in emails.all()]
        winback_services.outreach_sync_channels()
        assert set(Outreach.objects.values_list("status", flat=True)) == {OutreachStatus.QUEUED}

        # 2. Up, but answering "try again later".
        smtp.handler.refuse = True
        smtp.start()
        backoff_passes()
        attempted(2)
        second_errors = set(emails.values_list("last_error", flat=True))
        assert smtp.messages == []

        # 3. Back for real.
        smtp.handler.refuse = False
        backoff_passes()

        def delivered() -> bool:
            email_outbox.email_sweep()
            winback_services.outreach_sync_channels()
            return not emails.exclude(status=EmailStatus.SENT).exists() and not (
                Outreach.objects.exclude(status=OutreachStatus.SENT).exists()
            )

        wait_until(delivered, timeout=60, interval=0.5)
    finally:
        stop_process(worker)
        smtp.stop()

    assert all("ConnectionRefusedError" in error for error in first_errors), first_errors
    assert all(timedelta(seconds=30) < delay <= timedelta(minutes=1) for delay in retry_after)
    assert all("451" in error for error in second_errors), second_errors
    assert list(emails.values_list("attempts", flat=True).distinct()) == [3]
    message_ids = sorted(message["Message-ID"] for message in smtp.messages)
    assert message_ids == sorted(
        f"<tack-{pk}@example.com>" for pk in emails.values_list("pk", flat=True)
    )
    assert sorted(message["To"] for message in smtp.messages) == sorted(
        f"smtp{n}@example.com" for n in range(LEAVERS) for _ in ("receipt", "win-back")
    )
    assert Outreach.objects.filter(status=OutreachStatus.SENT).count() == LEAVERS
    report(
        f"smtp down: {2 * LEAVERS} emails ({LEAVERS} receipts, {LEAVERS} win-back) tried while "
        f"the server was down and while it refused (2 failed attempts each, kept pending with "
        f"backoff), then {len(smtp.messages)}/{2 * LEAVERS} received exactly once"
    )
