"""Making planned contacts, each at most once.

A periodic sweep (and every finished batch) claims due rows with ``SELECT … FOR UPDATE SKIP
LOCKED``, up to a target number in flight, and enqueues one short task per batch of rows;
the task re-checks consent and suppression, applies the frequency cap under a lock on the
customers, and hands the messages to their channel with a conditional update, so a retried
task, a duplicated message or a second worker can never contact anyone twice."""

import time
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Max, OuterRef, Q, Subquery
from django.utils import timezone, translation
from django.utils.translation import gettext_lazy as _

from cancellations.enums import ChurnGroup
from core.changes import changes_mark
from core.enums import ChangeKind, DeliveryPromise, EmailStatus
from core.errors import ConflictError
from core.models import OutboundEmail
from core.outbox import claim_and_enqueue, requeue_if_broker_restarted
from core.outbox.email import email_queue, email_queue_many, email_send_batch
from core.sql import update_from_values
from desk import services as desk_services
from desk.enums import CallbackSource, CallbackStatus
from desk.models import CallbackRequest
from subscriptions.actors import Actor
from subscriptions.enums import Channel
from subscriptions.models import Customer
from winback import links, messages, policy
from winback.enums import (
    IN_FLIGHT,
    OutreachChannel,
    OutreachStatus,
)
from winback.models import Outreach
from winback.selectors import skip_reason, suppressed_among
from winback.services.comebacks import comeback_record

SEND_BATCH_TASK = "winback.send_outreach_batch"

# What an agent should talk about, by churn group (the domain brief's win-back approach).
CALL_HINTS = {
    ChurnGroup.UNINTENTIONALLY_PUSHED: "We failed them. Apologise, then tell what has improved "
    "since they left.",
    ChurnGroup.PULLED_AWAY: "A competitor's offering attracted them. Show our advantages and "
    "what is new.",
    ChurnGroup.BOUGHT_AWAY: "A competitor's price bought them; their contract may be ending. "
    "Make the price offer.",
    ChurnGroup.SELF_SWITCHER: "They no longer needed us. Ask gently whether their situation "
    "has changed.",
    ChurnGroup.DELIBERATELY_PUSHED: "We chose to let them go. Only call if the campaign says so.",
}


def outreach_dispatch_due(*, now: datetime | None = None, batch_size: int = 0) -> list[int]:
    """Claim due rows and enqueue send tasks for them (after commit), each task a batch of
    up to TACK_WINBACK_SEND_BATCH rows sent over one SMTP connection.

    Backpressure: only enough rows are claimed to fill the queue up to
    TACK_WINBACK_QUEUE_TARGET rows in flight (claimed, not yet handled), so a backlog waits
    in PostgreSQL, not in Redis; a finished batch calls this again to top the queue up.
    Only due rows are claimed, never future ones. Rows enqueued within
    TACK_WINBACK_REQUEUE_SECONDS are left alone; older ones whose task never ran (worker
    killed) are enqueued again. A broker that restarted empty (Redis flushed or restarted)
    is noticed at once (``requeue_if_broker_restarted``): its rows no longer count as
    in flight and are enqueued again by this call, so the queue is rebuilt from PostgreSQL.
    """
    now = now or timezone.now()
    requeue_before = now - timedelta(seconds=settings.TACK_WINBACK_REQUEUE_SECONDS)
    due = Outreach.objects.filter(status=OutreachStatus.SCHEDULED, due_at__lte=now)
    requeue_if_broker_restarted(
        "winback-outreach", Outreach.objects.filter(status=OutreachStatus.SCHEDULED)
    )
    if not batch_size:
        in_flight = due.filter(enqueued_at__gte=requeue_before).count()
        batch_size = settings.TACK_WINBACK_QUEUE_TARGET - in_flight
        if batch_size <= 0:
            return []
    return claim_and_enqueue(
        due.order_by("due_at", "pk"),
        task_name=SEND_BATCH_TASK,
        now=now,
        requeue_before=requeue_before,
        batch_size=batch_size,
        per_task=settings.TACK_WINBACK_SEND_BATCH,
    )


@dataclass(frozen=True)
class SendResult:
    status: str
    detail: str = ""


def outreach_send(*, outreach_id: int, now: datetime | None = None) -> SendResult:
    """Make one planned contact, at most once (see ``_outreach_make``); its email is sent by
    the outbox's own task after commit."""
    results, _ = _outreach_make([outreach_id], now or timezone.now(), send_here=False)
    return results[outreach_id]


@dataclass(frozen=True)
class BatchResult:
    sent: int = 0
    failed: int = 0
    other: int = 0


def outreach_send_batch(*, outreach_ids: list[int], now: datetime | None = None) -> BatchResult:
    """Make a batch of planned contacts, each at most once (one transaction, a few set-based
    queries: see ``_outreach_make``), then send the emails over one SMTP connection.

    After commit the outbox sends the emails one by one over one connection, each claimed
    and marked sent in its own short write (``email_send_batch``): a crash leaves the email
    in flight to the outbox lease and the others pending for the outbox sweep, as for any
    outbox email. Rows already handled (a redelivered or retried task) are left alone, but
    their emails that were never tried are sent.
    """
    now = now or timezone.now()
    started = time.monotonic()
    results, emails = _outreach_make(outreach_ids, now, send_here=True)
    gone = [pk for pk, result in results.items() if result.status == "gone"]
    if gone:  # a task run again (it failed mid-batch): send what the first run left
        emails += OutboundEmail.objects.filter(
            pk__in=Outreach.objects.filter(pk__in=gone).values("email_id"),
            status=EmailStatus.PENDING,
            attempts=0,
        ).order_by("next_attempt_at")
    budget = settings.TACK_WINBACK_BATCH_SECONDS - (time.monotonic() - started)
    sent, failed = email_send_batch(emails=emails, time_budget=budget)
    return BatchResult(sent, failed, len(outreach_ids) - sent - failed)


@transaction.atomic
def _outreach_make(
    outreach_ids: list[int], now: datetime, *, send_here: bool
) -> tuple[dict[int, SendResult], list[OutboundEmail]]:
    """Make the contacts in ``outreach_ids`` that may be made now.

    Under locks on the customers (so two campaigns' contacts cannot both pass the cap; taken
    in pk order, so two batches sharing customers cannot deadlock) it re-checks consent,
    suppression and comeback, postpones a contact the frequency cap does not allow yet, and
    otherwise claims the row (SCHEDULED → QUEUED) in the same transaction as the email in
    the outbox or the call in the agents' queue. With ``send_here`` the caller sends the
    emails itself right after commit (``email_queue_many``); else each is published to the
    outbox's send task. Returns each row's outcome and the outbox emails written.
    """
    results = dict.fromkeys(outreach_ids, SendResult("gone"))
    customer_ids = set(
        Outreach.objects.filter(pk__in=outreach_ids, status=OutreachStatus.SCHEDULED).values_list(
            "customer_id", flat=True
        )
    )
    customers = {
        customer.pk: customer
        for customer in Customer.objects.select_for_update()
        .filter(pk__in=customer_ids)
        .order_by("pk")
    }
    rows = list(
        Outreach.objects.select_for_update(of=("self",))
        .select_related("campaign", "lost_customer__subscription", "lost_customer__reason")
        .filter(pk__in=outreach_ids, status=OutreachStatus.SCHEDULED, customer_id__in=customers)
        .order_by("due_at", "pk")
    )
    suppressed = suppressed_among(list(customers.values()))
    cap = timedelta(days=settings.TACK_WINBACK_FREQUENCY_CAP_DAYS)
    last_contact = dict(
        Outreach.objects.filter(
            customer_id__in=customers, status__in=IN_FLIGHT, contacted_at__gt=now - cap
        )
        .values("customer_id")
        .annotate(last=Max("contacted_at"))
        .values_list("customer_id", "last")
    )
    not_due, skipped, claimed = [], defaultdict(list), []
    for outreach in rows:
        customer = customers[outreach.customer_id]
        if outreach.due_at > now:
            not_due.append(outreach.pk)
            results[outreach.pk] = SendResult("not_due")
            continue
        reason = skip_reason(
            outreach=outreach, customer=customer, now=now, suppressed=customer.pk in suppressed
        )
        if reason:
            skipped[reason].append(outreach.pk)
            results[outreach.pk] = SendResult("skipped", reason)
            continue
        next_at = policy.postponed_until(
            last_contact_at=last_contact.get(customer.pk), now=now, cap=cap
        )
        if next_at is not None:
            Outreach.objects.filter(pk=outreach.pk).update(due_at=next_at, enqueued_at=None)
            results[outreach.pk] = SendResult("postponed", next_at.isoformat())
            continue
        last_contact[customer.pk] = now  # a second row for this customer waits for the cap
        outreach.customer = outreach.lost_customer.customer = customer
        claimed.append(outreach)
        results[outreach.pk] = SendResult("queued")
    Outreach.objects.filter(pk__in=not_due).update(enqueued_at=None)
    for reason, ids in skipped.items():
        Outreach.objects.filter(pk__in=ids).update(
            status=OutreachStatus.SKIPPED, skip_reason=reason
        )
    Outreach.objects.filter(pk__in=[outreach.pk for outreach in claimed]).update(
        status=OutreachStatus.QUEUED, contacted_at=now
    )
    changes_mark(kind=ChangeKind.LOST_CUSTOMER, ids=[o.lost_customer_id for o in claimed])
    by_email = [o for o in claimed if o.channel == OutreachChannel.EMAIL]
    for outreach in claimed:
        if outreach.channel != OutreachChannel.EMAIL:
            _queue_call(outreach, now)
    outbox = [_outbox_email(outreach) for outreach in by_email]
    if send_here:
        emails = email_queue_many(emails=outbox)
    else:
        emails = [email_queue(**email) for email in outbox]
    for outreach, email in zip(by_email, emails, strict=True):
        outreach.email, outreach.language = email, outreach.customer.locale or "en"
    update_from_values(
        Outreach,
        fields=["email", "language"],
        rows=[(o.pk, o.email_id, o.language) for o in by_email],
    )
    return results, emails


def _outbox_email(outreach: Outreach) -> dict:
    """The outbox email of this contact (``email_queue``'s arguments), rendered."""
    customer, lost, campaign = outreach.customer, outreach.lost_customer, outreach.campaign
    unsubscribe = links.unsubscribe_url(customer=customer)
    subject, text, html = messages.render_outreach_email(
        campaign=campaign,
        lost=lost,
        language=customer.locale or "en",
        comeback_url=links.comeback_url(outreach=outreach),
        unsubscribe_url=unsubscribe,
    )
    return {
        "dedupe_key": f"outreach-{outreach.pk}",
        "kind": "winback",
        "promise": DeliveryPromise.AT_MOST_ONCE,  # marketing: never sent twice
        "to_email": customer.email,
        "subject": subject,
        "body_text": text,
        "body_html": html,
        "headers": {
            "List-Unsubscribe": f"<{unsubscribe}>",
            "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
        },
        "customer": customer,
    }


def _queue_call(outreach: Outreach, now: datetime) -> None:
    lost, campaign = outreach.lost_customer, outreach.campaign
    hints = [CALL_HINTS[lost.churn_group]]
    if lost.reason:
        hints.append(f"They left because: {lost.reason.label_en}.")
    if lost.reason_text:
        hints.append(f"In their words: {lost.reason_text}")
    if campaign.improvements_en:
        hints.append(f"What has improved: {campaign.improvements_en}")
    with translation.override("en"):
        offer = messages.offer_text(campaign)
    if offer:
        hints.append(f"Come-back offer: {offer}.")
    callback = desk_services.callback_request(
        customer=outreach.customer,
        subscription=lost.subscription,
        source=CallbackSource.WINBACK,
        source_ref=outreach.pk,
        due_at=now,
        reason=f"Win-back: {campaign.name} (attempt {outreach.attempt})",
        hints="\n".join(hints),
    )
    Outreach.objects.filter(pk=outreach.pk).update(
        callback=callback, language=outreach.customer.locale
    )


@transaction.atomic
def outreach_sync_channels() -> dict[str, int]:
    """Carry the channels' outcomes back to the outreach rows (set-based).

    An email the outbox delivered makes its outreach SENT; one whose outcome is unknown
    (an at-most-once send cut short) SENT with that note; one it gave up on makes it FAILED
    with the error. A win-back call an agent closed makes it SENT with the outcome; one
    nobody answered, FAILED. A contact that failed no longer counts as made, so the rows
    that fail are locked and marked for the dashboard first.
    """
    queued = Outreach.objects.filter(status=OutreachStatus.QUEUED)
    email = OutboundEmail.objects.filter(pk=OuterRef("email_id"))
    call = CallbackRequest.objects.filter(pk=OuterRef("callback_id"))
    failing = {
        name: dict(
            queued.filter(condition)
            .select_for_update(of=("self",))
            .values_list("pk", "lost_customer_id")
        )
        for name, condition in (
            ("failed", Q(email__status=EmailStatus.FAILED)),
            ("unanswered", Q(callback__status=CallbackStatus.NO_ANSWER)),
        )
    }
    changes_mark(
        kind=ChangeKind.LOST_CUSTOMER,
        ids=[lost for rows in failing.values() for lost in rows.values()],
    )
    return {
        "delivered": queued.filter(email__status=EmailStatus.SENT).update(
            status=OutreachStatus.SENT, sent_at=Subquery(email.values("sent_at")[:1])
        ),
        # At most once: an email whose send was cut short is not sent again and may have
        # arrived, so the contact counts as made (for the cap and the next attempt), with
        # the outbox's note and the time it was handed over at the latest.
        "unknown": queued.filter(email__status=EmailStatus.UNKNOWN).update(
            status=OutreachStatus.SENT,
            sent_at=Subquery(email.values("claimed_at")[:1]),
            error=Subquery(email.values("last_error")[:1]),
        ),
        "failed": queued.filter(pk__in=failing["failed"]).update(
            status=OutreachStatus.FAILED, error=Subquery(email.values("last_error")[:1])
        ),
        "called": queued.filter(callback__status=CallbackStatus.DONE).update(
            status=OutreachStatus.SENT,
            sent_at=Subquery(call.values("closed_at")[:1]),
            call_outcome=Subquery(call.values("outcome_note")[:1]),
        ),
        "unanswered": queued.filter(pk__in=failing["unanswered"]).update(
            status=OutreachStatus.FAILED, error="no answer"
        ),
    }


@transaction.atomic
def outreach_log_call(
    *, outreach: Outreach, agent, comes_back: bool, note: str = "", now: datetime | None = None
) -> Outreach:
    """An agent's logged outcome of a win-back call closes the outreach (and its queue item);
    a customer who says yes comes back through the same service as the come-back link.
    """
    now = now or timezone.now()
    outreach = Outreach.objects.select_for_update().get(pk=outreach.pk)
    if outreach.channel != OutreachChannel.PHONE or outreach.status not in IN_FLIGHT:
        raise ConflictError(_("Only a win-back call that was made can be logged."))
    if outreach.callback_id:
        desk_services.callback_close(callback=outreach.callback, agent=agent, note=note, now=now)
    Outreach.objects.filter(pk=outreach.pk).update(
        status=OutreachStatus.SENT,
        sent_at=outreach.sent_at or now,
        call_outcome=(note or ("came back" if comes_back else "not interested"))[:300],
    )
    if comes_back:
        comeback_record(
            lost_customer=outreach.lost_customer,
            outreach=outreach,
            actor=Actor.staff(agent, channel=Channel.PHONE),
            now=now,
        )
    outreach.refresh_from_db()
    return outreach
