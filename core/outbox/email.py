"""Outbound email through the outbox: queue, send (one or a batch over one connection),
retry, sweep.

The delivery promise depends on the email's ``promise`` (README "Delivery"):

- **at most once** (marketing: win-back contacts, proactive offers): an email whose sender
  stopped between the claim and the record (the claim's lease ran out) may or may not have
  reached the server; it is never sent again but marked ``UNKNOWN`` ("outcome unknown"),
  shown and counted in the admin.
- **at least once** (service messages: receipts, undo and withdraw confirmations, payment
  notices): such an email is sent again, with the same ``Message-ID`` (``<tack-<pk>@…>``),
  so the receiving side can tell a repeat from a new message.

Either way an email the server refused (or that could not be handed over at all) is retried
with backoff and marked failed after ``TACK_EMAIL_MAX_ATTEMPTS``.
"""

import contextlib
import functools
import logging
import smtplib
import time
from datetime import datetime, timedelta

from django.conf import settings
from django.core.mail import EmailMultiAlternatives, get_connection
from django.db import connection, transaction
from django.utils import timezone

from core import outbox
from core.enums import DeliveryPromise, EmailStatus
from core.models import OutboundEmail
from core.sql import execute_prepared, insert_unless_taken

logger = logging.getLogger(__name__)

SEND_TASK = "core.send_outbound_email"
UNKNOWN_OUTCOME = (
    "Outcome unknown: the sender stopped after the claim and before it recorded the "
    "server's answer, or the record was lost (lease expired). Not sent again: this email is "
    "sent at most once."
)


def email_queue(
    *,
    dedupe_key: str,
    kind: str,
    to_email: str,
    subject: str,
    body_text: str,
    body_html: str = "",
    headers: dict[str, str] | None = None,
    customer=None,
    promise: str = DeliveryPromise.AT_LEAST_ONCE,
) -> OutboundEmail:
    """Write an email to the outbox (once per ``dedupe_key``) and send it after commit.

    ``promise``: at least once for a service message (the default), at most once for
    marketing. Side effects: one OutboundEmail row; a send task published after commit.
    """
    email = OutboundEmail(
        dedupe_key=dedupe_key,
        kind=kind,
        promise=promise,
        customer=customer,
        to_email=to_email,
        from_email=settings.DEFAULT_FROM_EMAIL,
        subject=subject.strip().replace("\n", " "),
        body_text=body_text,
        body_html=body_html,
        headers=headers or {},
        enqueued_at=timezone.now(),
    )
    if not insert_unless_taken(email, unique="dedupe_key"):
        return OutboundEmail.objects.get(dedupe_key=dedupe_key)
    outbox.enqueue_on_commit(SEND_TASK, email.pk, model=OutboundEmail)
    return email


def email_queue_many(*, emails: list[dict], seconds_each: float = 0.5) -> list[OutboundEmail]:
    """Write many emails (``email_queue``'s arguments each) to the outbox in one statement,
    for a caller that sends them itself with ``email_send_batch`` right after commit: no
    send task is published. The sweep leaves each to that caller until its turn should long
    have come (a few seconds plus ``seconds_each`` per email before it): if the caller dies,
    the sweep sends the rest soon after, each still once (the claim is conditional).
    An email whose ``dedupe_key`` is in the outbox already is returned as it is (the list
    keeps the order of ``emails``).
    """
    now = timezone.now()
    existing = OutboundEmail.objects.in_bulk(
        [email["dedupe_key"] for email in emails], field_name="dedupe_key"
    )
    new = [
        OutboundEmail(
            from_email=settings.DEFAULT_FROM_EMAIL,
            next_attempt_at=now + timedelta(seconds=2 + index * seconds_each),
            **{**email, "subject": email["subject"].strip().replace("\n", " ")},
        )
        for index, email in enumerate(emails)
        if email["dedupe_key"] not in existing
    ]
    existing.update((email.dedupe_key, email) for email in OutboundEmail.objects.bulk_create(new))
    return [existing[email["dedupe_key"]] for email in emails]


def email_send_batch(*, emails: list[OutboundEmail], time_budget: float) -> tuple[int, int]:
    """Send these outbox emails over one SMTP connection: each is claimed (a conditional
    update, as in ``email_send``; an email never tried yet may be taken before the time
    ``email_queue_many`` left it to this caller), sent, and its outcome recorded in its own
    short write before the next, so a crash loses none and leaves at most the one in flight
    to its promise. After a failure the connection is opened again for the next email.
    Emails not reached within ``time_budget`` seconds, or left when this call fails, are
    handed to the sweep at once. Returns (sent, failed).
    """
    deadline = time.monotonic() + time_budget
    sent = failed = 0
    connection = get_connection()
    index = 0
    try:
        for index, email in enumerate(emails):  # noqa: B007 - read in finally
            if time.monotonic() > deadline:
                break
            email.claimed_at = _email_claim(email.pk, early_first_attempt=True)
            if email.claimed_at is None:
                continue
            email.attempts += 1
            # A no-op while open; opens again after a failure closed it (if that fails
            # too, email_deliver records it).
            with contextlib.suppress(smtplib.SMTPException, OSError):
                connection.open()
            if email_deliver(email=email, connection=connection):
                sent += 1
            else:
                failed += 1
                connection.close()
        else:
            index = len(emails)
    finally:
        connection.close()
        if index < len(emails):
            with contextlib.suppress(Exception):  # the sweep finds them at their time anyway
                OutboundEmail.objects.filter(
                    pk__in=[e.pk for e in emails[index:]], status=EmailStatus.PENDING, attempts=0
                ).update(next_attempt_at=timezone.now())
    return sent, failed


@functools.cache
def _table_sql(statement: str) -> str:
    """``statement`` with OutboundEmail's table and columns (``{table}``, ``{field}``) quoted."""
    quote = connection.ops.quote_name
    columns = {f.name: quote(f.column) for f in OutboundEmail._meta.concrete_fields}
    return statement.format(table=quote(OutboundEmail._meta.db_table), **columns)


# ``outbox.claim`` for the email table, as one statement prepared per connection: a drain
# claims hundreds of emails a second, and building the ORM's UPDATE cost the worker about
# 0.4 ms of CPU each time (about 0.05 ms prepared). Same rule: PENDING → SENDING only if
# still pending and due, the claim's time and one more attempt.
_CLAIM = (
    "UPDATE {table} SET {status} = %s, {claimed_at} = %s, {attempts} = {attempts} + 1 "
    "WHERE {id} = %s AND {status} = %s AND ({next_attempt_at} <= %s OR (%s AND {attempts} = 0))"
)
# The outcome of a send the server accepted, only while the claim is still ours.
_SENT = (
    "UPDATE {table} SET {status} = %s, {sent_at} = %s, {last_error} = '' "
    "WHERE {id} = %s AND {status} = %s AND {claimed_at} = %s"
)


def _as_saved(*values: tuple[str | None, object]) -> list:
    """A statement's parameters, each (field name, value) as the field saves it (no name: as
    it is), so the same statement runs on the embedded SQLite of `make run` too."""
    get = OutboundEmail._meta.get_field
    return [
        get(name).get_db_prep_save(value, connection) if name else value for name, value in values
    ]


def _email_claim(email_id: int, *, early_first_attempt: bool = False) -> datetime | None:
    """Take a pending email that is due (or, with ``early_first_attempt``, never tried yet)
    for this process: a conditional update, so two senders never both send it. Returns the
    claim's time, or None when someone else has it."""
    now = timezone.now()
    params = _as_saved(
        ("status", EmailStatus.SENDING),
        ("claimed_at", now),
        ("id", email_id),
        ("status", EmailStatus.PENDING),
        ("next_attempt_at", now),
        (None, early_first_attempt),
    )
    with connection.cursor() as cursor:
        execute_prepared(cursor, _table_sql(_CLAIM), params)
        return now if cursor.rowcount == 1 else None


def _record_sent(email: OutboundEmail) -> int:
    """Mark the email sent. The write does not wait for PostgreSQL's disk: a sender waited
    on that flush twice per email (the claim and this), which bounded a drain more than its
    CPU did. Losing this record needs PostgreSQL itself to crash (or fail over) right after
    it; the email
    is then still claimed, and the lease settles it by its promise, as for a sender that
    stopped before recording (README "Delivery"). The claim does wait: an at-most-once
    email must never be sent under a claim that could be lost."""
    params = _as_saved(
        ("status", EmailStatus.SENT),
        ("sent_at", timezone.now()),
        ("id", email.pk),
        ("status", EmailStatus.SENDING),
        ("claimed_at", email.claimed_at),
    )
    with connection.cursor() as cursor:
        execute_prepared(cursor, _table_sql(_SENT), params, without_waiting_for_disk=True)
        return cursor.rowcount


def email_send(*, email_id: int, connection=None) -> bool:
    """Send one outbox email if it is due and nobody else has claimed it.

    Returns True if this call sent it. A failure is recorded and retried with backoff
    by the sweep, and marked failed after ``TACK_EMAIL_MAX_ATTEMPTS``. The row is read
    before the claim, so that after the claim nothing but the record touches the database.
    """
    email = OutboundEmail.objects.filter(pk=email_id, status=EmailStatus.PENDING).first()
    if email is None:
        return False
    email.claimed_at = _email_claim(email_id)
    if email.claimed_at is None:
        return False
    email.attempts += 1
    return email_deliver(email=email, connection=connection)


def message_id(email: OutboundEmail) -> str:
    """The same for every copy of the email, so a repeat of an at-least-once send can be
    recognised."""
    domain = settings.DEFAULT_FROM_EMAIL.rsplit("@", 1)[-1].strip(">") or "tack.local"
    return f"<tack-{email.pk}@{domain}>"


def email_deliver(*, email: OutboundEmail, connection=None) -> bool:
    """Hand an email this process has claimed (SENDING) to the mail server, then record the
    outcome at once in its own short write (``outbox.record``). Between the server's
    acceptance and that write the outcome is known only here: a crash in that window leaves
    it to the email's promise when the lease runs out (``email_sweep``). Returns True if
    the server accepted it.

    ``connection`` is a mail backend the caller keeps open across many emails; after a
    failure the caller should close it (the server may have dropped it).
    """
    message = EmailMultiAlternatives(
        subject=email.subject,
        body=email.body_text,
        from_email=email.from_email,
        to=[email.to_email],
        headers={"Message-ID": message_id(email), **email.headers},
        connection=connection,
    )
    if email.body_html:
        message.attach_alternative(email.body_html, "text/html")
    # Only while the claim is still ours: the sweep may have settled it meanwhile.
    mine = OutboundEmail.objects.filter(
        pk=email.pk, status=EmailStatus.SENDING, claimed_at=email.claimed_at
    )
    what = f"email {email.pk}"
    try:
        message.send()
    except (smtplib.SMTPException, OSError) as exc:
        gave_up = email.attempts >= settings.TACK_EMAIL_MAX_ATTEMPTS
        fields = outbox.release_fields(
            status=EmailStatus.FAILED if gave_up else EmailStatus.PENDING,
            next_attempt_at=timezone.now() + retry_delay(email.attempts),
            last_error=f"{type(exc).__name__}: {exc}"[:2000],
        )
        outbox.record(lambda: mine.update(**fields), what=what)
        # The exception's text names the recipient: the log gets its type and SMTP code only
        # (erasure reaches the row's last_error, not the worker's log).
        logger.warning(
            "email %s attempt %s failed: %s %s",
            email.pk,
            email.attempts,
            type(exc).__name__,
            getattr(exc, "smtp_code", ""),
        )
        return False
    outbox.record(lambda: _record_sent(email), what=what)
    return True


def retry_delay(attempts: int) -> timedelta:
    return outbox.backoff(attempts, base=60, cap=3600)


def email_retry(*, email_id: int) -> bool:
    """Put a failed email back in the queue (a manager's "send again"). An email whose
    outcome is unknown is not sent again from here: it may have arrived."""
    with transaction.atomic():
        updated = OutboundEmail.objects.filter(pk=email_id, status=EmailStatus.FAILED).update(
            status=EmailStatus.PENDING,
            next_attempt_at=timezone.now(),
            attempts=0,
            enqueued_at=timezone.now(),
        )
        if updated:
            outbox.enqueue_on_commit(SEND_TASK, email_id, model=OutboundEmail)
    return bool(updated)


def email_sweep(*, batch_size: int = 500, now: datetime | None = None) -> list[int]:
    """Settle claims whose lease ran out and publish what is due and not in flight.

    A claim older than ``TACK_EMAIL_LEASE_SECONDS`` means the sender stopped before it
    recorded the outcome: an at-most-once email becomes UNKNOWN, an at-least-once email
    goes back to pending and is sent again (same Message-ID). Rows published within the
    requeue window are left alone so a backlog is not published twice, unless the broker
    restarted empty since (``outbox.requeue_if_broker_restarted``).
    """
    now = now or timezone.now()
    lease = settings.TACK_EMAIL_LEASE_SECONDS
    expired = outbox.expired_claims(OutboundEmail, lease_seconds=lease, now=now)
    expired.filter(promise=DeliveryPromise.AT_MOST_ONCE).update(
        status=EmailStatus.UNKNOWN, enqueued_at=None, last_error=UNKNOWN_OUTCOME
    )
    expired.update(status=EmailStatus.PENDING, enqueued_at=None)
    pending = OutboundEmail.objects.filter(status=EmailStatus.PENDING)
    outbox.requeue_if_broker_restarted("email", pending)
    requeue = settings.TACK_EMAIL_REQUEUE_SECONDS or max(60, lease // 2)
    return outbox.claim_and_enqueue(
        pending.filter(next_attempt_at__lte=now).order_by("next_attempt_at"),
        task_name=SEND_TASK,
        now=now,
        requeue_before=now - timedelta(seconds=requeue),
        batch_size=batch_size,
    )
