"""Reads for the cancellation flow, including the offer engine."""

from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal

from django.conf import settings
from django.db.models import Max, Q, QuerySet
from django.utils import timezone

from cancellations.enums import BonusKind, CaseOutcome, OfferKind
from cancellations.models import (
    CancellationCase,
    ExitReason,
    Offer,
    OfferRule,
)
from core.dates import add_months
from desk import selectors as desk_selectors
from desk.enums import CallbackSource
from desk.models import CallbackRequest
from subscriptions.enums import SubscriptionStatus
from subscriptions.models import Subscription
from subscriptions.selectors import next_cheaper_plan, tenure_months

CENT = Decimal("0.01")
MAX_OFFERS = 2


@dataclass(frozen=True)
class OfferProposal:
    rule: OfferRule
    kind: str
    parameters: dict
    cost: Decimal


def expected_remaining_value(*, subscription: Subscription) -> Decimal:
    """What the customer is expected to pay from now on if they stay."""
    return (subscription.monthly_amount * settings.TACK_EXPECTED_REMAINING_MONTHS).quantize(CENT)


def _max_cost(rule: OfferRule, subscription: Subscription) -> Decimal:
    share = rule.max_cost_share
    if share is None:
        share = Decimal(str(settings.TACK_OFFER_MAX_COST_SHARE))
    return (expected_remaining_value(subscription=subscription) * share).quantize(CENT)


def _proposal(rule: OfferRule, subscription: Subscription, tenure: int) -> OfferProposal | None:
    """The offer this rule would make to this subscription, with its cost; None if it can't."""
    amount = subscription.monthly_amount
    kind = rule.kind
    if kind == OfferKind.PAUSE:
        if subscription.status != SubscriptionStatus.ACTIVE:
            return None
        months = rule.pause_max_months
        return OfferProposal(rule, kind, {"max_months": months}, (amount * months).quantize(CENT))
    if kind == OfferKind.DOWNGRADE:
        cheaper = next_cheaper_plan(plan=subscription.plan)
        if cheaper is None or cheaper.monthly_price >= amount:
            return None
        saving = amount - cheaper.monthly_price
        parameters = {
            "plan_id": cheaper.pk,
            "plan": cheaper.code,
            "plan_name": cheaper.name,
            "new_price": str(cheaper.monthly_price),
            "monthly_saving": str(saving),
        }
        cost = saving * settings.TACK_EXPECTED_REMAINING_MONTHS
        return OfferProposal(rule, kind, parameters, cost.quantize(CENT))
    if kind == OfferKind.LOYALTY_BONUS:
        value = amount if rule.bonus_kind == BonusKind.FREE_MONTH else rule.bonus_amount
        if value <= 0:
            return None
        parameters = {"bonus": rule.bonus_kind, "amount": str(value), "years": tenure // 12}
        return OfferProposal(rule, kind, parameters, value.quantize(CENT))
    if kind == OfferKind.DISCOUNT:
        if subscription.discount_until and subscription.discount_until > timezone.now():
            return None
        percent, months = rule.discount_percent, rule.discount_months
        new_price = (amount * (100 - percent) / 100).quantize(CENT)
        parameters = {"percent": percent, "months": months, "new_price": str(new_price)}
        return OfferProposal(rule, kind, parameters, ((amount - new_price) * months).quantize(CENT))
    if kind == OfferKind.CALLBACK:
        cost = Decimal(str(settings.TACK_CALLBACK_COST)).quantize(CENT)
        return OfferProposal(rule, kind, {}, cost)
    return None


def offers_for(
    *, subscription: Subscription, reason: ExitReason, now: datetime | None = None
) -> list[OfferProposal]:
    """At most two offers, of different kinds, that fit this customer and reason.

    A rule applies when it is active and in its dates, matches the reason (or names none),
    and its conditions hold: tenure, monthly value, a cheaper plan where needed, and no
    offer of the same kind accepted within its cooldown. The economics guard then drops any
    offer that would cost more than the rule's share of the customer's expected remaining
    value. Phone and web get the same answer for the same customer.
    """
    now = now or timezone.now()
    today: date = timezone.localdate(now)
    tenure = tenure_months(customer=subscription.customer, today=today)
    rules = (
        OfferRule.objects.filter(active=True)
        .filter(Q(starts_on__isnull=True) | Q(starts_on__lte=today))
        .filter(Q(ends_on__isnull=True) | Q(ends_on__gte=today))
        .filter(Q(reasons=reason) | Q(reasons__isnull=True))
        .distinct()
        .order_by("-priority", "pk")
    )
    last_accepted = dict(
        Offer.objects.filter(case__customer_id=subscription.customer_id, accepted_at__isnull=False)
        .values_list("kind")
        .annotate(last=Max("accepted_at"))
    )
    proposals: list[OfferProposal] = []
    for rule in rules:
        if len(proposals) == MAX_OFFERS:
            break
        if any(p.kind == rule.kind for p in proposals):
            continue
        if tenure < rule.min_tenure_months or subscription.monthly_amount < rule.min_monthly_value:
            continue
        if rule.requires_cheaper_plan and next_cheaper_plan(plan=subscription.plan) is None:
            continue
        accepted = last_accepted.get(rule.kind)
        if accepted and accepted > add_months(now, -rule.cooldown_months):
            continue
        proposal = _proposal(rule, subscription, tenure)
        if proposal is None or proposal.cost > _max_cost(rule, subscription):
            continue
        proposals.append(proposal)
    return proposals


def exit_reasons_in_order(*, case: CancellationCase) -> list[ExitReason]:
    """The active reasons in the case's shuffled order, "other" last."""
    reasons = list(ExitReason.objects.filter(active=True))
    position = {pk: index for index, pk in enumerate(case.reason_order)}
    return sorted(reasons, key=lambda r: (r.is_other, position.get(r.pk, len(position)), r.order))


def open_case_for(*, subscription: Subscription) -> CancellationCase | None:
    # The offers page shows the case's reason: one query instead of two.
    return (
        CancellationCase.objects.filter(subscription=subscription, outcome=CaseOutcome.OPEN)
        .select_related("reason")
        .first()
    )


def latest_case_for(*, subscription: Subscription) -> CancellationCase | None:
    return (
        CancellationCase.objects.filter(subscription=subscription)
        .select_related("accepted_offer", "reason", "subscription__plan")
        .order_by("-opened_at", "-pk")
        .first()
    )


def current_offers(*, case: CancellationCase) -> QuerySet[Offer]:
    return case.offers.filter(withdrawn=False).order_by("position")


# The calls the desk holds about a case: its "call me back" and an interview's follow-up.
CASE_CALL_SOURCES = (CallbackSource.CANCELLATION, CallbackSource.FOLLOW_UP)


def pending_callback(*, case: CancellationCase) -> CallbackRequest | None:
    return desk_selectors.pending_callback(sources=CASE_CALL_SOURCES, source_ref=case.pk)


def case_callbacks(*, case: CancellationCase):
    return desk_selectors.callbacks_for(sources=CASE_CALL_SOURCES, source_ref=case.pk)


def reason_of_called_case(*, callback: CallbackRequest) -> int | None:
    """The exit reason of the case a queued call is about (to pre-fill the interview)."""
    if callback.source not in CASE_CALL_SOURCES or callback.source_ref is None:
        return None
    return (
        CancellationCase.objects.filter(pk=callback.source_ref)
        .values_list("reason_id", flat=True)
        .first()
    )


def case_detail(*, pk: int) -> CancellationCase:
    return (
        CancellationCase.objects.select_related("subscription", "customer", "reason")
        .prefetch_related("offers")
        .get(pk=pk)
    )
