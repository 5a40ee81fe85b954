"""Reads for the cancellation flow, including the offer engine."""

import random
from datetime import date, datetime
from decimal import Decimal

from django.conf import settings
from django.db.models import Max, QuerySet
from django.utils import timezone

from cancellations import offer_rules
from cancellations.enums import CaseOutcome
from cancellations.models import (
    CancellationCase,
    ExitReason,
    Offer,
    OfferRule,
)
from desk import selectors as desk_selectors
from desk.enums import CallbackSource
from desk.models import CallbackRequest
from subscriptions.models import Plan, Subscription
from subscriptions.selectors import next_cheaper_plan, tenure_months

CENT = Decimal("0.01")
# An offer the engine proposes; ``rule`` is the plain rule (its ``id`` is the OfferRule's pk).
OfferProposal = offer_rules.Proposal
# OfferRule's fields the engine reads (named as in ``offer_rules.Rule``, the pk as ``id``).
RULE_FIELDS = (
    "pk",
    "kind",
    "starts_on",
    "ends_on",
    "min_tenure_months",
    "min_monthly_value",
    "requires_cheaper_plan",
    "cooldown_months",
    "max_cost_share",
    "pause_max_months",
    "discount_percent",
    "discount_months",
    "bonus_kind",
    "bonus_amount",
    "billing_intervals",
    "currencies",
)


def offer_rules_in_force() -> list[offer_rules.Rule]:
    """The active offer rules as plain data, in the engine's order (priority, highest
    first, then age), each with the codes of the exit reasons it names. One query."""
    fields: dict[int, dict] = {}
    reasons: dict[int, set[str]] = {}
    plans: dict[int, set[str]] = {}
    rows = (
        OfferRule.objects.filter(active=True)
        .order_by("-priority", "pk")
        .values(*RULE_FIELDS, "reasons__code", "plans__code")
    )
    for row in rows:
        code, plan, pk = row.pop("reasons__code"), row.pop("plans__code"), row.pop("pk")
        fields.setdefault(pk, row)
        reasons.setdefault(pk, set()).update([code] if code is not None else [])
        plans.setdefault(pk, set()).update([plan] if plan is not None else [])
    return [
        offer_rules.Rule(
            id=pk,
            reasons=frozenset(reasons[pk]),
            plans=frozenset(plans[pk]),
            **{
                **row,
                "billing_intervals": frozenset(row["billing_intervals"]),
                "currencies": frozenset(c.upper() for c in row["currencies"]),
            },
        )
        for pk, row in fields.items()
    ]


def offer_economics() -> offer_rules.Economics:
    """The money figures of the offer engine, from settings."""
    return offer_rules.Economics(
        expected_remaining_months=settings.TACK_EXPECTED_REMAINING_MONTHS,
        default_max_cost_share=Decimal(str(settings.TACK_OFFER_MAX_COST_SHARE)),
        callback_cost=Decimal(str(settings.TACK_CALLBACK_COST)).quantize(CENT),
    )


def cheaper_plan_of(plan: Plan | None) -> offer_rules.CheaperPlan | None:
    """A plan as the offer engine's downgrade target."""
    if plan is None:
        return None
    return offer_rules.CheaperPlan(plan.pk, plan.code, plan.name, plan.monthly_price)


def offers_for(
    *, subscription: Subscription, reason: ExitReason, now: datetime | None = None
) -> list[OfferProposal]:
    """At most two offers, of different kinds, that fit this customer and reason
    (``cancellations.offer_rules.proposals`` over the rules in force and what we know of the
    customer). Phone and web get the same answer for the same customer.

    Queries: the rules, the customer's last accepted offer of each kind, and the next
    cheaper plan only when a rule that applies looks at it.
    """
    now = now or timezone.now()
    today: date = timezone.localdate(now)
    rules = [
        rule
        for rule in offer_rules_in_force()
        if offer_rules.rule_applies(rule, reason=reason.code, today=today)
    ]
    if not rules:
        return []
    last_accepted = dict(
        Offer.objects.filter(case__customer_id=subscription.customer_id, accepted_at__isnull=False)
        .values_list("kind")
        .annotate(last=Max("accepted_at"))
    )
    cheaper = None
    if any(offer_rules.needs_cheaper_plan(rule) for rule in rules):
        cheaper = cheaper_plan_of(next_cheaper_plan(plan=subscription.plan))
    customer = offer_rules.Customer(
        monthly_amount=subscription.monthly_amount,
        status=subscription.status,
        tenure_months=tenure_months(customer=subscription.customer, today=today),
        cheaper_plan=cheaper,
        discount_until=subscription.discount_until,
        last_accepted=last_accepted,
        billing_interval=subscription.plan.billing_interval,
        plan=subscription.plan.code,
        currency=subscription.currency,
    )
    return offer_rules.proposals(
        rules=rules,
        reason=reason.code,
        customer=customer,
        now=now,
        today=today,
        economics=offer_economics(),
    )


def shuffled_reason_ids(*, seed: str) -> list[int]:
    """The active reasons but "something else", in an order shuffled by ``seed``: the same
    link shows the same order on every visit, and the case records it when it opens."""
    ids = list(ExitReason.objects.filter(active=True, is_other=False).values_list("pk", flat=True))
    random.Random(seed).shuffle(ids)
    return ids


def exit_reasons_in_order(*, order: list[int]) -> list[ExitReason]:
    """The active reasons in the shuffled ``order``, "other" last."""
    reasons = list(ExitReason.objects.filter(active=True))
    position = {pk: index for index, pk in enumerate(order)}
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
