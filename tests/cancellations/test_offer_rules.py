"""The offer engine's rules over plain data: no database."""

from datetime import UTC, date, datetime
from decimal import Decimal

from cancellations.offer_rules import (
    CheaperPlan,
    Customer,
    Economics,
    Proposal,
    Rule,
    proposals,
)

NOW = datetime(2026, 3, 15, 10, 0, tzinfo=UTC)
TODAY = date(2026, 3, 15)
ECONOMICS = Economics(
    expected_remaining_months=12,
    default_max_cost_share=Decimal("0.5"),
    callback_cost=Decimal("50"),
)
BASIC = CheaperPlan(id=1, code="basic", name="Basic", monthly_price=Decimal("129.00"))

PAUSE = Rule(id=10, kind="pause", reasons=frozenset({"moving", "illness"}), pause_max_months=3)
DOWNGRADE = Rule(id=11, kind="downgrade", reasons=frozenset({"price"}), requires_cheaper_plan=True)
LOYALTY = Rule(id=12, kind="loyalty_bonus", min_tenure_months=36)
DISCOUNT = Rule(
    id=13,
    kind="discount",
    reasons=frozenset({"price"}),
    min_tenure_months=6,
    discount_percent=20,
    discount_months=3,
)
CALLBACK = Rule(id=14, kind="callback", reasons=frozenset({"poor_service"}))


def customer(**changes) -> Customer:
    """Seven years with us, 199 a month, active, a cheaper plan at 129."""
    facts = {
        "monthly_amount": Decimal("199.00"),
        "status": "active",
        "tenure_months": 84,
        "cheaper_plan": BASIC,
        "discount_until": None,
        "last_accepted": {},
    }
    return Customer(**{**facts, **changes})


def propose(rules, reason="price", **changes) -> list[Proposal]:
    return proposals(
        rules=rules,
        reason=reason,
        customer=customer(**changes),
        now=NOW,
        today=TODAY,
        economics=ECONOMICS,
    )


def kinds(rules, reason="price", **changes) -> list[str]:
    return [p.kind for p in propose(rules, reason, **changes)]


RULES = [PAUSE, DOWNGRADE, CALLBACK, LOYALTY, DISCOUNT]


def test_proposals_at_most_two_in_rule_order_matching_the_reason():
    assert kinds(RULES, "price") == ["downgrade", "loyalty_bonus"]
    assert kinds(RULES, "moving") == ["pause", "loyalty_bonus"]
    assert kinds(RULES, "poor_service") == ["callback", "loyalty_bonus"]
    assert kinds(RULES, "no_need") == ["loyalty_bonus"]


def test_proposals_of_one_kind_once():
    second_pause = Rule(id=20, kind="pause")
    assert kinds([PAUSE, second_pause, LOYALTY], "moving") == ["pause", "loyalty_bonus"]


def test_proposals_parameters_and_costs():
    pause, loyalty = propose(RULES, "moving")
    assert pause == Proposal(PAUSE, "pause", {"max_months": 3}, Decimal("597.00"))
    assert loyalty == Proposal(
        LOYALTY, "loyalty_bonus", {"bonus": "free_month", "amount": "199.00", "years": 7}, 199
    )
    downgrade = propose(RULES, "price")[0]
    assert downgrade == Proposal(
        DOWNGRADE,
        "downgrade",
        {
            "plan_id": 1,
            "plan": "basic",
            "plan_name": "Basic",
            "new_price": "129.00",
            "monthly_saving": "70.00",
        },
        Decimal("840.00"),  # 70 a month x 12 expected remaining months
    )
    discount = propose([DISCOUNT], "price")[0]
    assert discount == Proposal(
        DISCOUNT,
        "discount",
        {"percent": 20, "months": 3, "new_price": "159.20"},
        Decimal("119.40"),  # 39.80 x 3 months
    )
    assert propose([CALLBACK], "poor_service") == [
        Proposal(CALLBACK, "callback", {}, Decimal("50.00"))
    ]


def test_proposals_a_credit_bonus_costs_its_amount_and_none_without_one():
    credit = Rule(id=21, kind="loyalty_bonus", bonus_kind="credit", bonus_amount=Decimal("75"))
    assert propose([credit])[0].parameters == {"bonus": "credit", "amount": "75", "years": 7}
    assert propose([credit])[0].cost == Decimal("75.00")
    nothing = Rule(id=22, kind="loyalty_bonus", bonus_kind="credit")
    assert propose([nothing]) == []


def test_proposals_tenure_and_monthly_value_conditions():
    assert kinds(RULES, "price", tenure_months=5) == ["downgrade"]
    assert kinds(RULES, "price", tenure_months=6) == ["downgrade", "discount"]
    assert kinds(RULES, "price", tenure_months=36) == ["downgrade", "loyalty_bonus"]
    dear_only = Rule(id=23, kind="pause", min_monthly_value=Decimal("199.01"))
    assert kinds([dear_only], "moving") == []
    assert kinds([dear_only], "moving", monthly_amount=Decimal("199.01")) == ["pause"]


def test_proposals_no_cheaper_plan_no_downgrade():
    assert kinds(RULES, "price", cheaper_plan=None) == ["loyalty_bonus", "discount"]
    # A "cheaper" plan that costs as much as the customer pays is no downgrade.
    same = CheaperPlan(id=2, code="old", name="Old", monthly_price=Decimal("199.00"))
    assert kinds([DOWNGRADE], "price", cheaper_plan=same) == []
    # Any rule may require a cheaper plan.
    pause_if_cheaper = Rule(id=24, kind="pause", requires_cheaper_plan=True)
    assert kinds([pause_if_cheaper], "moving", cheaper_plan=None) == []


def test_proposals_rule_dates():
    later = Rule(id=25, kind="pause", starts_on=date(2026, 3, 16))
    ended = Rule(id=26, kind="pause", ends_on=date(2026, 3, 14))
    today_only = Rule(id=27, kind="pause", starts_on=TODAY, ends_on=TODAY)
    assert kinds([later, ended], "moving") == []
    assert kinds([later, ended, today_only], "moving") == ["pause"]


def test_proposals_cooldown_after_an_offer_of_the_kind_was_accepted():
    yearly = Rule(id=28, kind="pause", cooldown_months=12)
    just_inside = {"pause": datetime(2025, 3, 15, 10, 0, 1, tzinfo=UTC)}
    on_the_day = {"pause": datetime(2025, 3, 15, 10, 0, tzinfo=UTC)}
    other_kind = {"discount": datetime(2026, 3, 1, tzinfo=UTC)}
    assert kinds([yearly], "moving", last_accepted=just_inside) == []
    assert kinds([yearly], "moving", last_accepted=on_the_day) == ["pause"]
    assert kinds([yearly], "moving", last_accepted=other_kind) == ["pause"]


def test_proposals_pause_only_for_an_active_subscription():
    assert kinds([PAUSE], "moving", status="cancel_pending") == []
    assert kinds([PAUSE], "moving", status="paused") == []


def test_proposals_no_discount_while_one_runs():
    running = datetime(2026, 3, 15, 10, 0, 1, tzinfo=UTC)
    assert kinds([DISCOUNT], "price", discount_until=running) == []
    assert kinds([DISCOUNT], "price", discount_until=NOW) == ["discount"]


def test_proposals_economics_guard_drops_offers_that_cost_too_much():
    # 99 a month: expected remaining value 1,188; half of it is 594.
    cheap = {"monthly_amount": Decimal("99.00"), "cheaper_plan": None}
    long_pause = Rule(id=29, kind="pause", pause_max_months=3)  # 297: kept
    assert kinds([long_pause], "moving", **cheap) == ["pause"]
    # The guard at 0.2 (237.60) drops the 297 pause; the rule's own share beats the default.
    tight = Rule(id=30, kind="pause", pause_max_months=3, max_cost_share=Decimal("0.2"))
    assert kinds([tight], "moving", **cheap) == []
    # A downgrade from 199 to 129 costs 70 x 12 = 840: under half of 12 x 199 (1,194),
    # over 0.35 of it (835.80).
    assert kinds([DOWNGRADE], "price") == ["downgrade"]
    stingy = Rule(id=31, kind="downgrade", max_cost_share=Decimal("0.35"))
    assert kinds([stingy], "price") == []
    # A dropped offer leaves room for the next rule of another kind.
    assert kinds([tight, LOYALTY], "moving", **cheap) == ["loyalty_bonus"]


def test_proposals_targeting_by_billing_interval_plan_and_currency():
    monthly_pause = Rule(id=20, kind="pause", billing_intervals=frozenset({"month"}))
    gold_only = Rule(id=21, kind="callback", plans=frozenset({"gold"}))
    euro_only = Rule(
        id=22,
        kind="discount",
        currencies=frozenset({"EUR"}),
        discount_percent=10,
        discount_months=1,
    )
    rules = [monthly_pause, gold_only, euro_only]

    def kinds(**facts):
        return [p.kind for p in propose(rules, reason="moving", **facts)]

    assert kinds(billing_interval="month", plan="basic", currency="SEK") == ["pause"]
    assert kinds(billing_interval="year", plan="gold", currency="SEK") == ["callback"]
    assert kinds(billing_interval="year", plan="basic", currency="eur") == ["discount"]
    assert kinds(billing_interval="year", plan="basic", currency="SEK") == []


def test_default_rules_give_annual_plans_a_discount_on_the_next_year_instead_of_a_pause():
    from cancellations.defaults import RULES

    rules = [
        Rule(id=n, kind=kind, reasons=frozenset(codes), **extra)
        for n, (_, kind, codes, _, extra) in enumerate(RULES)
    ]

    def offered(interval):
        found = propose(rules, reason="moving", billing_interval=interval, tenure_months=12)
        return [(p.kind, p.parameters.get("percent"), p.parameters.get("months")) for p in found]

    assert offered("month") == [("pause", None, None)]
    assert offered("year") == [("discount", 20, 12)]
