from datetime import timedelta

import pytest
from django.utils import timezone

from core.enums import DeliveryPromise, EmailStatus
from core.models import OutboundEmail
from core.outbox import email as email_outbox

pytestmark = pytest.mark.django_db


def queue(key="k1"):
    return email_outbox.email_queue(
        dedupe_key=key, kind="test", to_email="ole@example.com", subject="Takk", body_text="Hei"
    )


def test_email_queue_once_per_dedupe_key():
    first, second = queue(), queue()
    assert first.pk == second.pk
    assert OutboundEmail.objects.count() == 1


def test_email_send_delivers_once_even_if_called_twice(smtp_server):
    email = queue()
    assert email_outbox.email_send(email_id=email.pk) is True
    assert email_outbox.email_send(email_id=email.pk) is False
    assert len(smtp_server.messages) == 1
    email.refresh_from_db()
    assert (email.status, email.attempts) == (EmailStatus.SENT, 1)


def test_email_send_failure_is_retried_with_backoff_then_marked_failed(
    smtp_server, settings, django_capture_on_commit_callbacks
):
    settings.TACK_EMAIL_MAX_ATTEMPTS = 3
    smtp_server.refuse = True
    email = queue()

    assert email_outbox.email_send(email_id=email.pk) is False
    email.refresh_from_db()
    assert (email.status, email.attempts) == (EmailStatus.PENDING, 1)
    assert "451" in email.last_error
    assert email.next_attempt_at > timezone.now() + timedelta(seconds=50)
    # Not due yet: another call does nothing.
    assert email_outbox.email_send(email_id=email.pk) is False

    for _ in range(2):
        OutboundEmail.objects.filter(pk=email.pk).update(next_attempt_at=timezone.now())
        email_outbox.email_send(email_id=email.pk)
    email.refresh_from_db()
    assert (email.status, email.attempts) == (EmailStatus.FAILED, 3)
    assert smtp_server.messages == []

    smtp_server.refuse = False
    with django_capture_on_commit_callbacks(execute=True):
        assert email_outbox.email_retry(email_id=email.pk) is True
    email.refresh_from_db()
    assert (email.status, len(smtp_server.messages)) == (EmailStatus.SENT, 1)


def test_email_sweep_requeues_lost_rows_and_releases_dead_claims(settings):
    settings.TACK_EMAIL_LEASE_SECONDS = 120
    now = timezone.now() + timedelta(seconds=1)
    lost = queue("lost")
    OutboundEmail.objects.filter(pk=lost.pk).update(enqueued_at=now - timedelta(minutes=5))
    fresh = queue("fresh")  # enqueued just now: its task is still in the queue
    OutboundEmail.objects.filter(pk=fresh.pk).update(next_attempt_at=now - timedelta(seconds=1))
    dead = queue("dead")
    OutboundEmail.objects.filter(pk=dead.pk).update(
        status=EmailStatus.SENDING, claimed_at=now - timedelta(minutes=3)
    )
    running = queue("running")
    OutboundEmail.objects.filter(pk=running.pk).update(
        status=EmailStatus.SENDING, claimed_at=now - timedelta(seconds=10)
    )

    swept = email_outbox.email_sweep(now=now)

    assert sorted(swept) == sorted([lost.pk, dead.pk])
    assert fresh.pk not in swept
    assert OutboundEmail.objects.get(pk=running.pk).status == EmailStatus.SENDING
    # A second sweep right away finds nothing new to publish.
    assert email_outbox.email_sweep(now=now) == []


def test_email_sweep_settles_an_expired_claim_by_the_email_promise(
    settings, django_capture_on_commit_callbacks
):
    settings.TACK_EMAIL_LEASE_SECONDS = 120
    now = timezone.now() + timedelta(seconds=1)
    marketing = email_outbox.email_queue(
        dedupe_key="offer",
        kind="winback",
        to_email="ole@example.com",
        subject="Kom tilbake",
        body_text="Hei",
        promise=DeliveryPromise.AT_MOST_ONCE,
    )
    receipt = queue("receipt")
    # Both were being sent when their worker was killed: did the server get them?
    OutboundEmail.objects.update(
        status=EmailStatus.SENDING, claimed_at=now - timedelta(minutes=3), attempts=1
    )

    with django_capture_on_commit_callbacks(execute=True):
        email_outbox.email_sweep(now=now)

    marketing.refresh_from_db()
    receipt.refresh_from_db()
    assert (marketing.status, marketing.last_error) == (
        EmailStatus.UNKNOWN,
        email_outbox.UNKNOWN_OUTCOME,
    )
    assert (receipt.status, receipt.attempts) == (EmailStatus.SENT, 2)  # sent again ...
    assert email_outbox.email_send(email_id=marketing.pk) is False  # ... the marketing never
    assert email_outbox.email_retry(email_id=marketing.pk) is False


def test_email_sent_again_carries_the_same_message_id(smtp_server, settings):
    email = queue()
    assert email_outbox.email_send(email_id=email.pk) is True
    OutboundEmail.objects.filter(pk=email.pk).update(status=EmailStatus.PENDING)

    assert email_outbox.email_send(email_id=email.pk) is True

    ids = [message["Message-ID"] for message in smtp_server.messages]
    assert ids == [f"<tack-{email.pk}@example.com>"] * 2


def test_outbound_email_admin_counts_outcome_unknown(client, manager):
    for key in ("a", "b", "c"):
        queue(key)
    OutboundEmail.objects.filter(dedupe_key__in=["a", "b"]).update(status=EmailStatus.UNKNOWN)
    client.force_login(manager)

    listing = client.get("/admin/core/outboundemail/").content.decode()
    unknown = client.get("/admin/core/outboundemail/?status=unknown").context["cl"]

    assert "Outcome unknown (2)" in listing
    assert sorted(unknown.queryset.values_list("dedupe_key", flat=True)) == ["a", "b"]
