import pytest
from django.utils import timezone

from core.enums import ApiScope
from core.models import ApiKey
from core.services import api_key_create
from subscriptions.enums import EventKind
from subscriptions.models import Customer, Subscription, SubscriptionEvent
from tests.factories import make_customer, make_plan, make_subscription

pytestmark = pytest.mark.django_db

CUSTOMER_BODY = {
    "name": "Mette Nielsen",
    "email": "mette@example.com",
    "phone": "+4520123456",
    "locale": "da",
    "country": "dk",
    "customer_since": "2018-05-02",
    "marketing_consent": True,
}


def test_api_without_key_is_refused_with_json(anonymous_api):
    response = anonymous_api.get("/api/v1/customers/")
    assert response.status_code == 401
    assert response.json()["code"] == "not_authenticated"
    assert response["WWW-Authenticate"].startswith("Bearer")


def test_api_with_wrong_key_is_refused(anonymous_api, api_key):
    anonymous_api.credentials(HTTP_AUTHORIZATION=f"Bearer {api_key[:-2]}xx")
    response = anonymous_api.get("/api/v1/customers/")
    assert response.status_code == 401
    assert response.json()["detail"] == "Invalid or revoked API key."


def test_api_with_revoked_key_is_refused(anonymous_api):
    api_key, raw = api_key_create(name="old", scopes=ApiScope.values)
    ApiKey.objects.filter(pk=api_key.pk).update(revoked_at=timezone.now())
    anonymous_api.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
    assert anonymous_api.get("/api/v1/customers/").status_code == 401


def test_api_key_is_stored_hashed(api_key):
    stored = ApiKey.objects.get()
    assert api_key not in (stored.key_hash, stored.prefix)
    assert len(stored.key_hash) == 64


def test_staff_session_alone_does_not_open_the_api(client, manager):
    client.force_login(manager)
    assert client.get("/api/v1/customers/").status_code == 401


def test_customer_put_creates_then_is_idempotent(api):
    first = api.put("/api/v1/customers/crm-42/", CUSTOMER_BODY, format="json")
    second = api.put("/api/v1/customers/crm-42/", CUSTOMER_BODY, format="json")

    assert (first.status_code, second.status_code) == (201, 200)
    assert first.json() == second.json()
    body = second.json()
    assert (body["external_id"], body["country"], body["marketing_consent_source"]) == (
        "crm-42",
        "DK",
        "api",
    )
    assert Customer.objects.count() == 1


def test_customer_put_reports_field_errors(api):
    response = api.put(
        "/api/v1/customers/crm-1/",
        {**CUSTOMER_BODY, "locale": "fr", "email": "not-an-email", "customer_since": "soon"},
        format="json",
    )
    assert response.status_code == 400
    body = response.json()
    assert body["code"] == "invalid"
    assert set(body["errors"]) == {"locale", "email", "customer_since"}
    assert not Customer.objects.exists()


def test_customer_get_unknown_is_json_404(api):
    response = api.get("/api/v1/customers/nobody/")
    assert response.status_code == 404
    assert response.json() == {"detail": "Not found.", "code": "not_found"}


def test_customer_list_is_paginated(api):
    for _ in range(3):
        make_customer()
    body = api.get("/api/v1/customers/?page=1").json()
    assert body["count"] == 3
    assert len(body["results"]) == 3
    assert body["next"] is None


def test_subscription_put_creates_updates_and_repeats_without_new_events(api):
    customer = make_customer()
    make_plan(code="standard", price="179.00")
    make_plan(code="bas", price="99.00", rank=1)
    body = {
        "customer": customer.external_id,
        "plan": "standard",
        "started_at": "2024-01-01T10:00:00Z",
        "current_period_end": "2030-01-01T10:00:00Z",
    }

    created = api.put("/api/v1/subscriptions/bill-7/", body, format="json")
    changed = api.put("/api/v1/subscriptions/bill-7/", {**body, "plan": "bas"}, format="json")
    repeated = api.put("/api/v1/subscriptions/bill-7/", {**body, "plan": "bas"}, format="json")

    assert (created.status_code, changed.status_code, repeated.status_code) == (201, 200, 200)
    assert repeated.json()["plan"] == "bas"
    assert repeated.json()["monthly_amount"] == "99.00"
    kinds = list(SubscriptionEvent.objects.order_by("sequence").values_list("kind", flat=True))
    assert kinds == [EventKind.STARTED, EventKind.PLAN_CHANGED]


def test_subscription_put_unknown_plan_and_customer_is_404(api):
    response = api.put(
        "/api/v1/subscriptions/bill-8/", {"customer": "ghost", "plan": "gold"}, format="json"
    )
    assert response.status_code == 404
    assert set(response.json()["errors"]) == {"customer", "plan"}
    assert not Subscription.objects.exists()


def test_subscription_put_impossible_transition_is_409(api):
    subscription = make_subscription()
    body = {
        "customer": subscription.customer.external_id,
        "plan": subscription.plan.code,
        "status": "paused",
    }
    response = api.put(f"/api/v1/subscriptions/{subscription.external_id}/", body, format="json")
    assert response.status_code == 400  # paused needs paused_until
    assert "paused_until" in response.json()["detail"]

    api.put(
        f"/api/v1/subscriptions/{subscription.external_id}/",
        {**body, "status": "cancelled"},
        format="json",
    )
    response = api.put(
        f"/api/v1/subscriptions/{subscription.external_id}/",
        {**body, "status": "cancel_pending", "cancel_at": "2031-01-01T00:00:00Z"},
        format="json",
    )
    assert response.status_code == 409
    assert response.json()["code"] == "invalid_transition"


def test_subscription_get_returns_detail(api):
    subscription = make_subscription()
    body = api.get(f"/api/v1/subscriptions/{subscription.external_id}/").json()
    assert (body["external_id"], body["status"], body["customer"]) == (
        subscription.external_id,
        "active",
        subscription.customer.external_id,
    )


def test_openapi_schema_and_docs_are_served(client):
    schema = client.get("/api/schema/")
    assert schema.status_code == 200
    assert b"/api/v1/subscriptions/{external_id}/" in schema.content
    docs = client.get("/api/docs/")
    assert docs.status_code == 200
    assert b"cdn" not in docs.content.lower()
