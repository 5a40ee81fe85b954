from datetime import date, timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from cancellations import services
from cancellations.enums import OfferKind
from cancellations.models import OfferRule
from cancellations.selectors import offers_for
from subscriptions.actors import Actor
from subscriptions.models import Subscription
from tests.cancellations.conftest import reason
from tests.factories import make_subscription

pytestmark = pytest.mark.django_db


def kinds(subscription, code):
    return [p.kind for p in offers_for(subscription=subscription, reason=reason(code))]


def test_defaults_offer_at_most_two_fitting_offers_per_reason(subscription):
    assert kinds(subscription, "moving") == [OfferKind.PAUSE, OfferKind.LOYALTY_BONUS]
    assert kinds(subscription, "price") == [OfferKind.DOWNGRADE, OfferKind.LOYALTY_BONUS]
    assert kinds(subscription, "poor_service") == [OfferKind.CALLBACK, OfferKind.LOYALTY_BONUS]


def test_offer_parameters_and_costs_are_computed(subscription):
    pause, loyalty = offers_for(subscription=subscription, reason=reason("moving"))
    assert pause.parameters == {"max_months": 3}
    assert pause.cost == Decimal("597.00")  # 3 months x 199
    assert loyalty.parameters["bonus"] == "free_month"
    assert loyalty.cost == Decimal("199.00")
    downgrade = offers_for(subscription=subscription, reason=reason("price"))[0]
    assert downgrade.parameters["plan"] == "basic"
    assert downgrade.parameters["monthly_saving"] == "70.00"
    assert downgrade.cost == Decimal("840.00")  # 70 x 12 expected remaining months


def test_min_tenure_conditions(defaults, plans):
    today = timezone.localdate()
    three_months = make_subscription(plan=plans["standard"], since=today - timedelta(days=100))
    seven_months = make_subscription(plan=plans["standard"], since=today - timedelta(days=215))
    # Loyalty needs 36 months, the discount 6.
    assert kinds(three_months, "price") == [OfferKind.DOWNGRADE]
    assert kinds(seven_months, "price") == [OfferKind.DOWNGRADE, OfferKind.DISCOUNT]


def test_no_cheaper_plan_means_no_downgrade(defaults, plans):
    cheapest = make_subscription(plan=plans["basic"], since=date(2019, 1, 1))
    assert OfferKind.DOWNGRADE not in kinds(cheapest, "price")
    assert kinds(cheapest, "price") == [OfferKind.LOYALTY_BONUS, OfferKind.DISCOUNT]


def test_min_monthly_value_condition(subscription):
    OfferRule.objects.filter(kind=OfferKind.PAUSE).update(min_monthly_value=Decimal("250"))
    assert OfferKind.PAUSE not in kinds(subscription, "moving")
    OfferRule.objects.filter(kind=OfferKind.PAUSE).update(min_monthly_value=Decimal("199"))
    assert OfferKind.PAUSE in kinds(subscription, "moving")


def test_active_dates_condition(subscription):
    today = timezone.localdate()
    rule = OfferRule.objects.get(kind=OfferKind.PAUSE)
    rule.starts_on, rule.ends_on = today + timedelta(days=1), today + timedelta(days=30)
    rule.save()
    assert OfferKind.PAUSE not in kinds(subscription, "moving")
    rule.starts_on, rule.ends_on = today - timedelta(days=30), today - timedelta(days=1)
    rule.save()
    assert OfferKind.PAUSE not in kinds(subscription, "moving")
    rule.ends_on = today
    rule.save()
    assert OfferKind.PAUSE in kinds(subscription, "moving")
    rule.active = False
    rule.save()
    assert OfferKind.PAUSE not in kinds(subscription, "moving")


def test_recently_accepted_offer_of_the_same_kind_is_not_offered_again(subscription):
    case = services.cancellation_start(subscription=subscription, actor=Actor.customer())
    case = services.cancellation_choose_reason(
        case=case, reason=reason("moving"), actor=Actor.customer()
    )
    pause = case.offers.get(kind=OfferKind.PAUSE)
    services.offer_accept(
        case=case, offer_id=pause.pk, actor=Actor.customer(), options={"months": 1}
    )
    assert OfferKind.PAUSE not in kinds(subscription, "moving")
    # Once the cooldown has passed, it may be offered again.
    OfferRule.objects.filter(kind=OfferKind.PAUSE).update(cooldown_months=0)
    subscription.refresh_from_db()
    subscription.status = "active"
    assert OfferKind.PAUSE in kinds(subscription, "moving")


def test_economics_guard_drops_offers_costing_more_than_the_share(subscription, settings):
    # Expected remaining value: 199 x 12 = 2388. A pause of 3 months costs 597 (25 %).
    settings.TACK_OFFER_MAX_COST_SHARE = 0.25
    assert OfferKind.PAUSE in kinds(subscription, "moving")
    settings.TACK_OFFER_MAX_COST_SHARE = 0.24
    assert kinds(subscription, "moving") == [OfferKind.LOYALTY_BONUS]
    # A rule's own share overrides the setting.
    OfferRule.objects.filter(kind=OfferKind.PAUSE).update(max_cost_share=Decimal("0.30"))
    assert kinds(subscription, "moving") == [OfferKind.PAUSE, OfferKind.LOYALTY_BONUS]


def test_guard_is_recorded_cost_on_the_offer(subscription):
    case = services.cancellation_start(subscription=subscription, actor=Actor.customer())
    case = services.cancellation_choose_reason(
        case=case, reason=reason("price"), actor=Actor.customer()
    )
    offers = {o.kind: o for o in case.offers.all()}
    assert offers[OfferKind.DOWNGRADE].cost == Decimal("840.00")
    assert offers[OfferKind.DOWNGRADE].rule.kind == OfferKind.DOWNGRADE
    assert offers[OfferKind.LOYALTY_BONUS].cost == Decimal("199.00")


def test_rule_for_every_reason_applies_when_no_reason_is_named(subscription):
    OfferRule.objects.create(
        name="Everyone: discount",
        kind=OfferKind.DISCOUNT,
        priority=200,
        discount_percent=10,
        discount_months=2,
    )
    assert kinds(subscription, "no_need")[0] == OfferKind.DISCOUNT


def test_offers_for_reads_the_rules_the_history_and_the_cheaper_plan_only_when_needed(
    subscription, django_assert_num_queries
):
    subscription = Subscription.objects.select_related("customer", "plan").get(pk=subscription.pk)
    price, moving = reason("price"), reason("moving")

    # The rules (with their reasons), the accepted offers, the next cheaper plan.
    with django_assert_num_queries(3):
        assert len(offers_for(subscription=subscription, reason=price)) == 2
    # No rule for moving looks at a cheaper plan.
    with django_assert_num_queries(2):
        assert len(offers_for(subscription=subscription, reason=moving)) == 2
