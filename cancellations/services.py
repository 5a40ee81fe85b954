"""Writes of the cancellation flow. Web, phone and API cases all go through these."""

import random
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from decimal import Decimal
from enum import StrEnum

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from cancellations import emails, selectors
from cancellations.enums import (
    CaseChannel,
    CaseOutcome,
    CaseStepKind,
    OfferKind,
)
from cancellations.models import (
    CancellationCase,
    CaseStep,
    ExitReason,
    Offer,
)
from cancellations.webhooks import case_event_publish
from core.changes import changes_mark
from core.dates import add_months
from core.enums import ChangeKind, WebhookEventType
from core.errors import ConflictError, TackError
from core.webhooks import webhook_subscribers
from desk import selectors as desk_selectors
from desk import services as desk_services
from desk.enums import CallbackSource, CallbackWindow
from desk.models import CallbackRequest
from subscriptions import services as subscription_services
from subscriptions.actors import Actor
from subscriptions.enums import Channel, SubscriptionStatus
from subscriptions.models import Plan, Subscription
from subscriptions.selectors import tenure_months

MAX_TEXT = 2000
CALLBACK_WINDOW_START = {
    CallbackWindow.MORNING: time(9),
    CallbackWindow.AFTERNOON: time(12),
    CallbackWindow.EVENING: time(16),
}
CALLBACK_MAX_DAYS_AHEAD = 14


class CancellationError(ConflictError):
    code = "cancellation_conflict"


class CaseAlreadyDecided(CancellationError):
    code = "case_closed"


class CancellationInputError(TackError):
    code = "invalid"


def _step(case: CancellationCase, kind: str, actor: Actor, at: datetime, **data) -> CaseStep:
    changes_mark(kind=ChangeKind.CASE, ids=[case.pk])
    return CaseStep.objects.create(case=case, kind=kind, at=at, actor_label=actor.label, data=data)


def _lock_case(case: CancellationCase) -> CancellationCase:
    return (
        CancellationCase.objects.select_for_update(of=("self",))
        .select_related("subscription", "customer", "reason", "subscription__plan")
        .get(pk=case.pk)
    )


def _require_open(case: CancellationCase) -> None:
    if case.outcome != CaseOutcome.OPEN:
        raise CaseAlreadyDecided(_("This cancellation has already been completed."))


def _clean_text(text: str) -> str:
    text = (text or "").strip()
    if len(text) > MAX_TEXT:
        raise CancellationInputError(
            _("Please keep the text under %(max)d characters.") % {"max": MAX_TEXT}
        )
    return text


@transaction.atomic
def cancellation_start(
    *,
    subscription: Subscription,
    actor: Actor,
    language: str = "",
    now: datetime | None = None,
) -> CancellationCase:
    """Open a case for this subscription, or resume the one that is open.

    Side effects: a case, its OPENED step and a cancellation.started webhook (or a RESUMED
    step).
    """
    return _start(subscription, actor, language, now or timezone.now())[0]


@dataclass(frozen=True)
class CaseOpened:
    case: CancellationCase
    created: bool  # False: the subscription's open case was resumed


@transaction.atomic
def cancellation_open(
    *,
    subscription: Subscription,
    actor: Actor,
    reason: ExitReason,
    text: str = "",
    competitor: str = "",
    language: str = "",
    now: datetime | None = None,
) -> CaseOpened:
    """Open (or resume) a case with the customer's reason, in one transaction: what the API's
    "open a case" is. Whether it was created is decided under the subscription's lock, so
    of many concurrent calls exactly one says created.

    Side effects: those of ``cancellation_start`` and ``cancellation_choose_reason``.
    """
    now = now or timezone.now()
    case, created = _start(subscription, actor, language, now)
    case = cancellation_choose_reason(
        case=case, reason=reason, actor=actor, text=text, competitor=competitor, now=now
    )
    return CaseOpened(case, created)


def _start(
    subscription: Subscription, actor: Actor, language: str, now: datetime
) -> tuple[CancellationCase, bool]:
    if actor.channel not in CaseChannel.values:
        raise CancellationInputError(_("Cases are opened on the web, by phone or over the API."))
    subscription = (
        Subscription.objects.select_for_update(of=("self",))
        .select_related("customer", "plan")
        .get(pk=subscription.pk)
    )
    existing = selectors.open_case_for(subscription=subscription)
    if existing is not None:
        last = existing.steps.order_by("-at").values_list("at", flat=True).first()
        if last is None or now - last > timedelta(minutes=30):
            _step(existing, CaseStepKind.RESUMED, actor, now, channel=actor.channel)
        return existing, False
    if subscription.status not in (SubscriptionStatus.ACTIVE, SubscriptionStatus.PAUSED):
        raise CancellationError(
            _("This subscription is already cancelled or set to end."), code="not_cancellable"
        )
    reason_ids = list(
        ExitReason.objects.filter(active=True, is_other=False).values_list("pk", flat=True)
    )
    random.Random(f"{subscription.pk}:{now.isoformat()}").shuffle(reason_ids)
    case = CancellationCase.objects.create(
        subscription=subscription,
        customer=subscription.customer,
        channel=actor.channel,
        language=language or subscription.customer.locale,
        actor=actor.user,
        plan=subscription.plan,
        monthly_amount=subscription.monthly_amount,
        currency=subscription.currency,
        tenure_months=tenure_months(customer=subscription.customer, today=timezone.localdate(now)),
        reason_order=reason_ids,
        opened_at=now,
    )
    _step(case, CaseStepKind.OPENED, actor, now, channel=actor.channel)
    case_event_publish(case=case, event_type=WebhookEventType.CANCELLATION_STARTED)
    return case, True


@transaction.atomic
def cancellation_choose_reason(
    *,
    case: CancellationCase,
    reason: ExitReason,
    actor: Actor,
    text: str = "",
    competitor: str = "",
    now: datetime | None = None,
) -> CancellationCase:
    """Record why, and present the offers that fit (replacing any shown for another reason).

    Choosing the same reason again changes nothing but the text.
    Side effects: REASON_CHOSEN and OFFERS_SHOWN steps; Offer rows.
    """
    now = now or timezone.now()
    case = _lock_case(case)
    _require_open(case)
    if not reason.active:
        raise CancellationInputError(_("Please choose one of the reasons shown."))
    if case.reason_id == reason.pk:
        return _note_words(case, text=text, competitor=competitor)
    text, competitor = _clean_text(text), _clean_text(competitor)[:120]
    case.reason_text = text or case.reason_text
    case.competitor = competitor or case.competitor
    case.offers.filter(withdrawn=False, accepted_at__isnull=True).update(withdrawn=True)
    case.reason = reason
    case.reason_at = case.reason_at or now
    proposals = selectors.offers_for(subscription=case.subscription, reason=reason, now=now)
    Offer.objects.bulk_create(
        Offer(
            case=case,
            rule=proposal.rule,
            kind=proposal.kind,
            position=position,
            parameters=proposal.parameters,
            cost=proposal.cost,
            presented_at=now,
        )
        for position, proposal in enumerate(proposals, start=1)
    )
    _step(case, CaseStepKind.REASON_CHOSEN, actor, now, reason=reason.code)
    if proposals:
        case.offers_shown_at = case.offers_shown_at or now
        _step(case, CaseStepKind.OFFERS_SHOWN, actor, now, offers=[p.kind for p in proposals])
    case.save()
    return case


def _note_words(case: CancellationCase, *, text: str, competitor: str) -> CancellationCase:
    """The customer's own words about the reason they chose (a locked, open case)."""
    text, competitor = _clean_text(text), _clean_text(competitor)[:120]
    if text or competitor:
        case.reason_text = text or case.reason_text
        case.competitor = competitor or case.competitor
        case.save(update_fields=["reason_text", "competitor"])
        changes_mark(kind=ChangeKind.CASE, ids=[case.pk])  # a competitor can change the group
    return case


class Decision(StrEnum):
    ACCEPT = "accept"
    DECLINE = "decline"


@transaction.atomic
def cancellation_decide(
    *,
    case: CancellationCase,
    actor: Actor,
    decision: Decision,
    offer_id: int | None = None,
    options: dict | None = None,
    text: str = "",
    competitor: str = "",
    immediately: bool = False,
    now: datetime | None = None,
) -> CancellationCase:
    """The customer's one click on the offers page, whole and in one transaction: their own
    words (a note, the competitor they name) and then the offer accepted or the offers
    declined. A decline keeps the note as the case's closing text.

    Side effects: those of ``offer_accept`` or ``cancellation_decline``.
    """
    now = now or timezone.now()
    case = _lock_case(case)
    if case.outcome == CaseOutcome.OPEN and case.reason_id:
        _note_words(case, text="" if decision == Decision.DECLINE else text, competitor=competitor)
    if decision == Decision.DECLINE:
        return cancellation_decline(
            case=case, actor=actor, text=text, immediately=immediately, now=now
        )
    return offer_accept(case=case, offer_id=offer_id, actor=actor, options=options, now=now)


def _callback_due(options: dict, now: datetime) -> tuple[datetime, str]:
    window = options.get("window") or CallbackWindow.MORNING
    if window not in CALLBACK_WINDOW_START:
        raise CancellationInputError(_("Please choose a time of day for our call."))
    today = timezone.localdate(now)
    day = options.get("day") or today + timedelta(days=1)
    if isinstance(day, str):
        try:
            day = datetime.fromisoformat(day).date()
        except ValueError:
            raise CancellationInputError(_("Please choose a day for our call.")) from None
    if not today <= day <= today + timedelta(days=CALLBACK_MAX_DAYS_AHEAD):
        raise CancellationInputError(_("Please choose a day within the next two weeks."))
    due = datetime.combine(
        day, CALLBACK_WINDOW_START[window], tzinfo=timezone.get_current_timezone()
    )
    return max(due, now), window


def _apply_offer(offer: Offer, case: CancellationCase, actor: Actor, options: dict, now: datetime):
    """Carry out the offer on the subscription. Returns (final cost, options kept)."""
    subscription = case.subscription
    parameters = offer.parameters
    if offer.kind == OfferKind.PAUSE:
        try:
            months = options.get("months")
            months = int(parameters["max_months"] if months in (None, "") else months)
        except (TypeError, ValueError):
            months = 0
        if not 1 <= months <= parameters["max_months"]:
            raise CancellationInputError(
                _("Please choose a pause of 1 to %(max)d months.")
                % {"max": parameters["max_months"]}
            )
        subscription_services.subscription_pause(
            subscription=subscription, until=add_months(now, months), actor=actor, now=now
        )
        return (subscription.monthly_amount * months).quantize(Decimal("0.01")), {"months": months}
    if offer.kind == OfferKind.DOWNGRADE:
        plan = Plan.objects.get(pk=parameters["plan_id"])
        subscription_services.subscription_change_plan(
            subscription=subscription, plan=plan, actor=actor, note=f"offer {offer.pk}"
        )
        return offer.cost, {}
    if offer.kind == OfferKind.LOYALTY_BONUS:
        subscription_services.subscription_grant_credit(
            subscription=subscription,
            amount=Decimal(parameters["amount"]),
            actor=actor,
            note=f"loyalty bonus, offer {offer.pk}",
        )
        return offer.cost, {}
    if offer.kind == OfferKind.DISCOUNT:
        subscription_services.subscription_grant_discount(
            subscription=subscription,
            percent=parameters["percent"],
            months=parameters["months"],
            actor=actor,
            now=now,
        )
        return offer.cost, {}
    raise CancellationInputError(_("This offer cannot be accepted here."))


@transaction.atomic
def offer_accept(
    *,
    case: CancellationCase,
    offer_id: int,
    actor: Actor,
    options: dict | None = None,
    now: datetime | None = None,
) -> CancellationCase:
    """Accept one of the case's offers: apply it and mark the case saved.

    A call-back request leaves the case open for the agent who calls. Accepting the offer
    that already saved the case returns the case unchanged (a replayed request).
    Side effects: subscription services (ledger rows); OFFER_ACCEPTED or CALLBACK_REQUESTED
    step; a callback request; a cancellation.saved webhook; the confirmation email, after
    commit.
    """
    now = now or timezone.now()
    options = options or {}
    case = _lock_case(case)
    offer = case.offers.filter(pk=offer_id, withdrawn=False).first()
    if offer is None:
        raise CancellationInputError(_("This offer is no longer available."))
    if case.outcome != CaseOutcome.OPEN and case.accepted_offer_id == offer.pk:
        return case
    _require_open(case)
    if offer.kind == OfferKind.CALLBACK:
        if selectors.pending_callback(case=case) is None:
            due_at, window = _callback_due(options, now)
            desk_services.callback_request(
                customer=case.customer,
                subscription=case.subscription,
                source=CallbackSource.CANCELLATION,
                source_ref=case.pk,
                due_at=due_at,
                window=window,
                reason=case.reason.label_en if case.reason else "",
            )
            Offer.objects.filter(pk=offer.pk).update(
                accepted_at=now,
                accepted_cost=offer.cost,
                options={"day": due_at.date().isoformat(), "window": window},
            )
            _step(case, CaseStepKind.CALLBACK_REQUESTED, actor, now, due_at=due_at.isoformat())
        return case
    cost, kept_options = _apply_offer(offer, case, actor, options, now)
    case.subscription.refresh_from_db()
    offer.accepted_at, offer.accepted_cost, offer.options = now, cost, kept_options
    offer.save(update_fields=["accepted_at", "accepted_cost", "options"])
    case.outcome = CaseOutcome.SAVED
    case.decided_at = now
    case.accepted_offer = offer
    case.save()
    _close_callbacks(case, now, note="saved")
    _step(case, CaseStepKind.OFFER_ACCEPTED, actor, now, offer=offer.kind, cost=str(cost))
    case_event_publish(case=case, event_type=WebhookEventType.CANCELLATION_SAVED)
    emails.send_case_saved(case)
    return case


def _close_callbacks(case: CancellationCase, now: datetime, *, note: str) -> None:
    desk_services.callbacks_close_for(
        sources=selectors.CASE_CALL_SOURCES, source_ref=case.pk, note=note, now=now
    )


@transaction.atomic
def cancellation_decline(
    *,
    case: CancellationCase,
    actor: Actor,
    text: str = "",
    immediately: bool = False,
    now: datetime | None = None,
) -> CancellationCase:
    """The customer still wants to go: schedule the cancellation and close the case.

    By default the subscription ends with the current period; ``immediately`` ends it now.
    Declining a case that is already cancelled returns it unchanged (a replayed request).
    Side effects: the subscription's cancellation (ledger row); a DECLINED step; a
    cancellation.cancelled webhook; the receipt email with its undo link, after commit.
    """
    now = now or timezone.now()
    case = _lock_case(case)
    if case.outcome == CaseOutcome.CANCELLED:
        return case
    _require_open(case)
    text = _clean_text(text)
    if immediately:
        subscription = subscription_services.subscription_cancel(
            subscription=case.subscription, actor=actor, now=now
        )
        effective_at = subscription.cancelled_at
    else:
        subscription = subscription_services.subscription_schedule_cancel(
            subscription=case.subscription, actor=actor, now=now
        )
        effective_at = subscription.cancel_at or subscription.cancelled_at
    case.subscription = subscription
    case.reason_text = text or case.reason_text
    case.outcome = CaseOutcome.CANCELLED
    case.decided_at = now
    case.cancel_effective_at = effective_at
    case.save()
    _close_callbacks(case, now, note="cancelled")
    _step(case, CaseStepKind.DECLINED, actor, now, immediately=immediately)
    case_event_publish(case=case, event_type=WebhookEventType.CANCELLATION_CANCELLED)
    emails.send_case_cancelled(case)
    return case


@transaction.atomic
def cancellation_withdraw(
    *, case: CancellationCase, actor: Actor, now: datetime | None = None
) -> CancellationCase:
    """Undo a cancelled case before its last day: the subscription simply continues.

    Withdrawing twice returns the case unchanged.
    Side effects: CANCEL_WITHDRAWN ledger row; WITHDRAWN step; a confirmation email.
    """
    now = now or timezone.now()
    case = _lock_case(case)
    if case.withdrawn_at is not None:
        return case
    if case.outcome != CaseOutcome.CANCELLED:
        raise CancellationError(_("There is no cancellation to undo."))
    subscription = case.subscription
    if subscription.status != SubscriptionStatus.CANCEL_PENDING or (
        subscription.cancel_at and subscription.cancel_at <= now
    ):
        raise CancellationError(
            _("The subscription has already ended, so the cancellation cannot be undone."),
            code="too_late",
        )
    subscription_services.subscription_withdraw_cancel(
        subscription=subscription, actor=actor, now=now
    )
    case.withdrawn_at = now
    case.save(update_fields=["withdrawn_at"])
    _step(case, CaseStepKind.WITHDRAWN, actor, now)
    emails.send_case_withdrawn(case)
    return case


def cases_abandon_stale(*, now: datetime | None = None, batch_size: int = 5000) -> int:
    """Close open cases nobody finished within TACK_CASE_ABANDON_HOURS as abandoned.

    Cases waiting for a call back, or with a follow-up still ahead, stay open.
    Side effects: an ABANDONED step and a cancellation.abandoned webhook per case.
    """
    now = now or timezone.now()
    cutoff = now - timedelta(hours=settings.TACK_CASE_ABANDON_HOURS)
    actor = Actor.system("abandonment sweep")
    total = 0
    while True:
        with transaction.atomic():
            ids = list(
                CancellationCase.objects.select_for_update(skip_locked=True)
                .filter(outcome=CaseOutcome.OPEN, opened_at__lt=cutoff)
                .filter(Q(follow_up_at__isnull=True) | Q(follow_up_at__lt=cutoff))
                .exclude(desk_selectors.has_pending_callback(sources=selectors.CASE_CALL_SOURCES))
                .values_list("pk", flat=True)[:batch_size]
            )
            if not ids:
                return total
            CancellationCase.objects.filter(pk__in=ids).update(
                outcome=CaseOutcome.ABANDONED, decided_at=now
            )
            changes_mark(kind=ChangeKind.CASE, ids=ids)
            CaseStep.objects.bulk_create(
                CaseStep(case_id=pk, kind=CaseStepKind.ABANDONED, at=now, actor_label=actor.label)
                for pk in ids
            )
            _publish_abandoned(ids)
        total += len(ids)


def _publish_abandoned(case_ids: list[int]) -> None:
    endpoint_ids = webhook_subscribers(WebhookEventType.CANCELLATION_ABANDONED)
    if not endpoint_ids:
        return
    for case in CancellationCase.objects.filter(pk__in=case_ids).select_related(
        "customer", "subscription__plan", "reason"
    ):
        case_event_publish(
            case=case,
            event_type=WebhookEventType.CANCELLATION_ABANDONED,
            endpoint_ids=endpoint_ids,
        )


# --- Phone exit interviews ---------------------------------------------------------

INTERVIEW_OUTCOMES = ("saved", "cancelled", "cancelled_now", "follow_up")


@transaction.atomic
def phone_interview_log(
    *,
    subscription: Subscription,
    agent,
    reason: ExitReason,
    outcome: str,
    offer_kind: str = "",
    options: dict | None = None,
    notes: str = "",
    churn_group: str = "",
    competitor: str = "",
    follow_up_at: datetime | None = None,
    call_duration_seconds: int | None = None,
    callback: CallbackRequest | None = None,
    submission_key: str = "",
    now: datetime | None = None,
) -> CancellationCase:
    """Record a phone exit interview through the same steps as the web flow.

    The case (the subscription's open one, e.g. from a web "call me back", or a new one with
    channel phone) gets the reason, the agent's churn-group judgment, notes and call duration;
    the offers come from the same engine. ``outcome`` is one of INTERVIEW_OUTCOMES: saved
    with the offer of ``offer_kind``, cancelled at period end or now, or a follow-up call
    at ``follow_up_at`` (queued for the agent). A resubmitted form (same ``submission_key``)
    returns the case it created. Side effects: those of the web flow's services, plus a
    FOLLOW_UP step and queue item, and closing ``callback``.
    """
    now = now or timezone.now()
    if outcome not in INTERVIEW_OUTCOMES:
        raise CancellationInputError(_("Choose how the call ended."))
    if outcome == "saved" and (not offer_kind or offer_kind == OfferKind.CALLBACK):
        raise CancellationInputError(_("Choose the offer the customer accepted."))
    if outcome == "follow_up" and (follow_up_at is None or follow_up_at <= now):
        raise CancellationInputError(_("A follow-up needs a time in the future."))
    # Lock the subscription first: a concurrent resubmit waits here, then finds the case.
    Subscription.objects.select_for_update(of=("self",)).filter(pk=subscription.pk).first()
    if submission_key:
        existing = CancellationCase.objects.filter(submission_key=submission_key).first()
        if existing is not None:
            return existing
    actor = Actor.staff(agent, channel=Channel.PHONE)
    case = cancellation_open(
        subscription=subscription,
        actor=actor,
        reason=reason,
        text=notes,
        competitor=competitor,
        now=now,
    ).case
    case.actor = agent
    case.churn_group = churn_group or case.churn_group
    case.notes = "\n\n".join(filter(None, [case.notes, _clean_text(notes)]))
    case.call_duration_seconds = call_duration_seconds
    case.submission_key = submission_key or None
    case.save()
    if outcome == "saved":
        offer = selectors.current_offers(case=case).filter(kind=offer_kind).first()
        if offer is None:
            raise CancellationInputError(
                _("That offer is not available for this customer and reason.")
            )
        offer_accept(case=case, offer_id=offer.pk, actor=actor, options=options, now=now)
    elif outcome in ("cancelled", "cancelled_now"):
        cancellation_decline(
            case=case, actor=actor, immediately=outcome == "cancelled_now", now=now
        )
    else:
        case.follow_up_at = follow_up_at
        case.save(update_fields=["follow_up_at"])
        _step(case, CaseStepKind.FOLLOW_UP, actor, now, due_at=follow_up_at.isoformat())
        desk_services.callback_request(
            customer=case.customer,
            subscription=case.subscription,
            source=CallbackSource.FOLLOW_UP,
            source_ref=case.pk,
            due_at=follow_up_at,
            reason=f"Follow-up: {reason.label_en}",
            hints=case.notes,
            assigned_to=agent,
        )
    if callback is not None:
        desk_services.callback_close(callback=callback, agent=agent, note=outcome, now=now)
    case.refresh_from_db()
    return case
