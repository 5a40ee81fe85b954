"""The product and the demo seeder share one offer engine: for the same customer, reason and
moment, ``cancellations.selectors.offers_for`` (over database rows) and the demo's
``OfferEngine`` (over its in-memory subscriptions) propose the same offers."""

import random
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
from django.apps import apps

from cancellations.defaults import ensure_defaults
from cancellations.models import CancellationCase, ExitReason, Offer, OfferRule
from cancellations.selectors import offers_for
from demo.cases import OfferEngine, load_rules
from demo.dates import local_date, tenure_at
from demo.history import Life
from demo.seed import PLANS, _catalog
from subscriptions.models import Customer, Plan, Subscription

pytestmark = pytest.mark.django_db

CUSTOMERS = 1000
NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
KINDS = ["pause", "downgrade", "loyalty_bonus", "discount", "callback"]
STATUSES = ["active"] * 6 + ["paused", "cancel_pending"]


def _more_rules() -> None:
    """Rules beyond the shipped ones, so every condition is exercised: dates, shares, a
    credit, a minimum value, a cheaper plan required by a rule that is no downgrade."""
    spring = OfferRule.objects.create(
        name="Spring pause",
        kind="pause",
        priority=85,
        starts_on=date(2026, 3, 1),
        ends_on=date(2026, 5, 31),
        pause_max_months=2,
        cooldown_months=6,
    )
    spring.reasons.set(ExitReason.objects.filter(code__in=["price", "no_need"]))
    OfferRule.objects.create(
        name="Credit for the dear plans",
        kind="loyalty_bonus",
        priority=75,
        min_monthly_value=Decimal("250"),
        bonus_kind="credit",
        bonus_amount=Decimal("120"),
        cooldown_months=3,
    )
    OfferRule.objects.create(
        name="Deep discount, tight guard",
        kind="discount",
        priority=65,
        discount_percent=50,
        discount_months=6,
        max_cost_share=Decimal("0.25"),
        requires_cheaper_plan=True,
    )
    OfferRule.objects.create(
        name="Summer callback",
        kind="callback",
        priority=55,
        starts_on=date(2025, 6, 1),
        ends_on=date(2025, 8, 31),
    )


def _customers(rng: random.Random, plans: list[Plan]) -> list[dict]:
    """1,000 varied customers, each with a moment and a reason to ask for offers."""
    reasons = list(ExitReason.objects.values_list("code", flat=True))
    people = []
    for n in range(CUSTOMERS):
        at = NOW - timedelta(days=rng.randrange(0, 500), seconds=rng.randrange(86_400))
        plan = rng.choice(plans)
        status = rng.choice(STATUSES)
        discount_until = rng.choice(
            [None, None, at - timedelta(days=rng.randrange(1, 90)), at + timedelta(days=40)]
        )
        accepted = {}
        for kind in rng.sample(KINDS, rng.choice([0, 0, 1, 2, 3])):
            accepted[kind] = at - timedelta(days=rng.randrange(0, 900))
        people.append(
            {
                "n": n,
                "since": at.date() - timedelta(days=rng.randrange(0, 3700)),
                "plan": plan,
                "amount": plan.monthly_price - rng.choice([0, 0, 0, 10, 60]),
                "status": status,
                "discount_until": discount_until,
                "accepted": accepted,
                "at": at,
                "reason": rng.choice(reasons),
            }
        )
    return people


def _in_the_database(people: list[dict]) -> list[Subscription]:
    customers = Customer.objects.bulk_create(
        Customer(external_id=f"X{p['n']}", name=f"Customer {p['n']}", customer_since=p["since"])
        for p in people
    )
    subscriptions = Subscription.objects.bulk_create(
        Subscription(
            external_id=f"XS{p['n']}",
            customer=customer,
            plan=p["plan"],
            status=p["status"],
            started_at=datetime.combine(p["since"], datetime.min.time(), tzinfo=UTC),
            current_period_end=p["at"] + timedelta(days=10),
            paused_until=p["at"] + timedelta(days=30) if p["status"] == "paused" else None,
            cancel_at=p["at"] + timedelta(days=10) if p["status"] == "cancel_pending" else None,
            monthly_amount=p["amount"],
            discount_until=p["discount_until"],
        )
        for p, customer in zip(people, customers, strict=True)
    )
    # An accepted offer of each kind in the customer's history, each in a case of its own.
    history = [
        (p, subscription, kind, when)
        for p, subscription in zip(people, subscriptions, strict=True)
        for kind, when in p["accepted"].items()
    ]
    cases = CancellationCase.objects.bulk_create(
        CancellationCase(
            subscription=subscription,
            customer_id=subscription.customer_id,
            channel="web",
            outcome="saved",
            plan=p["plan"],
            monthly_amount=p["amount"],
            currency="SEK",
            tenure_months=0,
            opened_at=when,
            decided_at=when,
        )
        for p, subscription, kind, when in history
    )
    Offer.objects.bulk_create(
        Offer(
            case=case,
            kind=kind,
            position=1,
            cost=Decimal("1"),
            presented_at=when,
            accepted_at=when,
        )
        for case, (_p, _subscription, kind, when) in zip(cases, history, strict=True)
    )
    return subscriptions


def _shown(proposals) -> list[tuple]:
    return [(p.rule.id, p.kind, p.parameters, p.cost) for p in proposals]


def test_offer_engine_product_and_demo_propose_the_same_for_1000_customers():
    ensure_defaults(apps)
    _more_rules()
    plans = [
        Plan.objects.create(
            code=code, name=name, monthly_price=price, rank=rank, contract_months=months
        )
        for code, name, price, rank, months in PLANS
    ]
    rng = random.Random(18)
    people = _customers(rng, plans)
    subscriptions = _in_the_database(people)
    reasons = {reason.code: reason for reason in ExitReason.objects.all()}
    catalog = {plan.id: plan for plan in _catalog({plan.code: plan.pk for plan in plans})}
    engine = OfferEngine(load_rules())

    offered = 0
    kinds_seen = set()
    for p, subscription in zip(people, subscriptions, strict=True):
        at = p["at"]
        product = offers_for(subscription=subscription, reason=reasons[p["reason"]], now=at)
        life = Life(
            subscription.pk,
            subscription.customer_id,
            "sv",
            p["since"],
            subscription.started_at,
            catalog[p["plan"].pk],
            p["amount"],
            status=p["status"],
            discount_until=p["discount_until"],
            accepted=dict(p["accepted"]),
        )
        demo = engine.offers_for(life, p["reason"], at, local_date(at), tenure_at(life.since, at))
        assert _shown(demo) == _shown(product), (p, _shown(product))
        offered += len(product)
        kinds_seen.update(proposal.kind for proposal in product)

    # The sample exercised the engine: every kind proposed, and many offers in all.
    assert kinds_seen == set(KINDS)
    assert offered > 800
