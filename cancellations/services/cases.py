"""Opening a case and recording why: the steps every case goes through (web, phone, API)."""

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from cancellations import selectors
from cancellations.enums import CaseChannel, CaseOutcome, CaseStepKind
from cancellations.errors import CancellationError, CancellationInputError, CaseAlreadyDecided
from cancellations.models import CancellationCase, CaseStep, ExitReason, Offer
from cancellations.webhooks import case_event_publish
from core.changes import changes_mark
from core.enums import ChangeKind, WebhookEventType
from core.webhooks import webhook_subscribers
from desk import selectors as desk_selectors
from subscriptions.actors import Actor
from subscriptions.enums import SubscriptionStatus
from subscriptions.models import Subscription
from subscriptions.selectors import tenure_months

MAX_TEXT = 2000


def _step(case: CancellationCase, kind: str, actor: Actor, at: datetime, **data) -> CaseStep:
    changes_mark(kind=ChangeKind.CASE, ids=[case.pk])
    return CaseStep.objects.create(case=case, kind=kind, at=at, actor_label=actor.label, data=data)


def _lock_case(case: CancellationCase) -> CancellationCase:
    return selectors.case_for_update(pk=case.pk)


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
    """Open a case for this subscription, or resume the one that is open, without a reason
    yet. (The web flow opens its cases at the customer's first click, with a reason —
    ``cancellation_open`` — or cancelled at once — ``cancellation_leave``.)

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
    reason_seed: str = "",
    now: datetime | None = None,
) -> CaseOpened:
    """Open (or resume) a case with the customer's reason, in one transaction: what the API's
    "open a case" is, and the web's first click on a reason (a case opens on a click, never
    on a page view). Whether it was created is decided under the subscription's lock, so of
    many concurrent calls exactly one says created. ``reason_seed`` shuffled the reasons the
    customer saw (the link they came through); the case records that order.

    Side effects: those of ``cancellation_start`` and ``cancellation_choose_reason``.
    """
    now = now or timezone.now()
    case, created = _start(subscription, actor, language, now, reason_seed)
    case = cancellation_choose_reason(
        case=case, reason=reason, actor=actor, text=text, competitor=competitor, now=now
    )
    return CaseOpened(case, created)


def _start(
    subscription: Subscription, actor: Actor, language: str, now: datetime, reason_seed: str = ""
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
    reason_ids = selectors.shuffled_reason_ids(
        seed=reason_seed or f"{subscription.pk}:{now.isoformat()}"
    )
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


def _note_words(case: CancellationCase, *, text: str, competitor: str) -> CancellationCase:
    """The customer's own words about the reason they chose (a locked, open case)."""
    text, competitor = _clean_text(text), _clean_text(competitor)[:120]
    if text or competitor:
        case.reason_text = text or case.reason_text
        case.competitor = competitor or case.competitor
        case.save(update_fields=["reason_text", "competitor"])
        changes_mark(kind=ChangeKind.CASE, ids=[case.pk])  # a competitor can change the group
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
