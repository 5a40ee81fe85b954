"""Comebacks and unsubscribes reach the company's CRM."""

import pytest

from core.models import WebhookDelivery
from subscriptions.actors import Actor
from tests.factories import make_endpoint
from tests.winback.conftest import make_lost
from winback import services

pytestmark = pytest.mark.django_db


def test_a_comeback_emits_the_reactivation_and_the_comeback(defaults):
    lost = make_lost(reason="moving")
    endpoint = make_endpoint(url="http://127.0.0.1:9/unused")

    comeback = services.comeback_record(lost_customer=lost, actor=Actor.customer())

    deliveries = WebhookDelivery.objects.filter(endpoint=endpoint).order_by("pk")
    assert [d.event_type for d in deliveries] == ["subscription.reactivated", "winback.comeback"]
    reactivated, came_back = deliveries
    assert came_back.sequence == reactivated.sequence + 1
    assert came_back.payload["data"]["comeback"] == {
        "id": comeback.pk,
        "channel": "web",
        "organic": True,
        "campaign": None,
        "monthly_amount": "199.00",
        "offer_cost": "0.00",
        "first_year_value": "2388.00",
        "currency": "SEK",
    }
    assert came_back.payload["data"]["subscription"]["external_id"] == (
        lost.subscription.external_id
    )


def test_unsubscribing_emits_once(defaults):
    lost = make_lost(reason="moving")
    make_endpoint(url="http://127.0.0.1:9/unused")

    services.customer_unsubscribe(customer=lost.customer)
    services.customer_unsubscribe(customer=lost.customer)

    [delivery] = WebhookDelivery.objects.all()
    assert delivery.event_type == "customer.unsubscribed"
    assert delivery.payload["data"] == {
        "customer": {"external_id": lost.customer.external_id},
        "source": "unsubscribe_link",
    }
    assert delivery.sequence == 1
