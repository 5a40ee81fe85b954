"""Phone exit interviews, logged by agents through the same steps as the web flow."""

from datetime import datetime

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from cancellations import selectors
from cancellations.enums import CaseStepKind, InterviewOutcome, OfferKind
from cancellations.errors import CancellationInputError
from cancellations.models import CancellationCase, ExitReason
from cancellations.services.cases import _clean_text, _step, cancellation_open
from cancellations.services.decisions import cancellation_decline, offer_accept
from desk import services as desk_services
from desk.enums import CallbackSource
from desk.models import CallbackRequest
from subscriptions.actors import Actor
from subscriptions.enums import Channel
from subscriptions.models import Subscription


@transaction.atomic
def phone_interview_log(
    *,
    subscription: Subscription,
    agent,
    reason: ExitReason,
    outcome: InterviewOutcome | str,
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
    the offers come from the same engine. ``outcome`` is an InterviewOutcome: saved
    with the offer of ``offer_kind``, cancelled at period end or now, or a follow-up call
    at ``follow_up_at`` (queued for the agent). A resubmitted form (same ``submission_key``)
    returns the case it created. Side effects: those of the web flow's services, plus a
    FOLLOW_UP step and queue item, and closing ``callback``.
    """
    now = now or timezone.now()
    if outcome not in InterviewOutcome.values:
        raise CancellationInputError(_("Choose how the call ended."))
    if outcome == InterviewOutcome.SAVED and (not offer_kind or offer_kind == OfferKind.CALLBACK):
        raise CancellationInputError(_("Choose the offer the customer accepted."))
    if outcome == InterviewOutcome.FOLLOW_UP and (follow_up_at is None or follow_up_at <= now):
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
    if outcome == InterviewOutcome.SAVED:
        offer = selectors.current_offers(case=case).filter(kind=offer_kind).first()
        if offer is None:
            raise CancellationInputError(
                _("That offer is not available for this customer and reason.")
            )
        offer_accept(case=case, offer_id=offer.pk, actor=actor, options=options, now=now)
    elif outcome in (InterviewOutcome.CANCELLED, InterviewOutcome.CANCELLED_NOW):
        cancellation_decline(
            case=case, actor=actor, immediately=outcome == InterviewOutcome.CANCELLED_NOW, now=now
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
