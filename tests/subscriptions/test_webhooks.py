"""Every ledger change the company's billing must hear of writes its webhook delivery."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from core.models import WebhookDelivery
from subscriptions import services
from subscriptions.actors import Actor
from tests.factories import make_endpoint, make_plan, make_subscription

pytestmark = pytest.mark.django_db

WEB = Actor.customer()


def sent(subscription=None) -> list[tuple[int, str]]:
    deliveries = WebhookDelivery.objects.order_by("pk")
    if subscription is not None:
        deliveries = deliveries.filter(
            payload__data__subscription__external_id=subscription.external_id
        )
    return [(d.sequence, d.event_type) for d in deliveries]


def test_ledger_changes_emit_events_in_order_with_a_sequence():
    make_endpoint(url="http://127.0.0.1:9/unused")
    cheaper = make_plan(code="basic", price="129.00", rank=1)
    subscription = make_subscription(plan=make_plan(code="standard", price="199.00", rank=2))
    now = timezone.now()

    services.subscription_pause(
        subscription=subscription, until=now + timedelta(days=60), actor=WEB
    )
    services.subscription_resume(subscription=subscription, actor=WEB)
    services.subscription_change_plan(subscription=subscription, plan=cheaper, actor=WEB)
    services.subscription_grant_credit(subscription=subscription, amount=Decimal("50"), actor=WEB)
    services.subscription_grant_discount(subscription=subscription, percent=20, months=3, actor=WEB)
    services.subscription_schedule_cancel(subscription=subscription, actor=WEB)
    services.subscription_withdraw_cancel(subscription=subscription, actor=WEB)
    services.subscription_cancel(subscription=subscription, actor=WEB)
    services.subscription_reactivate(subscription=subscription, actor=WEB)

    assert sent() == [
        (1, "subscription.paused"),
        (2, "subscription.resumed"),
        (3, "subscription.plan_changed"),
        (4, "subscription.credit_granted"),
        (5, "subscription.discount_granted"),
        (6, "subscription.cancel_scheduled"),
        (7, "subscription.cancel_withdrawn"),
        (8, "subscription.cancelled"),
        (9, "subscription.reactivated"),
    ]


def test_plan_change_payload_names_objects_by_external_id_and_carries_the_change():
    make_endpoint(url="http://127.0.0.1:9/unused")
    cheaper = make_plan(code="basic", price="129.00", rank=1)
    subscription = make_subscription(plan=make_plan(code="standard", price="199.00", rank=2))
    period_end = subscription.current_period_end

    services.subscription_change_plan(subscription=subscription, plan=cheaper, actor=WEB)

    delivery = WebhookDelivery.objects.get()
    event = subscription.events.get(kind="plan_changed")
    iso = period_end.isoformat()
    assert delivery.payload == {
        "id": str(delivery.event_id),
        "type": "subscription.plan_changed",
        "version": 1,
        "occurred_at": delivery.payload["occurred_at"],
        "sequence": 1,
        "data": {
            "customer": {"external_id": subscription.customer.external_id},
            "subscription": {
                "external_id": subscription.external_id,
                "status": "active",
                "plan": "basic",
                "monthly_amount": "129.00",
                "currency": "SEK",
                "current_period_end": iso,
                "paused_until": None,
                "cancel_at": None,
                "cancelled_at": None,
                "discount_percent": 0,
                "discount_until": None,
            },
            "previous": event.before,
            "change": {
                "ledger_sequence": 2,
                "kind": "plan_changed",
                "channel": "web",
                "amount": None,
                "currency": None,
            },
        },
    }
    assert event.before["plan"] == "standard"


def test_changes_pushed_in_by_the_company_are_not_echoed_back():
    make_endpoint(url="http://127.0.0.1:9/unused")
    subscription = make_subscription()
    services.subscription_upsert(
        external_id=subscription.external_id,
        customer=subscription.customer,
        plan=subscription.plan,
        actor=Actor.api("billing"),
        monthly_amount=Decimal("99.00"),
    )

    assert sent() == []


def test_each_subscription_counts_its_own_sequence():
    make_endpoint(url="http://127.0.0.1:9/unused")
    first, second = make_subscription(), make_subscription()
    until = timezone.now() + timedelta(days=30)

    services.subscription_pause(subscription=first, until=until, actor=WEB)
    services.subscription_pause(subscription=second, until=until, actor=WEB)
    services.subscription_resume(subscription=first, actor=WEB)

    assert sent(first) == [(1, "subscription.paused"), (2, "subscription.resumed")]
    assert sent(second) == [(1, "subscription.paused")]


def test_nothing_is_written_without_an_endpoint():
    subscription = make_subscription()
    services.subscription_cancel(subscription=subscription, actor=WEB)

    assert not WebhookDelivery.objects.exists()
