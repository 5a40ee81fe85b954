"""Churn groups (each rule, the order of sources, the agent and manager overrides) and the
win-back attractiveness score."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from cancellations.models import ExitReason
from subscriptions import services as subscription_services
from subscriptions.actors import Actor
from tests.factories import make_plan
from tests.winback.conftest import make_lost, refresh
from winback import segmentation
from winback.enums import ChurnGroup, ChurnGroupSource
from winback.models import LostCustomer

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    ("reason", "competitor", "group", "source"),
    [
        ("competitor_price", "", ChurnGroup.BOUGHT_AWAY, ChurnGroupSource.REASON),
        ("price", "Streamly", ChurnGroup.BOUGHT_AWAY, ChurnGroupSource.RULE),
        ("price", "", ChurnGroup.UNINTENTIONALLY_PUSHED, ChurnGroupSource.RULE),
        ("competitor_features", "", ChurnGroup.PULLED_AWAY, ChurnGroupSource.REASON),
        ("expectations", "", ChurnGroup.UNINTENTIONALLY_PUSHED, ChurnGroupSource.REASON),
        ("poor_service", "", ChurnGroup.UNINTENTIONALLY_PUSHED, ChurnGroupSource.REASON),
        ("no_need", "", ChurnGroup.SELF_SWITCHER, ChurnGroupSource.REASON),
        ("moving", "", ChurnGroup.SELF_SWITCHER, ChurnGroupSource.REASON),
        ("other", "", ChurnGroup.SELF_SWITCHER, ChurnGroupSource.FALLBACK),
    ],
)
def test_group_follows_the_reason(defaults, reason, competitor, group, source):
    lost = make_lost(reason=reason, competitor=competitor)

    assert (lost.churn_group, lost.churn_group_source) == (group, source)


@pytest.mark.parametrize(
    ("category", "competitor", "group"),
    [
        ("competitor_price", "", ChurnGroup.BOUGHT_AWAY),
        ("price", "Nordflix", ChurnGroup.BOUGHT_AWAY),
        ("competitor_features", "", ChurnGroup.PULLED_AWAY),
        ("expectations", "", ChurnGroup.UNINTENTIONALLY_PUSHED),
        ("service", "", ChurnGroup.UNINTENTIONALLY_PUSHED),
        ("price", "", ChurnGroup.UNINTENTIONALLY_PUSHED),
        ("no_need", "", ChurnGroup.SELF_SWITCHER),
        ("life_change", "", ChurnGroup.SELF_SWITCHER),
    ],
)
def test_each_documented_rule_when_the_reason_has_no_default_group(
    defaults, category, competitor, group
):
    ExitReason.objects.update(default_churn_group="")
    code = ExitReason.objects.filter(category=category).values_list("code", flat=True).first()

    lost = make_lost(reason=code, competitor=competitor)

    assert (lost.churn_group, lost.churn_group_source) == (group, ChurnGroupSource.RULE)


@pytest.mark.parametrize("cancelled_by", ["non_payment", "misuse"])
def test_cancelled_by_us_is_deliberately_pushed_away(defaults, cancelled_by):
    lost = make_lost(cancelled_by=cancelled_by)

    assert lost.churn_group == ChurnGroup.DELIBERATELY_PUSHED
    assert lost.churn_group_source == ChurnGroupSource.RULE


def test_no_case_and_no_rule_falls_back_to_self_switcher(defaults):
    lost = make_lost(cancelled_by="customer")

    assert (lost.churn_group, lost.churn_group_source) == (
        ChurnGroup.SELF_SWITCHER,
        ChurnGroupSource.FALLBACK,
    )


def test_the_reasons_default_group_comes_before_the_rules(defaults):
    ExitReason.objects.filter(code="price").update(default_churn_group=ChurnGroup.SELF_SWITCHER)

    lost = make_lost(reason="price", competitor="Streamly")

    assert (lost.churn_group, lost.churn_group_source) == (
        ChurnGroup.SELF_SWITCHER,
        ChurnGroupSource.REASON,
    )


def test_a_changed_default_group_reaches_customers_already_recorded(defaults):
    lost = make_lost(reason="moving")
    ExitReason.objects.filter(code="moving").update(default_churn_group=ChurnGroup.PULLED_AWAY)

    segmentation.lost_customers_segment()

    lost.refresh_from_db()
    assert lost.churn_group == ChurnGroup.PULLED_AWAY


def test_the_agents_judgment_overrides_reason_and_rules(defaults, agent):
    lost = make_lost(reason="price", agent=agent, churn_group=ChurnGroup.PULLED_AWAY)

    assert (lost.churn_group, lost.churn_group_source) == (
        ChurnGroup.PULLED_AWAY,
        ChurnGroupSource.AGENT,
    )
    assert lost.case.channel == "phone"


def test_a_managers_bulk_resegmentation_sticks_until_released(defaults):
    first = make_lost(reason="moving")
    second = make_lost(reason="no_need")
    untouched = make_lost(reason="expectations")

    moved = segmentation.lost_customers_resegment(
        queryset=LostCustomer.objects.filter(pk__in=[first.pk, second.pk]),
        churn_group=ChurnGroup.BOUGHT_AWAY,
    )
    refresh()  # the periodic refresh must not undo a manager's choice

    assert moved == 2
    groups = dict(LostCustomer.objects.values_list("pk", "churn_group_source"))
    assert groups == {
        first.pk: ChurnGroupSource.MANAGER,
        second.pk: ChurnGroupSource.MANAGER,
        untouched.pk: ChurnGroupSource.REASON,
    }
    assert set(
        LostCustomer.objects.filter(pk__in=[first.pk, second.pk]).values_list(
            "churn_group", flat=True
        )
    ) == {ChurnGroup.BOUGHT_AWAY}

    segmentation.lost_customers_release_manager_groups(
        queryset=LostCustomer.objects.filter(pk=first.pk)
    )
    first.refresh_from_db()
    assert (first.churn_group, first.churn_group_source) == (
        ChurnGroup.SELF_SWITCHER,
        ChurnGroupSource.REASON,
    )


def test_recording_is_idempotent_and_keeps_what_the_customer_left_with(defaults):
    left_at = timezone.now() - timedelta(days=40)
    lost = make_lost(reason="price", competitor="Streamly", left_at=left_at)

    again = segmentation.lost_customers_record()

    assert again == 0
    assert LostCustomer.objects.count() == 1
    assert lost.left_at == left_at
    assert lost.monthly_value == Decimal("199.00")
    assert lost.competitor == "Streamly"
    assert lost.reason.code == "price"
    assert lost.case is not None


def test_a_customer_who_came_back_and_left_again_is_a_new_lost_customer(defaults):
    lost = make_lost(reason="moving")
    subscription = lost.subscription
    LostCustomer.objects.filter(pk=lost.pk).update(came_back_at=timezone.now())
    subscription_services.subscription_reactivate(subscription=subscription, actor=Actor.system())
    subscription_services.subscription_cancel(subscription=subscription, actor=Actor.system())

    refresh()

    assert LostCustomer.objects.filter(subscription=subscription).count() == 2


def test_past_saves_are_counted(defaults):
    from cancellations import services as cancellation_services

    lost = make_lost(reason="moving", plan=make_plan())
    subscription = lost.subscription
    LostCustomer.objects.all().delete()
    subscription_services.subscription_reactivate(subscription=subscription, actor=Actor.system())
    case = cancellation_services.cancellation_start(
        subscription=subscription, actor=Actor.customer()
    )
    case = cancellation_services.cancellation_choose_reason(
        case=case, reason=ExitReason.objects.get(code="moving"), actor=Actor.customer()
    )
    pause = case.offers.get(kind="pause")
    cancellation_services.offer_accept(
        case=case, offer_id=pause.pk, actor=Actor.customer(), options={"months": 1}
    )
    subscription_services.subscription_cancel(subscription=subscription, actor=Actor.system())

    refresh()

    assert LostCustomer.objects.get(subscription=subscription).past_saves == 1


def test_attractiveness_is_the_documented_weighted_sum(defaults):
    # value 200/400 → 0.5 x 30 = 15; tenure 36/60 → 0.6 x 25 = 15; unintentionally pushed away
    # 1.0 x 20 = 20; one save of 2 → 0.5 x 10 = 5; left this month → 1.0 x 15 = 15. Total 70.
    lost = make_lost(reason="expectations")
    LostCustomer.objects.filter(pk=lost.pk).update(
        monthly_value=Decimal("200.00"), tenure_months=36, past_saves=1
    )

    segmentation.lost_customers_score()

    lost.refresh_from_db()
    assert lost.attractiveness == 70
    assert lost.scored_at is not None


def test_attractiveness_falls_with_time_since_leaving_and_is_capped(defaults):
    recent = make_lost(reason="expectations", left_at=timezone.now() - timedelta(days=2))
    old = make_lost(reason="expectations", left_at=timezone.now() - timedelta(days=800))
    LostCustomer.objects.update(monthly_value=Decimal("5000.00"), tenure_months=500, past_saves=9)

    segmentation.lost_customers_score()

    scores = dict(LostCustomer.objects.values_list("pk", "attractiveness"))
    assert scores == {recent.pk: 100, old.pk: 85}


def test_attractiveness_weights_are_configurable(defaults, settings):
    lost = make_lost(reason="expectations")
    settings.TACK_WINBACK_WEIGHTS = {"value": 0, "tenure": 0, "group": 1, "saves": 0, "recency": 0}

    segmentation.lost_customers_score()

    lost.refresh_from_db()
    assert lost.attractiveness == 100  # the whole score is the group factor (1.0)


def test_deliberately_pushed_away_scores_lowest(defaults):
    pushed = make_lost(cancelled_by="non_payment")
    failed = make_lost(reason="expectations")

    assert failed.attractiveness - pushed.attractiveness == 20
