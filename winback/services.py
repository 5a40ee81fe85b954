"""Writes of the win-back: planning outreach, sending it at most once, comebacks, unsubscribes.

Planned contacts are rows with a due time (never far-future broker tasks). A periodic sweep
(and every finished batch) claims due rows with ``SELECT … FOR UPDATE SKIP LOCKED``, up to a
target number in flight, and enqueues one short task per batch of rows; the task re-checks
consent and suppression, applies the frequency cap under a lock on the customers, and hands
the messages to their channel with a conditional update, so a retried task, a duplicated
message or a second worker can never contact anyone twice.
"""

import time
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

from django.conf import settings
from django.db import transaction
from django.db.models import Exists, Max, OuterRef, Q, Subquery
from django.utils import timezone, translation
from django.utils.translation import gettext_lazy as _

from cancellations.enums import ChurnGroup
from core.changes import changes_mark
from core.dates import add_months
from core.enums import ChangeKind, DeliveryPromise, EmailStatus
from core.errors import ConflictError
from core.models import OutboundEmail
from core.outbox import claim_and_enqueue, requeue_if_broker_restarted
from core.outbox.email import email_queue, email_queue_many, email_send_batch
from desk import services as desk_services
from desk.enums import CallbackSource, CallbackStatus
from desk.models import CallbackRequest
from subscriptions import services as subscription_services
from subscriptions.actors import Actor
from subscriptions.enums import Channel, ConsentSource, SubscriptionStatus
from subscriptions.models import Customer
from winback import links, messages, policy
from winback.enums import (
    ComebackOfferKind,
    ConsentBasis,
    OutreachChannel,
    OutreachStatus,
    SkipReason,
)
from winback.models import Campaign, Comeback, LostCustomer, Outreach, Suppression
from winback.webhooks import comeback_publish, unsubscribed_publish

CENT = Decimal("0.01")
SEND_BATCH_TASK = "winback.send_outreach_batch"
IN_FLIGHT = (OutreachStatus.QUEUED, OutreachStatus.SENT)

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


class ComebackError(ConflictError):
    code = "comeback_conflict"


# --- Planning ------------------------------------------------------------------------


def in_holdout(*, campaign: Campaign, lost_customer_id: int) -> bool:
    """``policy.in_holdout`` for this campaign."""
    return policy.in_holdout(
        campaign_id=campaign.pk,
        holdout_percent=campaign.holdout_percent,
        lost_customer_id=lost_customer_id,
    )


def first_contact_at(*, campaign: Campaign, left_at: datetime, contract_months: int) -> datetime:
    """``policy.first_contact_at`` for this campaign."""
    return policy.first_contact_at(
        timing=campaign.timing,
        first_contact_days=campaign.first_contact_days,
        campaign_contract_months=campaign.contract_months,
        left_at=left_at,
        contract_months=contract_months,
    )


def campaign_groups(campaign: Campaign) -> set[str]:
    """``policy.contacted_groups`` for this campaign."""
    return policy.contacted_groups(
        churn_groups=campaign.churn_groups,
        include_deliberately_pushed=campaign.include_deliberately_pushed,
    )


def campaign_audience(*, campaign: Campaign, now: datetime):
    """Lost customers this campaign should plan a first contact for (a queryset); those
    suppressed by address are dropped when planned (``outreach_plan``)."""
    groups = sorted(campaign_groups(campaign))
    audience = LostCustomer.objects.filter(
        came_back_at__isnull=True,
        churn_group__in=groups,
        attractiveness__gte=campaign.min_attractiveness,
        left_at__gte=add_months(now, -campaign.max_months_after_leaving),
    ).filter(
        ~Exists(Outreach.objects.filter(lost_customer=OuterRef("pk"), campaign=campaign)),
        ~Exists(Suppression.objects.filter(customer=OuterRef("customer_id"))),
    )
    if campaign.consent_basis == ConsentBasis.CONSENT:
        audience = audience.filter(customer__marketing_consent=True)
    if campaign.channel == OutreachChannel.EMAIL:
        audience = audience.exclude(customer__email="")
    else:
        audience = audience.exclude(customer__phone="")
    return audience


@dataclass(frozen=True)
class PlanResult:
    first_contacts: int
    holdouts: int
    next_attempts: int


def outreach_plan(*, now: datetime | None = None) -> PlanResult:
    """Plan first contacts for every running campaign's new audience, and the next attempt
    after each contact made (up to the campaign's attempts, at least its gap apart). Nobody
    suppressed (by customer or by email address) is planned, nor a next attempt for a churn
    group the campaign no longer contacts.

    Side effects: SCHEDULED (or HOLDOUT) outreach rows; change marks for the holdouts.

    Safe to run at any time and concurrently: the (lost customer, campaign, attempt) unique
    constraint turns a second plan of the same contact into a no-op.
    """
    now = now or timezone.now()
    first = holdouts = following = 0
    suppressed = _suppressed_hashes()
    for campaign in Campaign.objects.filter(active=True):
        if not campaign.runs_on(timezone.localdate(now)):
            continue
        rows = []
        for pk, left_at, contract, customer_id, locale, email in (
            campaign_audience(campaign=campaign, now=now)
            .values_list(
                "pk",
                "left_at",
                "contract_months",
                "customer_id",
                "customer__locale",
                "customer__email",
            )
            .iterator(chunk_size=5000)
        ):
            if suppressed and links.email_hash(email) in suppressed:
                continue
            holdout = in_holdout(campaign=campaign, lost_customer_id=pk)
            rows.append(
                Outreach(
                    lost_customer_id=pk,
                    campaign=campaign,
                    customer_id=customer_id,
                    attempt=1,
                    channel=campaign.channel,
                    due_at=first_contact_at(
                        campaign=campaign, left_at=left_at, contract_months=contract
                    ),
                    status=OutreachStatus.HOLDOUT if holdout else OutreachStatus.SCHEDULED,
                    # The language it would be (or was) sent in; holdouts keep it too, so
                    # the dashboard compares each message with its own holdout.
                    language=locale,
                    created_at=now,
                )
            )
            holdouts += holdout
        with transaction.atomic():
            first += len(Outreach.objects.bulk_create(rows, batch_size=2000, ignore_conflicts=True))
            changes_mark(
                kind=ChangeKind.LOST_CUSTOMER,
                ids=(row.lost_customer_id for row in rows if row.status == OutreachStatus.HOLDOUT),
            )
        following += _plan_next_attempts(campaign, now, suppressed)
    return PlanResult(first - holdouts, holdouts, following)


def _plan_next_attempts(campaign: Campaign, now: datetime, suppressed: set[str]) -> int:
    """Plan the next attempt after each contact made, unless the person is suppressed (by
    customer, or by the email hashes in ``suppressed``) or the campaign no longer contacts
    their churn group. Returns how many were planned."""
    if campaign.max_attempts < 2:
        return 0
    done = Outreach.objects.filter(
        campaign=campaign,
        status=OutreachStatus.SENT,
        attempt__lt=campaign.max_attempts,
        lost_customer__came_back_at__isnull=True,
        lost_customer__churn_group__in=sorted(campaign_groups(campaign)),
    ).filter(
        ~Exists(
            Outreach.objects.filter(
                lost_customer=OuterRef("lost_customer_id"),
                campaign=campaign,
                attempt=OuterRef("attempt") + 1,
            )
        ),
        ~Exists(Suppression.objects.filter(customer=OuterRef("customer_id"))),
    )
    done_rows = done.values_list(
        "lost_customer_id", "customer_id", "attempt", "contacted_at", "language", "customer__email"
    )
    gap = timedelta(days=campaign.min_days_between)
    rows = [
        Outreach(
            lost_customer_id=lost_id,
            campaign=campaign,
            customer_id=customer_id,
            attempt=attempt + 1,
            channel=campaign.channel,
            due_at=contacted_at + gap,
            language=language,
            created_at=now,
        )
        for lost_id, customer_id, attempt, contacted_at, language, email in done_rows
        if not (suppressed and links.email_hash(email) in suppressed)
    ]
    return len(Outreach.objects.bulk_create(rows, batch_size=2000, ignore_conflicts=True))


# --- Dispatch and send ---------------------------------------------------------------


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


def is_suppressed(customer: Customer) -> bool:
    return customer.pk in suppressed_among([customer])


def _suppressed_hashes() -> set[str]:
    """The hashes of every suppressed email address (few: unsubscribes and erasures), so
    planning can drop a suppressed address under any customer record in one query."""
    return set(Suppression.objects.exclude(email_hash="").values_list("email_hash", flat=True))


def suppressed_among(customers: list[Customer]) -> set[int]:
    """The ids of those customers who unsubscribed, by customer or by email hash (which
    outlives an erased customer), in one query."""
    hashes = {customer.pk: links.email_hash(customer.email) for customer in customers}
    rows = Suppression.objects.filter(
        Q(customer_id__in=hashes) | Q(email_hash__in=set(hashes.values()) - {""})
    ).values_list("customer_id", "email_hash")
    by_customer = {customer_id for customer_id, _ in rows}
    by_hash = {hashed for _, hashed in rows} - {""}
    return {pk for pk, hashed in hashes.items() if pk in by_customer or hashed in by_hash}


def contact_facts(
    *, outreach: Outreach, customer: Customer, now: datetime, suppressed: bool
) -> policy.ContactFacts:
    """What ``policy`` looks at for this planned contact (its campaign, lost customer and
    subscription loaded)."""
    campaign, lost = outreach.campaign, outreach.lost_customer
    return policy.ContactFacts(
        running=campaign.runs_on(timezone.localdate(now)),
        groups=frozenset(campaign_groups(campaign)),
        consent_required=campaign.consent_basis == ConsentBasis.CONSENT,
        channel=outreach.channel,
        churn_group=lost.churn_group,
        came_back=lost.came_back_at is not None
        or lost.subscription.status != SubscriptionStatus.CANCELLED,
        suppressed=suppressed,
        consent=customer.marketing_consent,
        consent_at=customer.marketing_consent_at,
        left_at=lost.left_at,
        limit_months=settings.TACK_WINBACK_CONTACT_LIMIT_MONTHS.get(customer.country.upper()),
        has_email=bool(customer.email),
        has_phone=bool(customer.phone),
    )


def skip_reason(*, outreach: Outreach, customer: Customer, now: datetime, suppressed: bool) -> str:
    """Why this contact must not be made now ('' when it may; ``policy.skip_reason``);
    ``suppressed`` is whether the customer unsubscribed (``suppressed_among``)."""
    facts = contact_facts(outreach=outreach, customer=customer, now=now, suppressed=suppressed)
    return policy.skip_reason(facts, now=now) or ""


@transaction.atomic
def outreach_skip_forbidden(*, lost_customer_ids: list[int], now: datetime | None = None) -> int:
    """Re-check the contacts still planned for these lost customers after a change (a
    re-segmentation): those a standing objection now forbids (``policy.standing_objection``:
    unsubscribed, a churn group the campaign does not contact) are skipped with the reason.

    Side effects: SCHEDULED outreach rows become SKIPPED. Returns how many.
    """
    now = now or timezone.now()
    rows = list(
        Outreach.objects.select_for_update(of=("self",))
        .select_related("campaign", "lost_customer__subscription", "customer")
        .filter(lost_customer_id__in=lost_customer_ids, status=OutreachStatus.SCHEDULED)
    )
    suppressed = suppressed_among(list({row.customer_id: row.customer for row in rows}.values()))
    skipped = defaultdict(list)
    for row in rows:
        facts = contact_facts(
            outreach=row, customer=row.customer, now=now, suppressed=row.customer_id in suppressed
        )
        reason = policy.standing_objection(facts)
        if reason:
            skipped[reason].append(row.pk)
    for reason, ids in skipped.items():
        Outreach.objects.filter(pk__in=ids, status=OutreachStatus.SCHEDULED).update(
            status=OutreachStatus.SKIPPED, skip_reason=reason
        )
    return sum(len(ids) for ids in skipped.values())


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
    Outreach.objects.bulk_update(by_email, ["email", "language"])
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


# --- Coming back ---------------------------------------------------------------------


def attributed_outreach(*, lost_customer: LostCustomer, now: datetime) -> Outreach | None:
    """The last contact made within the attribution window, if any (else: organic)."""
    window = timedelta(days=settings.TACK_WINBACK_ATTRIBUTION_DAYS)
    return (
        Outreach.objects.filter(
            lost_customer=lost_customer,
            status__in=IN_FLIGHT,
            contacted_at__gte=now - window,
            contacted_at__lte=now,
        )
        .select_related("campaign")
        .order_by("-contacted_at", "-pk")
        .first()
    )


def _apply_comeback_offer(campaign: Campaign | None, subscription, actor, now) -> Decimal:
    if campaign is None or not campaign.offer_kind:
        return Decimal("0")
    if campaign.offer_kind == ComebackOfferKind.DISCOUNT:
        event = subscription_services.subscription_grant_discount(
            subscription=subscription,
            percent=campaign.offer_percent,
            months=campaign.offer_months,
            actor=actor,
            now=now,
        )
        return event.amount
    event = subscription_services.subscription_grant_credit(
        subscription=subscription,
        amount=subscription.monthly_amount,
        actor=actor,
        note="win-back: a free month",
    )
    return event.amount


@transaction.atomic
def comeback_record(
    *,
    lost_customer: LostCustomer,
    actor: Actor,
    outreach: Outreach | None = None,
    now: datetime | None = None,
) -> Comeback:
    """Bring a lost customer back: reactivate the subscription, apply the offer the customer
    was shown (``outreach``'s campaign), and record the comeback attributed to the last
    contact within the attribution window. Coming back twice raises ComebackError.

    Side effects: REACTIVATED (and discount/credit) ledger rows; the Comeback row and its
    winback.comeback webhook; any contact still planned for this lost customer is skipped.
    """
    now = now or timezone.now()
    lost = LostCustomer.objects.select_for_update().get(pk=lost_customer.pk)
    if lost.came_back_at is not None:
        raise ComebackError(_("You are already back with us."), code="already_back")
    subscription = subscription_services.subscription_reactivate(
        subscription=lost.subscription, actor=actor, now=now, note="win-back"
    )
    offer_cost = _apply_comeback_offer(
        outreach.campaign if outreach else None, subscription, actor, now
    )
    return _finish_comeback(lost, subscription, actor.channel, offer_cost, now)


def _finish_comeback(lost, subscription, channel, offer_cost, now) -> Comeback:
    attributed = attributed_outreach(lost_customer=lost, now=now)
    monthly = subscription.monthly_amount
    comeback = Comeback.objects.create(
        lost_customer=lost,
        customer_id=lost.customer_id,
        subscription=subscription,
        at=now,
        outreach=attributed,
        campaign=attributed.campaign if attributed else None,
        channel=channel,
        monthly_amount=monthly,
        offer_cost=offer_cost,
        value=(monthly * 12 - offer_cost).quantize(CENT),
        currency=subscription.currency,
    )
    LostCustomer.objects.filter(pk=lost.pk).update(came_back_at=now)
    changes_mark(kind=ChangeKind.LOST_CUSTOMER, ids=[lost.pk])
    Outreach.objects.filter(lost_customer=lost, status=OutreachStatus.SCHEDULED).update(
        status=OutreachStatus.SKIPPED, skip_reason=SkipReason.CAME_BACK
    )
    comeback_publish(comeback=comeback, customer=subscription.customer)
    return comeback


def comebacks_detect(*, now: datetime | None = None) -> int:
    """Record the lost customers whose subscription came back some other way (the company's
    own systems, the API, an agent) — attributed like any other, else organic.
    """
    now = now or timezone.now()
    count = 0
    returned = LostCustomer.objects.filter(came_back_at__isnull=True).exclude(
        subscription__status=SubscriptionStatus.CANCELLED
    )
    for lost_id in returned.values_list("pk", flat=True):
        with transaction.atomic():
            lost = (
                LostCustomer.objects.select_for_update()
                .select_related("subscription")
                .filter(pk=lost_id, came_back_at__isnull=True)
                .first()
            )
            if lost is None or lost.subscription.status == SubscriptionStatus.CANCELLED:
                continue
            _finish_comeback(lost, lost.subscription, Channel.SYSTEM, Decimal("0"), now)
            count += 1
    return count


# --- Consent ---------------------------------------------------------------------------


@transaction.atomic
def customer_unsubscribe(*, customer: Customer, source: str = "unsubscribe_link") -> bool:
    """Never contact this customer again: a suppression entry, consent withdrawn, and every
    planned contact skipped. Returns False if they had already unsubscribed.
    Side effects: a customer.unsubscribed webhook the first time.
    """
    customer = Customer.objects.select_for_update().get(pk=customer.pk)
    _, created = Suppression.objects.get_or_create(
        customer=customer,
        defaults={"email_hash": links.email_hash(customer.email), "source": source},
    )
    if customer.marketing_consent:
        subscription_services.customer_set_consent_fields(
            customer, consent=False, source=ConsentSource.UNSUBSCRIBE
        )
        customer.save(
            update_fields=["marketing_consent", "marketing_consent_at", "marketing_consent_source"]
        )
    Outreach.objects.filter(customer=customer, status=OutreachStatus.SCHEDULED).update(
        status=OutreachStatus.SKIPPED, skip_reason=SkipReason.UNSUBSCRIBED
    )
    if created:
        unsubscribed_publish(customer=customer, source=source, at=timezone.now())
    return created


def winback_refresh(*, now: datetime | None = None) -> dict[str, int]:
    """The periodic refresh: record new lost customers, segment and score them all, note
    comebacks made elsewhere, and plan outreach."""
    from winback import segmentation

    now = now or timezone.now()
    recorded = segmentation.lost_customers_record(now=now)
    segmentation.lost_customers_segment()
    scored = segmentation.lost_customers_score(now=now)
    comebacks = comebacks_detect(now=now)
    plan = outreach_plan(now=now)
    return {
        "recorded": recorded,
        "scored": scored,
        "comebacks": comebacks,
        "planned": plan.first_contacts + plan.next_attempts,
        "holdouts": plan.holdouts,
    }
