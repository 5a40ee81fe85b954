from datetime import date, timedelta
from decimal import Decimal

import pytest
from django.test import override_settings
from django.utils import timezone

from core.dates import add_months
from core.errors import TackError
from subscriptions import services
from subscriptions.actors import Actor
from subscriptions.billing import BillingError, _gateway
from subscriptions.enums import Channel, EventKind
from subscriptions.enums import SubscriptionStatus as Status
from subscriptions.models import Subscription, SubscriptionEvent
from subscriptions.services import ledger as ledger_service
from tests.factories import make_agent, make_customer, make_plan, make_subscription

pytestmark = pytest.mark.django_db

CUSTOMER = Actor.customer()


def ledger(subscription):
    return list(
        SubscriptionEvent.objects.filter(subscription=subscription)
        .order_by("sequence")
        .values_list("sequence", "kind", "channel")
    )


def test_subscription_start_writes_started_event():
    plan = make_plan(price="149.00")
    subscription = make_subscription(plan=plan)

    assert subscription.status == Status.ACTIVE
    assert subscription.monthly_amount == Decimal("149.00")
    assert ledger(subscription) == [(1, EventKind.STARTED, Channel.SYSTEM)]


def test_subscription_pause_sets_until_and_extends_period():
    subscription = make_subscription()
    now = timezone.now()
    period_end = subscription.current_period_end
    until = add_months(now, 2)

    paused = services.subscription_pause(
        subscription=subscription, until=until, actor=CUSTOMER, now=now
    )

    assert (paused.status, paused.paused_until) == (Status.PAUSED, until)
    assert paused.current_period_end == period_end + (until - now)
    event = paused.events.get(kind=EventKind.PAUSED)
    assert event.before["status"] == Status.ACTIVE
    assert event.after["status"] == Status.PAUSED
    assert event.channel == Channel.WEB


def test_subscription_pause_rejects_too_long_pause():
    subscription = make_subscription()
    with pytest.raises(services.SubscriptionInputError):
        services.subscription_pause(
            subscription=subscription, until=add_months(timezone.now(), 13), actor=CUSTOMER
        )
    assert ledger(subscription) == [(1, EventKind.STARTED, Channel.SYSTEM)]


def test_subscription_pause_of_cancelled_subscription_is_refused():
    subscription = make_subscription()
    services.subscription_cancel(subscription=subscription, actor=CUSTOMER)

    with pytest.raises(services.SubscriptionError) as error:
        services.subscription_pause(
            subscription=subscription, until=add_months(timezone.now(), 1), actor=CUSTOMER
        )

    assert "cancelled" in str(error.value.message)
    subscription.refresh_from_db()
    assert subscription.status == Status.CANCELLED
    assert [kind for _, kind, _ in ledger(subscription)] == [EventKind.STARTED, EventKind.CANCELLED]


def test_subscription_resume_ends_pause():
    subscription = make_subscription()
    services.subscription_pause(
        subscription=subscription, until=add_months(timezone.now(), 1), actor=CUSTOMER
    )

    resumed = services.subscription_resume(subscription=subscription, actor=CUSTOMER)

    assert (resumed.status, resumed.paused_until) == (Status.ACTIVE, None)
    assert ledger(subscription)[-1][1] == EventKind.RESUMED


def test_subscription_resume_of_active_subscription_is_refused():
    with pytest.raises(services.SubscriptionError):
        services.subscription_resume(subscription=make_subscription(), actor=CUSTOMER)


def test_subscription_change_plan_moves_price_and_records_both_plans():
    cheap = make_plan(code="bas", price="99.00", rank=1)
    dear = make_plan(code="premium", price="299.00", rank=3)
    subscription = make_subscription(plan=dear)

    changed = services.subscription_change_plan(
        subscription=subscription, plan=cheap, actor=CUSTOMER
    )

    assert (changed.plan, changed.monthly_amount) == (cheap, Decimal("99.00"))
    event = changed.events.get(kind=EventKind.PLAN_CHANGED)
    assert (event.before["plan"], event.after["plan"]) == ("premium", "bas")


@pytest.mark.parametrize("problem", ["same plan", "inactive plan", "cancelled"])
def test_subscription_change_plan_refusals(problem):
    plan = make_plan()
    subscription = make_subscription(plan=plan)
    target = make_plan(active=problem != "inactive plan") if problem != "same plan" else plan
    if problem == "cancelled":
        services.subscription_cancel(subscription=subscription, actor=CUSTOMER)
    events_before = len(ledger(subscription))

    with pytest.raises(TackError):
        services.subscription_change_plan(subscription=subscription, plan=target, actor=CUSTOMER)

    assert len(ledger(subscription)) == events_before


def test_subscription_grant_credit_records_amount():
    subscription = make_subscription()
    event = services.subscription_grant_credit(
        subscription=subscription, amount=Decimal("199.00"), actor=CUSTOMER, note="loyalty"
    )
    assert (event.kind, event.amount, event.currency, event.note) == (
        EventKind.CREDIT_GRANTED,
        Decimal("199.00"),
        "SEK",
        "loyalty",
    )


def test_subscription_grant_credit_rejects_non_positive_amount():
    with pytest.raises(services.SubscriptionInputError):
        services.subscription_grant_credit(
            subscription=make_subscription(), amount=Decimal("0"), actor=CUSTOMER
        )


def test_subscription_grant_discount_sets_percentage_and_total_value():
    subscription = make_subscription(plan=make_plan(price="200.00"))
    now = timezone.now()

    event = services.subscription_grant_discount(
        subscription=subscription, percent=25, months=3, actor=CUSTOMER, now=now
    )

    subscription.refresh_from_db()
    assert (subscription.discount_percent, subscription.discount_until) == (25, add_months(now, 3))
    assert event.amount == Decimal("150.00")


def test_subscription_schedule_cancel_defaults_to_period_end():
    subscription = make_subscription()
    period_end = subscription.current_period_end

    scheduled = services.subscription_schedule_cancel(subscription=subscription, actor=CUSTOMER)

    assert (scheduled.status, scheduled.cancel_at) == (Status.CANCEL_PENDING, period_end)
    assert ledger(subscription)[-1][1] == EventKind.CANCEL_REQUESTED


def test_subscription_schedule_cancel_rolls_stale_period_forward():
    now = timezone.now()
    subscription = make_subscription(period_end=now - timedelta(days=40))

    scheduled = services.subscription_schedule_cancel(
        subscription=subscription, actor=CUSTOMER, now=now
    )

    assert now < scheduled.cancel_at <= add_months(now, 1)


def test_subscription_schedule_cancel_twice_is_refused():
    subscription = make_subscription()
    services.subscription_schedule_cancel(subscription=subscription, actor=CUSTOMER)
    with pytest.raises(services.SubscriptionError):
        services.subscription_schedule_cancel(subscription=subscription, actor=CUSTOMER)
    assert [k for _, k, _ in ledger(subscription)].count(EventKind.CANCEL_REQUESTED) == 1


def test_subscription_withdraw_cancel_restores_active():
    subscription = make_subscription()
    services.subscription_schedule_cancel(subscription=subscription, actor=CUSTOMER)

    restored = services.subscription_withdraw_cancel(subscription=subscription, actor=CUSTOMER)

    assert (restored.status, restored.cancel_at) == (Status.ACTIVE, None)
    assert ledger(subscription)[-1][1] == EventKind.CANCEL_WITHDRAWN


def test_subscription_withdraw_cancel_after_it_took_effect_is_refused():
    subscription = make_subscription()
    scheduled = services.subscription_schedule_cancel(subscription=subscription, actor=CUSTOMER)
    with pytest.raises(services.SubscriptionError):
        services.subscription_withdraw_cancel(
            subscription=subscription,
            actor=CUSTOMER,
            now=scheduled.cancel_at + timedelta(seconds=1),
        )


def test_subscription_cancel_immediately_records_who():
    agent = make_agent()
    subscription = make_subscription()

    cancelled = services.subscription_cancel(
        subscription=subscription, actor=Actor.staff(agent, channel=Channel.PHONE)
    )

    assert cancelled.status == Status.CANCELLED
    assert cancelled.cancelled_at is not None
    event = cancelled.events.get(kind=EventKind.CANCELLED)
    assert (event.actor, event.channel, event.actor_label) == (agent, Channel.PHONE, "agent")


def test_subscription_reactivate_starts_new_period_on_chosen_plan():
    plan, other = make_plan(price="100.00"), make_plan(price="80.00", rank=1)
    subscription = make_subscription(plan=plan)
    services.subscription_cancel(subscription=subscription, actor=CUSTOMER)
    now = timezone.now()

    back = services.subscription_reactivate(
        subscription=subscription, actor=CUSTOMER, plan=other, now=now
    )

    assert (back.status, back.plan, back.monthly_amount, back.cancelled_at) == (
        Status.ACTIVE,
        other,
        Decimal("80.00"),
        None,
    )
    assert back.current_period_end == add_months(now, 1)
    assert ledger(subscription)[-1][1] == EventKind.REACTIVATED


def test_subscription_reactivate_of_active_subscription_is_refused():
    with pytest.raises(services.SubscriptionError):
        services.subscription_reactivate(subscription=make_subscription(), actor=CUSTOMER)


def test_apply_due_changes_cancels_resumes_and_ends_discounts():
    now = timezone.now()
    to_cancel, to_resume, discounted = make_subscription(), make_subscription(), make_subscription()
    services.subscription_schedule_cancel(subscription=to_cancel, actor=CUSTOMER)
    services.subscription_pause(
        subscription=to_resume, until=now + timedelta(days=3), actor=CUSTOMER
    )
    services.subscription_grant_discount(
        subscription=discounted, percent=10, months=1, actor=CUSTOMER
    )
    later = add_months(now, 2)

    result = services.subscription_apply_due_changes(now=later)

    assert result == services.DueChanges(cancelled=1, resumed=1, discounts_ended=1)
    statuses = dict(Subscription.objects.values_list("pk", "status"))
    assert statuses[to_cancel.pk] == Status.CANCELLED
    assert statuses[to_resume.pk] == Status.ACTIVE
    discounted.refresh_from_db()
    assert (discounted.discount_percent, discounted.discount_until) == (0, None)
    # Running it again finds nothing more to do.
    assert services.subscription_apply_due_changes(now=later) == services.DueChanges(0, 0, 0)


class RefusingGateway:
    def command(self, **change):
        raise BillingError("billing cannot carry this out")


@override_settings(TACK_BILLING_GATEWAY="tests.subscriptions.test_services.RefusingGateway")
def test_billing_refusal_rolls_back_change_and_ledger():
    _gateway.cache_clear()
    try:
        with override_settings(TACK_BILLING_GATEWAY="subscriptions.billing.LocalBillingGateway"):
            subscription = make_subscription()
        with pytest.raises(BillingError):
            services.subscription_schedule_cancel(subscription=subscription, actor=CUSTOMER)
    finally:
        _gateway.cache_clear()

    subscription.refresh_from_db()
    assert subscription.status == Status.ACTIVE
    assert ledger(subscription) == [(1, EventKind.STARTED, Channel.SYSTEM)]


def test_ledger_row_failure_rolls_back_the_change(monkeypatch):
    subscription = make_subscription()

    def broken_append(event):
        raise RuntimeError("disk full")

    monkeypatch.setattr(ledger_service, "_append", broken_append)
    with pytest.raises(RuntimeError):
        services.subscription_cancel(subscription=subscription, actor=CUSTOMER)

    subscription.refresh_from_db()
    assert subscription.status == Status.ACTIVE


def test_customer_upsert_is_idempotent_and_stamps_consent():
    data = {
        "name": "Ole Hansen",
        "email": "ole@example.com",
        "locale": "nb",
        "country": "NO",
        "customer_since": date(2020, 1, 5),
        "marketing_consent": True,
    }
    customer, created, changed = services.customer_upsert(
        external_id="ext-1", data=data, actor=Actor.api("crm")
    )
    again, created_again, changed_again = services.customer_upsert(
        external_id="ext-1", data=data, actor=Actor.api("crm")
    )

    assert (created, changed, created_again, changed_again) == (True, True, False, False)
    assert again.pk == customer.pk
    assert (again.marketing_consent, again.marketing_consent_source) == (True, "api")
    assert again.marketing_consent_at is not None


def test_subscription_upsert_status_change_goes_through_lifecycle():
    customer = make_customer()
    plan = make_plan()
    subscription, created, _ = services.subscription_upsert(
        external_id="s-1", customer=customer, plan=plan, actor=Actor.api("billing")
    )
    _, _, changed = services.subscription_upsert(
        external_id="s-1",
        customer=customer,
        plan=plan,
        actor=Actor.api("billing"),
        status=Status.CANCELLED,
    )
    _, _, changed_again = services.subscription_upsert(
        external_id="s-1",
        customer=customer,
        plan=plan,
        actor=Actor.api("billing"),
        status=Status.CANCELLED,
    )

    assert (created, changed, changed_again) == (True, True, False)
    assert [k for _, k, _ in ledger(subscription)] == [EventKind.STARTED, EventKind.CANCELLED]


def test_subscription_upsert_refuses_moving_to_another_customer():
    """A conflict with the data as it is (409 on the API), not a malformed request."""
    subscription = make_subscription()
    with pytest.raises(services.SubscriptionError, match="another customer"):
        services.subscription_upsert(
            external_id=subscription.external_id,
            customer=make_customer(),
            plan=subscription.plan,
            actor=Actor.api("billing"),
        )
