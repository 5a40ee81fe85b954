"""The offer engine: which offers fit a customer who wants to leave, as plain functions over
plain data.

No database, no settings: the caller passes the configured rules (``OfferRule``), what it
knows about the customer (``Customer``) and the money figures (``Economics``). The product
(``cancellations.selectors.offers_for``) and the demo seeder (``demo.cases.OfferEngine``) both
call ``proposals``, so they cannot disagree.

A rule applies when it is in its dates and matches the reason (or names none), and its
conditions hold: its targeting (billing interval, plan, currency), tenure, monthly value, a
cheaper plan where needed, and no offer of the same kind accepted within its cooldown. The
economics guard then drops any offer that would cost more than the rule's share of the
customer's expected remaining value. At most two offers, of different kinds, highest priority
first.
"""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal

from cancellations.enums import BonusKind, OfferKind
from core.dates import add_months
from subscriptions.enums import BillingInterval, SubscriptionStatus

CENT = Decimal("0.01")
MAX_OFFERS = 2


@dataclass(frozen=True, slots=True)
class Rule:
    """One configured offer rule (``cancellations.models.OfferRule``)."""

    id: int
    kind: str
    reasons: frozenset[str] = frozenset()  # exit reason codes; empty: every reason
    starts_on: date | None = None
    ends_on: date | None = None
    min_tenure_months: int = 0
    min_monthly_value: Decimal = Decimal("0")
    requires_cheaper_plan: bool = False
    cooldown_months: int = 12
    max_cost_share: Decimal | None = None  # None: ``Economics.default_max_cost_share``
    pause_max_months: int = 3
    discount_percent: int = 0
    discount_months: int = 0
    bonus_kind: str = BonusKind.FREE_MONTH
    bonus_amount: Decimal = Decimal("0")
    # Targeting (empty: every one): how often billed, plan codes, currencies.
    billing_intervals: frozenset[str] = frozenset()
    plans: frozenset[str] = frozenset()
    currencies: frozenset[str] = frozenset()


@dataclass(frozen=True, slots=True)
class CheaperPlan:
    """The plan a downgrade would move the customer to."""

    id: int
    code: str
    name: str
    monthly_price: Decimal


@dataclass(frozen=True, slots=True)
class Customer:
    """What the rules look at: the subscription's amount and status, the customer's tenure,
    the next cheaper plan (if any), a discount still running, and when the customer last
    accepted an offer of each kind."""

    monthly_amount: Decimal
    status: str
    tenure_months: int
    cheaper_plan: CheaperPlan | None = None
    discount_until: datetime | None = None
    last_accepted: Mapping[str, datetime] = field(default_factory=dict)
    billing_interval: str = BillingInterval.MONTH
    plan: str = ""
    currency: str = ""


@dataclass(frozen=True, slots=True)
class Economics:
    """The money figures the guard and the costs use (settings in the product)."""

    expected_remaining_months: int
    default_max_cost_share: Decimal
    callback_cost: Decimal


@dataclass(frozen=True, slots=True)
class Proposal:
    """An offer a rule would make, with the most it can cost."""

    rule: Rule
    kind: str
    parameters: dict
    cost: Decimal


def rule_applies(rule: Rule, *, reason: str, today: date) -> bool:
    """Whether the rule is in its dates today and covers this exit reason."""
    if rule.reasons and reason not in rule.reasons:
        return False
    if rule.starts_on is not None and rule.starts_on > today:
        return False
    return rule.ends_on is None or rule.ends_on >= today


def needs_cheaper_plan(rule: Rule) -> bool:
    """Whether the rule looks at the next cheaper plan (so a caller knows to find it)."""
    return rule.requires_cheaper_plan or rule.kind == OfferKind.DOWNGRADE


def expected_remaining_value(*, monthly_amount: Decimal, economics: Economics) -> Decimal:
    """What the customer is expected to pay from now on if they stay."""
    return (monthly_amount * economics.expected_remaining_months).quantize(CENT)


def max_cost(rule: Rule, customer: Customer, economics: Economics) -> Decimal:
    """The most an offer of this rule may cost for this customer (the economics guard)."""
    share = rule.max_cost_share
    if share is None:
        share = economics.default_max_cost_share
    value = expected_remaining_value(monthly_amount=customer.monthly_amount, economics=economics)
    return (value * share).quantize(CENT)


def targets(rule: Rule, customer: Customer) -> bool:
    """Whether the customer's billing interval, plan and currency are the rule's."""
    return (
        (not rule.billing_intervals or customer.billing_interval in rule.billing_intervals)
        and (not rule.plans or customer.plan in rule.plans)
        and (not rule.currencies or customer.currency.upper() in rule.currencies)
    )


def conditions_hold(rule: Rule, customer: Customer, *, now: datetime) -> bool:
    """Targeting, tenure, monthly value, a cheaper plan where required, and the kind's
    cooldown."""
    if not targets(rule, customer):
        return False
    if customer.tenure_months < rule.min_tenure_months:
        return False
    if customer.monthly_amount < rule.min_monthly_value:
        return False
    if rule.requires_cheaper_plan and customer.cheaper_plan is None:
        return False
    accepted = customer.last_accepted.get(rule.kind)
    return not (accepted and accepted > add_months(now, -rule.cooldown_months))


def proposal_for(
    rule: Rule, customer: Customer, *, now: datetime, economics: Economics
) -> Proposal | None:
    """The offer this rule would make to this customer, with its cost; None if it can't."""
    amount, kind = customer.monthly_amount, rule.kind
    if kind == OfferKind.PAUSE:
        if customer.status != SubscriptionStatus.ACTIVE:
            return None
        months = rule.pause_max_months
        return Proposal(rule, kind, {"max_months": months}, (amount * months).quantize(CENT))
    if kind == OfferKind.DOWNGRADE:
        cheaper = customer.cheaper_plan
        if cheaper is None or cheaper.monthly_price >= amount:
            return None
        saving = amount - cheaper.monthly_price
        parameters = {
            "plan_id": cheaper.id,
            "plan": cheaper.code,
            "plan_name": cheaper.name,
            "new_price": str(cheaper.monthly_price),
            "monthly_saving": str(saving),
        }
        cost = (saving * economics.expected_remaining_months).quantize(CENT)
        return Proposal(rule, kind, parameters, cost)
    if kind == OfferKind.LOYALTY_BONUS:
        value = amount if rule.bonus_kind == BonusKind.FREE_MONTH else rule.bonus_amount
        if value <= 0:
            return None
        years = customer.tenure_months // 12
        parameters = {"bonus": rule.bonus_kind, "amount": str(value), "years": years}
        return Proposal(rule, kind, parameters, value.quantize(CENT))
    if kind == OfferKind.DISCOUNT:
        if customer.discount_until is not None and customer.discount_until > now:
            return None
        percent, months = rule.discount_percent, rule.discount_months
        new_price = (amount * (100 - percent) / 100).quantize(CENT)
        parameters = {"percent": percent, "months": months, "new_price": str(new_price)}
        return Proposal(rule, kind, parameters, ((amount - new_price) * months).quantize(CENT))
    if kind == OfferKind.CALLBACK:
        return Proposal(rule, kind, {}, economics.callback_cost.quantize(CENT))
    return None


def proposals(
    *,
    rules: Sequence[Rule],
    reason: str,
    customer: Customer,
    now: datetime,
    today: date,
    economics: Economics,
) -> list[Proposal]:
    """At most two offers, of different kinds, that fit this customer and reason.

    ``rules`` in the engine's order (priority, highest first, then age); ``today`` is
    ``now``'s date in the company's time zone. Pure: no side effects.
    """
    chosen: list[Proposal] = []
    for rule in rules:
        if len(chosen) == MAX_OFFERS:
            break
        if not rule_applies(rule, reason=reason, today=today):
            continue
        if any(p.kind == rule.kind for p in chosen):
            continue
        if not conditions_hold(rule, customer, now=now):
            continue
        proposal = proposal_for(rule, customer, now=now, economics=economics)
        if proposal is None or proposal.cost > max_cost(rule, customer, economics):
            continue
        chosen.append(proposal)
    return chosen
