"""Platform writes: API keys, idempotent API answers and the outbound email outbox."""

import contextlib
import hashlib
import json
import logging
import secrets
import smtplib
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.db import IntegrityError, transaction
from django.db.models import F, Q
from django.utils import timezone

from core.enums import ApiScope, EmailStatus
from core.models import ApiKey, IdempotencyRecord, OutboundEmail
from core.tasking import claim_and_enqueue, enqueue_on_commit

logger = logging.getLogger(__name__)

API_KEY_PREFIX = "tack"


def _hash_api_key(raw_key: str) -> str:
    return hashlib.sha256(raw_key.encode()).hexdigest()


@transaction.atomic
def api_key_create(
    *, name: str, scopes: list[str], expires_at=None, created_by=None
) -> tuple[ApiKey, str]:
    """Create a key with ``scopes`` (``ApiScope`` values) and return it with its secret,
    which is shown once and never stored."""
    unknown = set(scopes) - set(ApiScope.values)
    if unknown:
        raise ValueError(f"Unknown API scopes: {sorted(unknown)}")
    prefix = secrets.token_hex(4)
    raw_key = f"{API_KEY_PREFIX}_{prefix}_{secrets.token_urlsafe(32)}"
    api_key = ApiKey.objects.create(
        name=name,
        prefix=prefix,
        key_hash=_hash_api_key(raw_key),
        scopes=[scope for scope in ApiScope.values if scope in scopes],
        expires_at=expires_at,
        created_by=created_by,
    )
    return api_key, raw_key


def api_key_authenticate(*, raw_key: str) -> ApiKey | None:
    """The active (not revoked, not expired) key matching ``raw_key``; notes when it was last
    used (once a minute at most)."""
    parts = raw_key.split("_", 2)
    if len(parts) != 3 or parts[0] != API_KEY_PREFIX:
        return None
    api_key = ApiKey.objects.filter(prefix=parts[1], revoked_at=None).first()
    if api_key is None or not secrets.compare_digest(api_key.key_hash, _hash_api_key(raw_key)):
        return None
    if not api_key.is_active:
        return None
    now = timezone.now()
    if api_key.last_used_at is None or now - api_key.last_used_at > timedelta(minutes=1):
        ApiKey.objects.filter(pk=api_key.pk).update(last_used_at=now)
    return api_key


# --- Idempotency -------------------------------------------------------------


class IdempotencyConflict(Exception):
    """The key was used before with a different request."""


@dataclass(frozen=True)
class StoredResponse:
    status: int
    body: Any
    replayed: bool


def request_fingerprint(*, method: str, path: str, body: Any) -> str:
    canonical = json.dumps([method, path, body], sort_keys=True, default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()


def idempotent_call(
    *,
    api_key: ApiKey,
    key: str,
    fingerprint: str,
    call: Callable[[], tuple[int, Any]],
) -> StoredResponse:
    """Run ``call`` once per (api key, idempotency key) and store its answer.

    The record is inserted in the same transaction as the call's writes, so a concurrent
    request with the same key waits on the unique index and then replays the stored answer;
    a call that raises leaves no record, so the client may retry it.
    """
    with transaction.atomic():
        try:
            with transaction.atomic():
                record = IdempotencyRecord.objects.create(
                    api_key=api_key, key=key, fingerprint=fingerprint
                )
        except IntegrityError:
            record = None
        if record is None:
            existing = IdempotencyRecord.objects.get(api_key=api_key, key=key)
            if existing.fingerprint != fingerprint:
                raise IdempotencyConflict
            return StoredResponse(existing.response_status, existing.response_body, True)
        status, body = call()
        IdempotencyRecord.objects.filter(pk=record.pk).update(
            response_status=status, response_body=body
        )
        return StoredResponse(status, body, False)


def idempotency_records_purge(*, now=None) -> int:
    cutoff = (now or timezone.now()) - timedelta(hours=settings.TACK_IDEMPOTENCY_RETENTION_HOURS)
    deleted, _ = IdempotencyRecord.objects.filter(created_at__lt=cutoff).delete()
    return deleted


# --- Outbound email ----------------------------------------------------------


@transaction.atomic
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
) -> OutboundEmail:
    """Write an email to the outbox (once per ``dedupe_key``) and send it after commit.

    Side effects: one OutboundEmail row; a send task published after commit.
    """
    email, created = OutboundEmail.objects.get_or_create(
        dedupe_key=dedupe_key,
        defaults={
            "kind": kind,
            "customer": customer,
            "to_email": to_email,
            "from_email": settings.DEFAULT_FROM_EMAIL,
            "subject": subject.strip().replace("\n", " "),
            "body_text": body_text,
            "body_html": body_html,
            "headers": headers or {},
            "enqueued_at": timezone.now(),
        },
    )
    if created:
        from core.tasks import send_outbound_email

        enqueue_on_commit(send_outbound_email, email.pk, model=OutboundEmail)
    return email


def email_queue_many(*, emails: list[dict], seconds_each: float = 0.5) -> list[OutboundEmail]:
    """Write many emails (``email_queue``'s arguments each) to the outbox in one statement,
    for a caller that sends them itself with ``email_send_batch`` right after commit: no
    send task is published. The sweep leaves each to that caller until its turn should long
    have come (a few seconds plus ``seconds_each`` per email before it): if the caller dies,
    the sweep sends the rest soon after, each still exactly once (the claim is conditional).
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
    """Send these outbox emails over one SMTP connection, each at most once: each is claimed
    (a conditional update, as in ``email_send``; an email never tried yet may be taken
    before the time ``email_queue_many`` left it to this caller), sent, and its outcome
    recorded in its own short write before the next, so a crash loses none and repeats at
    most the one in flight. After a failure the connection is opened again for the next
    email. Emails not reached within ``time_budget`` seconds are handed to the sweep at
    once. Returns (sent, failed).
    """
    from django.core.mail import get_connection

    deadline = time.monotonic() + time_budget
    sent = failed = 0
    connection = get_connection()
    try:
        for index, email in enumerate(emails):
            if time.monotonic() > deadline:
                OutboundEmail.objects.filter(
                    pk__in=[e.pk for e in emails[index:]], status=EmailStatus.PENDING, attempts=0
                ).update(next_attempt_at=timezone.now())
                break
            if not _email_claim(email.pk, early_first_attempt=True):
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
    finally:
        connection.close()
    return sent, failed


def _retry_delay(attempts: int) -> timedelta:
    return timedelta(minutes=min(2 ** (attempts - 1), 60))


def _email_claim(email_id: int, *, early_first_attempt: bool = False) -> bool:
    """Take a pending email that is due (or, with ``early_first_attempt``, never tried yet)
    for this process: a conditional update, so two senders never both send it."""
    now = timezone.now()
    due = Q(next_attempt_at__lte=now)
    if early_first_attempt:
        due |= Q(attempts=0)
    return bool(
        OutboundEmail.objects.filter(due, pk=email_id, status=EmailStatus.PENDING).update(
            status=EmailStatus.SENDING, claimed_at=now, attempts=F("attempts") + 1
        )
    )


def email_send(*, email_id: int, connection=None) -> bool:
    """Send one outbox email if it is due and nobody else has claimed it.

    Returns True if this call sent it. A failure is recorded and retried with backoff
    by the sweep, and marked failed after ``TACK_EMAIL_MAX_ATTEMPTS``.
    """
    if not _email_claim(email_id):
        return False
    return email_deliver(email=OutboundEmail.objects.get(pk=email_id), connection=connection)


def email_deliver(*, email: OutboundEmail, connection=None) -> bool:
    """Hand an email this process has claimed (SENDING) to the mail server, then record the
    outcome at once in its own short write, so a crash right after loses or repeats at most
    this one message. Returns True if the server accepted it.

    ``connection`` is a mail backend the caller keeps open across many emails; after a
    failure the caller should close it (the server may have dropped it).
    """
    domain = settings.DEFAULT_FROM_EMAIL.rsplit("@", 1)[-1].strip(">") or "tack.local"
    message = EmailMultiAlternatives(
        subject=email.subject,
        body=email.body_text,
        from_email=email.from_email,
        to=[email.to_email],
        headers={"Message-ID": f"<tack-{email.pk}@{domain}>", **email.headers},
        connection=connection,
    )
    if email.body_html:
        message.attach_alternative(email.body_html, "text/html")
    try:
        message.send()
    except (smtplib.SMTPException, OSError) as exc:
        failed = email.attempts >= settings.TACK_EMAIL_MAX_ATTEMPTS
        OutboundEmail.objects.filter(pk=email.pk, status=EmailStatus.SENDING).update(
            status=EmailStatus.FAILED if failed else EmailStatus.PENDING,
            next_attempt_at=timezone.now() + _retry_delay(email.attempts),
            enqueued_at=None,
            last_error=f"{type(exc).__name__}: {exc}"[:2000],
        )
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
    OutboundEmail.objects.filter(pk=email.pk, status=EmailStatus.SENDING).update(
        status=EmailStatus.SENT, sent_at=timezone.now(), last_error=""
    )
    return True


def email_retry(*, email_id: int) -> bool:
    """Put a failed email back in the queue (a manager's "send again")."""
    with transaction.atomic():
        updated = OutboundEmail.objects.filter(pk=email_id, status=EmailStatus.FAILED).update(
            status=EmailStatus.PENDING,
            next_attempt_at=timezone.now(),
            attempts=0,
            enqueued_at=timezone.now(),
        )
        if updated:
            from core.tasks import send_outbound_email

            enqueue_on_commit(send_outbound_email, email_id, model=OutboundEmail)
    return bool(updated)


def email_sweep(*, batch_size: int = 500, now=None) -> list[int]:
    """Re-enqueue due emails whose task was lost; release claims of crashed workers.

    A claim older than the lease means the worker died before recording the outcome; the
    email goes back to pending (at-least-once for that narrow window, exactly-once otherwise).
    Rows enqueued recently are left alone so a backlog is not published twice.
    """
    now = now or timezone.now()
    lease = timedelta(seconds=settings.TACK_EMAIL_LEASE_SECONDS)
    OutboundEmail.objects.filter(status=EmailStatus.SENDING, claimed_at__lt=now - lease).update(
        status=EmailStatus.PENDING, enqueued_at=None
    )
    from core.tasks import send_outbound_email

    return claim_and_enqueue(
        OutboundEmail.objects.filter(status=EmailStatus.PENDING, next_attempt_at__lte=now).order_by(
            "next_attempt_at"
        ),
        task=send_outbound_email,
        now=now,
        requeue_before=now - timedelta(seconds=max(60, settings.TACK_EMAIL_LEASE_SECONDS // 2)),
        batch_size=batch_size,
    )
