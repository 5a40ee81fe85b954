"""Deciding a case: an offer accepted (and carried out on the subscription), the offers
declined (the subscription set to end), or the cancellation undone."""

from datetime import datetime, timedelta
from decimal import Decimal
from enum import StrEnum

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from cancellations import emails, selectors
from cancellations.enums import CaseOutcome, CaseStepKind, OfferKind
from cancellations.errors import CancellationError, CancellationInputError
from cancellations.models import CancellationCase, Offer
from cancellations.services.cases import (
    _clean_text,
    _lock_case,
    _note_words,
    _require_open,
    _start,
    _step,
)
from cancellations.webhooks import case_event_publish
from core.dates import add_months
from core.enums import WebhookEventType
from core.errors import NotFoundError
from desk import services as desk_services
from desk.enums import CALLBACK_WINDOW_START, CallbackSource, CallbackWindow
from subscriptions import services as subscription_services
from subscriptions.actors import Actor
from subscriptions.enums import SubscriptionStatus
from subscriptions.models import Plan, Subscription

CALLBACK_MAX_DAYS_AHEAD = 14


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
    # The case is locked and read: the decision itself need not do it again.
    if decision == Decision.DECLINE:
        return _decline(case, actor=actor, text=text, immediately=immediately, now=now)
    return _accept(case, offer_id=offer_id, actor=actor, options=options, now=now)


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
    """Carry out the offer on the subscription. Returns (final cost, options kept, the
    subscription as the change left it)."""
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
        changed = subscription_services.subscription_pause(
            subscription=subscription, until=add_months(now, months), actor=actor, now=now
        )
        cost = (subscription.monthly_amount * months).quantize(Decimal("0.01"))
        return cost, {"months": months}, changed
    if offer.kind == OfferKind.DOWNGRADE:
        plan = Plan.objects.get(pk=parameters["plan_id"])
        changed = subscription_services.subscription_change_plan(
            subscription=subscription, plan=plan, actor=actor, note=f"offer {offer.pk}"
        )
        return offer.cost, {}, changed
    if offer.kind == OfferKind.LOYALTY_BONUS:
        event = subscription_services.subscription_grant_credit(
            subscription=subscription,
            amount=Decimal(parameters["amount"]),
            actor=actor,
            note=f"loyalty bonus, offer {offer.pk}",
        )
        return offer.cost, {}, event.subscription
    if offer.kind == OfferKind.DISCOUNT:
        event = subscription_services.subscription_grant_discount(
            subscription=subscription,
            percent=parameters["percent"],
            months=parameters["months"],
            actor=actor,
            now=now,
        )
        return offer.cost, {}, event.subscription
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
    return _accept(_lock_case(case), offer_id=offer_id, actor=actor, options=options, now=now)


def _accept(
    case: CancellationCase, *, offer_id: int, actor: Actor, options: dict | None, now: datetime
) -> CancellationCase:
    """``offer_accept`` on a case this transaction has locked (``_lock_case``)."""
    options = options or {}
    offer = case.offers.filter(pk=offer_id).first()
    if offer is None:
        raise NotFoundError(_("This case has no offer with this id."))
    if offer.withdrawn:
        raise CancellationError(_("This offer is no longer available."))
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
    cost, kept_options, case.subscription = _apply_offer(offer, case, actor, options, now)
    offer.accepted_at, offer.accepted_cost, offer.options = now, cost, kept_options
    offer.save(update_fields=["accepted_at", "accepted_cost", "options"])
    case.outcome = CaseOutcome.SAVED
    case.decided_at = now
    case.accepted_offer = offer
    case.save(update_fields=["outcome", "decided_at", "accepted_offer"])
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
    return _decline(_lock_case(case), actor=actor, text=text, immediately=immediately, now=now)


def _decline(
    case: CancellationCase, *, actor: Actor, text: str, immediately: bool, now: datetime
) -> CancellationCase:
    """``cancellation_decline`` on a case this transaction has locked (``_lock_case``)."""
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
    case.save(update_fields=["reason_text", "outcome", "decided_at", "cancel_effective_at"])
    _close_callbacks(case, now, note="cancelled")
    skipped = {"reason_skipped": True} if case.reason_id is None else {}
    _step(case, CaseStepKind.DECLINED, actor, now, immediately=immediately, **skipped)
    case_event_publish(case=case, event_type=WebhookEventType.CANCELLATION_CANCELLED)
    emails.send_case_cancelled(case)
    return case


@transaction.atomic
def cancellation_leave(
    *,
    subscription: Subscription,
    actor: Actor,
    language: str = "",
    reason_seed: str = "",
    now: datetime | None = None,
) -> CancellationCase:
    """The customer cancels straight away, without a reason or an offer (the first page's
    "just cancel" path, § 312k BGB style): the case is opened — or the open one resumed —
    and declined in one transaction. A second click finds the subscription set to end.

    Side effects: those of ``cancellation_start`` and ``cancellation_decline`` (its DECLINED
    step says ``reason_skipped`` when no reason was given).
    """
    now = now or timezone.now()
    case, _created = _start(subscription, actor, language, now, reason_seed)
    return cancellation_decline(case=case, actor=actor, now=now)


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
