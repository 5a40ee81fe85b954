"""Writes of the cancellation flow. Web, phone and API cases all go through these."""

import random
from datetime import datetime, time, timedelta
from decimal import Decimal

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from cancellations import emails, selectors
from cancellations.enums import (
    CallbackSource,
    CallbackStatus,
    CallbackWindow,
    CaseChannel,
    CaseOutcome,
    CaseStepKind,
    OfferKind,
)
from cancellations.models import (
    CallbackRequest,
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
    now = now or timezone.now()
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
        return existing
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
    return case


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
    text, competitor = _clean_text(text), _clean_text(competitor)[:120]
    same_reason = case.reason_id == reason.pk
    case.reason_text = text or case.reason_text
    case.competitor = competitor or case.competitor
    if same_reason:
        case.save(update_fields=["reason_text", "competitor"])
        changes_mark(kind=ChangeKind.CASE, ids=[case.pk])  # a competitor can change the group
        return case
    case.offers.filter(withdrawn=False, accepted_at__isnull=True).update(withdrawn=True)
    case.reason = reason
    case.reason_at = case.reason_at or now
    proposals = selectors.offers_for(subscription=case.subscription, reason=reason, now=now)
    Offer.objects.bulk_create(
        Offer(
            case=case,
            rule_id=proposal.rule.id,
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
            CallbackRequest.objects.create(
                customer=case.customer,
                subscription=case.subscription,
                case=case,
                source=CallbackSource.CANCELLATION,
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
    case.callbacks.filter(status__in=[CallbackStatus.OPEN, CallbackStatus.IN_PROGRESS]).update(
        status=CallbackStatus.DONE, closed_at=now, outcome_note=note
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
                .exclude(callbacks__status__in=[CallbackStatus.OPEN, CallbackStatus.IN_PROGRESS])
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
    case = cancellation_start(subscription=subscription, actor=actor, now=now)
    case = cancellation_choose_reason(
        case=case, reason=reason, actor=actor, text=notes, competitor=competitor, now=now
    )
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
        CallbackRequest.objects.create(
            customer=case.customer,
            subscription=case.subscription,
            case=case,
            source=CallbackSource.FOLLOW_UP,
            due_at=follow_up_at,
            reason=f"Follow-up: {reason.label_en}",
            hints=case.notes[:2000],
            assigned_to=agent,
        )
    if callback is not None:
        callback_close(callback=callback, agent=agent, note=outcome, now=now)
    case.refresh_from_db()
    return case


# --- The callback queue --------------------------------------------------------------

CALLBACK_MAX_ATTEMPTS = 3
CALLBACK_RETRY_AFTER = timedelta(hours=2)


def _lock_callback(callback: CallbackRequest) -> CallbackRequest:
    return CallbackRequest.objects.select_for_update().get(pk=callback.pk)


@transaction.atomic
def callback_take_next(*, agent, now: datetime | None = None) -> CallbackRequest | None:
    """Hand the agent the next due call: their own in-progress one first, else the earliest
    due item that is unassigned or assigned to them. Two agents clicking at once never get
    the same item (rows being taken are skipped, not waited for).
    """
    now = now or timezone.now()
    mine = CallbackRequest.objects.filter(
        assigned_to=agent, status=CallbackStatus.IN_PROGRESS
    ).first()
    if mine is not None:
        return mine
    item = (
        CallbackRequest.objects.select_for_update(skip_locked=True)
        .filter(status=CallbackStatus.OPEN, due_at__lte=now)
        .filter(Q(assigned_to__isnull=True) | Q(assigned_to=agent))
        .order_by("due_at", "pk")
        .first()
    )
    if item is None:
        return None
    item.status = CallbackStatus.IN_PROGRESS
    item.assigned_to = agent
    item.attempts += 1
    item.taken_at = now
    item.save(update_fields=["status", "assigned_to", "attempts", "taken_at"])
    return item


@transaction.atomic
def callback_assign(*, callback: CallbackRequest, to, by) -> CallbackRequest:
    """Give an open item to an agent (an agent assigns to themselves, a manager to anyone)."""
    callback = _lock_callback(callback)
    if callback.status not in (CallbackStatus.OPEN, CallbackStatus.IN_PROGRESS):
        raise CancellationError(_("This call is already closed."))
    callback.assigned_to = to
    callback.save(update_fields=["assigned_to"])
    return callback


@transaction.atomic
def callback_no_answer(
    *, callback: CallbackRequest, agent, now: datetime | None = None
) -> CallbackRequest:
    """Nobody answered: try again later, or give up after CALLBACK_MAX_ATTEMPTS attempts."""
    now = now or timezone.now()
    callback = _lock_callback(callback)
    if callback.status not in (CallbackStatus.OPEN, CallbackStatus.IN_PROGRESS):
        raise CancellationError(_("This call is already closed."))
    attempts = max(callback.attempts, 1)
    if attempts >= CALLBACK_MAX_ATTEMPTS:
        callback.status = CallbackStatus.NO_ANSWER
        callback.closed_at = now
    else:
        callback.status = CallbackStatus.OPEN
        callback.due_at = now + CALLBACK_RETRY_AFTER
    callback.attempts = attempts
    callback.outcome_note = f"No answer ({attempts})"
    callback.save()
    return callback


@transaction.atomic
def callback_close(
    *, callback: CallbackRequest, agent, note: str = "", now: datetime | None = None
) -> CallbackRequest:
    """The call took place. Closing a closed item changes nothing."""
    callback = _lock_callback(callback)
    if callback.status in (CallbackStatus.DONE, CallbackStatus.NO_ANSWER):
        return callback
    callback.status = CallbackStatus.DONE
    callback.closed_at = now or timezone.now()
    callback.assigned_to = callback.assigned_to or agent
    callback.outcome_note = note[:500]
    callback.save()
    return callback
