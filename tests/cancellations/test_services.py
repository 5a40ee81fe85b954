from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import IntegrityError, transaction
from django.utils import timezone

from cancellations import services
from cancellations.enums import CaseOutcome, CaseStepKind, OfferKind
from cancellations.models import CancellationCase, Offer, OfferRule
from core.models import OutboundEmail
from desk.enums import CallbackStatus
from desk.models import CallbackRequest
from subscriptions.actors import Actor
from subscriptions.enums import EventKind, SubscriptionStatus
from tests.cancellations.conftest import reason

pytestmark = pytest.mark.django_db
WEB = Actor.customer()


def open_with(subscription, code):
    case = services.cancellation_start(subscription=subscription, actor=WEB)
    return services.cancellation_choose_reason(case=case, reason=reason(code), actor=WEB)


def ledger(subscription):
    return list(subscription.events.order_by("sequence").values_list("kind", flat=True))


def test_start_records_the_case_and_its_first_step(subscription):
    case = services.cancellation_start(subscription=subscription, actor=WEB, language="sv")
    assert case.outcome == CaseOutcome.OPEN
    assert (case.channel, case.language, case.plan, case.monthly_amount) == (
        "web",
        "sv",
        subscription.plan,
        Decimal("199.00"),
    )
    assert case.tenure_months >= 90
    assert list(case.steps.values_list("kind", flat=True)) == [CaseStepKind.OPENED]
    # "Other" is never in the shuffled order: it is always shown last.
    assert reason("other").pk not in case.reason_order
    assert sorted(case.reason_order) == sorted(
        r.pk for r in type(reason("other")).objects.filter(active=True, is_other=False)
    )


def test_returning_customer_resumes_the_open_case(subscription):
    first = services.cancellation_start(subscription=subscription, actor=WEB)
    later = timezone.now() + timedelta(hours=2)
    again = services.cancellation_start(subscription=subscription, actor=WEB, now=later)
    assert again.pk == first.pk
    assert CancellationCase.objects.count() == 1
    assert list(first.steps.values_list("kind", flat=True)) == ["opened", "resumed"]


def test_database_allows_one_open_case_per_subscription(subscription):
    case = services.cancellation_start(subscription=subscription, actor=WEB)
    duplicate = CancellationCase(
        subscription=subscription,
        customer=case.customer,
        channel="web",
        plan=case.plan,
        monthly_amount=case.monthly_amount,
        currency="SEK",
        tenure_months=1,
    )
    with pytest.raises(IntegrityError), transaction.atomic():
        duplicate.save()


def test_choosing_a_reason_presents_offers_and_records_steps(subscription):
    case = open_with(subscription, "moving")
    assert case.reason.code == "moving"
    assert case.reason_at and case.offers_shown_at
    assert [o.kind for o in case.offers.all()] == [OfferKind.PAUSE, OfferKind.LOYALTY_BONUS]
    assert list(case.steps.values_list("kind", flat=True)) == [
        "opened",
        "reason_chosen",
        "offers_shown",
    ]


def test_changing_the_reason_withdraws_the_earlier_offers(subscription):
    case = open_with(subscription, "moving")
    case = services.cancellation_choose_reason(case=case, reason=reason("price"), actor=WEB)
    current = case.offers.filter(withdrawn=False)
    assert [o.kind for o in current] == [OfferKind.DOWNGRADE, OfferKind.LOYALTY_BONUS]
    assert case.offers.filter(withdrawn=True).count() == 2
    # Choosing the same reason again (a reload, a double click) adds nothing.
    services.cancellation_choose_reason(case=case, reason=reason("price"), actor=WEB, text="dyrt")
    assert case.offers.count() == 4
    case.refresh_from_db()
    assert case.reason_text == "dyrt"


def test_accepting_a_pause_pauses_billing_and_saves_the_case(subscription):
    case = open_with(subscription, "moving")
    pause = case.offers.get(kind=OfferKind.PAUSE)
    now = timezone.now()
    case = services.offer_accept(
        case=case, offer_id=pause.pk, actor=WEB, options={"months": 2}, now=now
    )
    subscription.refresh_from_db()
    assert subscription.status == SubscriptionStatus.PAUSED
    from core.dates import add_months

    assert subscription.paused_until == add_months(now, 2)
    assert ledger(subscription)[-1] == EventKind.PAUSED
    assert case.outcome == CaseOutcome.SAVED and case.decided_at == now
    pause.refresh_from_db()
    assert pause.accepted_cost == Decimal("398.00") and pause.options == {"months": 2}
    assert OutboundEmail.objects.filter(kind="cancellation_saved").count() == 1


@pytest.mark.parametrize("months", [0, 4, "x"])
def test_a_pause_must_be_one_to_three_months(subscription, months):
    case = open_with(subscription, "moving")
    pause = case.offers.get(kind=OfferKind.PAUSE)
    with pytest.raises(services.CancellationInputError):
        services.offer_accept(case=case, offer_id=pause.pk, actor=WEB, options={"months": months})
    subscription.refresh_from_db()
    assert subscription.status == SubscriptionStatus.ACTIVE
    assert CancellationCase.objects.get().outcome == CaseOutcome.OPEN


def test_accepting_a_downgrade_moves_to_the_cheaper_plan(subscription, plans):
    case = open_with(subscription, "price")
    offer = case.offers.get(kind=OfferKind.DOWNGRADE)
    services.offer_accept(case=case, offer_id=offer.pk, actor=WEB)
    subscription.refresh_from_db()
    assert subscription.plan == plans["basic"]
    assert subscription.monthly_amount == Decimal("129.00")
    event = subscription.events.order_by("-sequence").first()
    assert event.kind == EventKind.PLAN_CHANGED
    assert (event.before["plan"], event.after["plan"]) == ("standard", "basic")


def test_accepting_a_loyalty_bonus_grants_a_free_month_as_credit(subscription):
    case = open_with(subscription, "no_need")
    offer = case.offers.get(kind=OfferKind.LOYALTY_BONUS)
    services.offer_accept(case=case, offer_id=offer.pk, actor=WEB)
    event = subscription.events.order_by("-sequence").first()
    assert (event.kind, event.amount) == (EventKind.CREDIT_GRANTED, Decimal("199.00"))


def test_accepting_a_discount_lowers_the_price_for_its_months(subscription):
    OfferRule.objects.filter(kind=OfferKind.DOWNGRADE).update(active=False)
    OfferRule.objects.filter(kind=OfferKind.LOYALTY_BONUS).update(active=False)
    case = open_with(subscription, "price")
    offer = case.offers.get(kind=OfferKind.DISCOUNT)
    assert offer.parameters == {"percent": 25, "months": 3, "new_price": "149.25"}
    assert offer.cost == Decimal("149.25")  # 49.75 x 3
    now = timezone.now()
    services.offer_accept(case=case, offer_id=offer.pk, actor=WEB, now=now)
    subscription.refresh_from_db()
    assert subscription.discount_percent == 25
    assert subscription.discount_until > now + timedelta(days=88)
    event = subscription.events.order_by("-sequence").first()
    assert (event.kind, event.amount) == (EventKind.DISCOUNT_GRANTED, Decimal("149.25"))


def test_call_me_back_queues_a_callback_and_keeps_the_case_open(subscription):
    case = open_with(subscription, "poor_service")
    offer = case.offers.get(kind=OfferKind.CALLBACK)
    day = timezone.localdate() + timedelta(days=2)
    before = ledger(subscription)
    for _ in range(2):  # a double submit queues one call
        services.offer_accept(
            case=case,
            offer_id=offer.pk,
            actor=WEB,
            options={"day": day.isoformat(), "window": "afternoon"},
        )
    callback = CallbackRequest.objects.get()
    assert callback.status == CallbackStatus.OPEN and callback.window == "afternoon"
    assert timezone.localtime(callback.due_at).date() == day
    assert timezone.localtime(callback.due_at).hour == 12
    case.refresh_from_db()
    assert case.outcome == CaseOutcome.OPEN
    assert ledger(subscription) == before  # nothing changes until the call
    # Open cases waiting for their call are not abandoned.
    assert services.cases_abandon_stale(now=timezone.now() + timedelta(days=3)) == 0


def test_callback_day_must_be_within_two_weeks(subscription):
    case = open_with(subscription, "poor_service")
    offer = case.offers.get(kind=OfferKind.CALLBACK)
    with pytest.raises(services.CancellationInputError):
        services.offer_accept(
            case=case,
            offer_id=offer.pk,
            actor=WEB,
            options={"day": (timezone.localdate() + timedelta(days=30)).isoformat()},
        )
    assert not CallbackRequest.objects.exists()


def test_declining_schedules_the_cancellation_at_period_end(subscription):
    case = open_with(subscription, "price")
    now = timezone.now()
    case = services.cancellation_decline(case=case, actor=WEB, text="För dyrt", now=now)
    subscription.refresh_from_db()
    assert subscription.status == SubscriptionStatus.CANCEL_PENDING
    assert subscription.cancel_at == subscription.current_period_end
    assert case.outcome == CaseOutcome.CANCELLED
    assert case.cancel_effective_at == subscription.cancel_at
    assert case.reason_text == "För dyrt"
    assert ledger(subscription)[-1] == EventKind.CANCEL_REQUESTED
    email = OutboundEmail.objects.get(kind="cancellation_cancelled")
    assert "/cancel/undo/" in email.body_text


def test_declining_immediately_ends_the_subscription_now(subscription):
    case = open_with(subscription, "price")
    services.cancellation_decline(case=case, actor=WEB, immediately=True)
    subscription.refresh_from_db()
    assert subscription.status == SubscriptionStatus.CANCELLED
    assert ledger(subscription)[-1] == EventKind.CANCELLED


def test_replayed_decisions_have_exactly_one_outcome(subscription):
    case = open_with(subscription, "moving")
    pause = case.offers.get(kind=OfferKind.PAUSE)
    services.offer_accept(case=case, offer_id=pause.pk, actor=WEB, options={"months": 1})
    events = ledger(subscription)
    # The same acceptance again: unchanged, no second pause, no second email.
    services.offer_accept(case=case, offer_id=pause.pk, actor=WEB, options={"months": 1})
    assert ledger(subscription) == events
    assert OutboundEmail.objects.filter(kind="cancellation_saved").count() == 1
    # Another offer or a decline on a saved case is refused.
    loyalty = case.offers.get(kind=OfferKind.LOYALTY_BONUS)
    with pytest.raises(services.CaseAlreadyDecided):
        services.offer_accept(case=case, offer_id=loyalty.pk, actor=WEB)
    with pytest.raises(services.CaseAlreadyDecided):
        services.cancellation_decline(case=case, actor=WEB)
    assert ledger(subscription) == events
    assert Offer.objects.filter(accepted_at__isnull=False).count() == 1


def test_declining_twice_cancels_once(subscription):
    case = open_with(subscription, "price")
    services.cancellation_decline(case=case, actor=WEB)
    services.cancellation_decline(case=case, actor=WEB)
    assert ledger(subscription).count(EventKind.CANCEL_REQUESTED) == 1
    assert OutboundEmail.objects.filter(kind="cancellation_cancelled").count() == 1


def test_withdrawing_a_cancellation_keeps_the_subscription(subscription):
    case = open_with(subscription, "price")
    services.cancellation_decline(case=case, actor=WEB)
    services.cancellation_withdraw(case=case, actor=WEB)
    services.cancellation_withdraw(case=case, actor=WEB)  # the second click changes nothing
    subscription.refresh_from_db()
    assert subscription.status == SubscriptionStatus.ACTIVE and subscription.cancel_at is None
    assert ledger(subscription).count(EventKind.CANCEL_WITHDRAWN) == 1
    case.refresh_from_db()
    assert case.withdrawn_at is not None
    assert OutboundEmail.objects.filter(kind="cancellation_withdrawn").count() == 1


def test_withdrawing_after_the_last_day_is_refused(subscription):
    case = open_with(subscription, "price")
    services.cancellation_decline(case=case, actor=WEB)
    with pytest.raises(services.CancellationError):
        services.cancellation_withdraw(
            case=case, actor=WEB, now=timezone.now() + timedelta(days=40)
        )


def test_ended_subscriptions_cannot_open_a_case(subscription):
    services.cancellation_decline(case=open_with(subscription, "price"), actor=WEB)
    with pytest.raises(services.CancellationError):
        services.cancellation_start(subscription=subscription, actor=WEB)


def test_stale_open_cases_are_abandoned(subscription, plans):
    from tests.factories import make_subscription

    old = services.cancellation_start(
        subscription=subscription, actor=WEB, now=timezone.now() - timedelta(hours=25)
    )
    fresh = services.cancellation_start(
        subscription=make_subscription(plan=plans["standard"]), actor=WEB
    )
    assert services.cases_abandon_stale() == 1
    old.refresh_from_db()
    fresh.refresh_from_db()
    assert old.outcome == CaseOutcome.ABANDONED and old.decided_at is not None
    assert old.steps.filter(kind=CaseStepKind.ABANDONED).count() == 1
    assert fresh.outcome == CaseOutcome.OPEN
    assert services.cases_abandon_stale() == 0  # a retried sweep finds nothing more
    # The customer who comes back later starts a new case.
    again = services.cancellation_start(subscription=subscription, actor=WEB)
    assert again.pk != old.pk


def test_abandon_task_runs_the_sweep(subscription):
    from cancellations.tasks import abandon_stale_cases

    services.cancellation_start(
        subscription=subscription, actor=WEB, now=timezone.now() - timedelta(days=2)
    )
    assert abandon_stale_cases.delay().get() == 1
