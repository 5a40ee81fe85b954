from datetime import timedelta

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from cancellations.enums import CaseOutcome, OfferKind
from cancellations.models import CancellationCase
from core.models import OutboundEmail
from desk.models import CallbackRequest
from subscriptions.enums import EventKind, SubscriptionStatus

pytestmark = pytest.mark.django_db


def open_case(api, subscription, reason="moving", **extra):
    return api.post(
        "/api/v1/cancellations/",
        {"subscription": subscription.external_id, "reason": reason, **extra},
        format="json",
    )


def test_api_needs_a_key(anonymous_api, subscription):
    assert open_case(anonymous_api, subscription).status_code == 401


def test_exit_reasons_list_every_language(api, defaults):
    response = api.get("/api/v1/exit-reasons/")
    assert response.status_code == 200
    moving = next(r for r in response.json() if r["code"] == "moving")
    assert moving["labels"] == {
        "en": "I am moving",
        "sv": "Jag flyttar",
        "da": "Jeg flytter",
        "nb": "Jeg flytter",
    }
    assert moving["default_churn_group"] == "self_switcher"


def test_cancel_link_opens_the_flow(api, client, subscription):
    response = api.post(f"/api/v1/subscriptions/{subscription.external_id}/cancel-link/")
    assert response.status_code == 200
    body = response.json()
    assert body["url"].startswith("http://testserver/cancel/")
    expires = timezone.datetime.fromisoformat(body["expires_at"])
    assert timedelta(days=6, hours=23) < expires - timezone.now() <= timedelta(days=7)
    page = client.get(body["url"].removeprefix("http://testserver"))
    assert page.status_code == 200
    assert api.post("/api/v1/subscriptions/nope/cancel-link/").status_code == 404


def test_open_case_returns_offers_and_accept_saves(api, subscription):
    response = open_case(api, subscription, "moving", text="Flyttar till Berlin", channel="web")
    assert response.status_code == 201
    case = response.json()
    assert (case["outcome"], case["channel"], case["reason"]) == ("open", "web", "moving")
    assert [o["kind"] for o in case["offers"]] == ["pause", "loyalty_bonus"]
    pause = case["offers"][0]
    assert pause["cost"] == "597.00" and pause["parameters"] == {"max_months": 3}
    accepted = api.post(
        f"/api/v1/cancellations/{case['id']}/accept/",
        {"offer": pause["id"], "months": 1},
        format="json",
    )
    assert accepted.status_code == 200
    assert accepted.json()["outcome"] == "saved"
    assert accepted.json()["accepted_offer"] == pause["id"]
    subscription.refresh_from_db()
    assert subscription.status == SubscriptionStatus.PAUSED
    detail = api.get(f"/api/v1/cancellations/{case['id']}/").json()
    assert detail["offers"][0]["accepted_cost"] == "199.00"


def test_open_case_again_resumes_the_open_one(api, subscription):
    first = open_case(api, subscription, "moving")
    second = open_case(api, subscription, "price")
    assert (first.status_code, second.status_code) == (201, 200)
    assert first.json()["id"] == second.json()["id"]
    assert second.json()["reason"] == "price"
    assert CancellationCase.objects.count() == 1


def test_decline_schedules_the_cancellation(api, subscription):
    case = open_case(api, subscription, "price").json()
    response = api.post(
        f"/api/v1/cancellations/{case['id']}/decline/", {"text": "dyrt"}, format="json"
    )
    assert response.status_code == 200
    body = response.json()
    assert body["outcome"] == "cancelled" and body["cancel_effective_at"]
    subscription.refresh_from_db()
    assert subscription.status == SubscriptionStatus.CANCEL_PENDING
    # Accepting an offer afterwards is a conflict, not a second outcome.
    offer = case["offers"][0]["id"]
    conflict = api.post(
        f"/api/v1/cancellations/{case['id']}/accept/", {"offer": offer}, format="json"
    )
    assert conflict.status_code == 409 and conflict.json()["code"] == "case_closed"


def test_callback_over_the_api(api, subscription):
    case = open_case(api, subscription, "poor_service").json()
    callback = next(o for o in case["offers"] if o["kind"] == OfferKind.CALLBACK)
    day = (timezone.localdate() + timedelta(days=3)).isoformat()
    response = api.post(
        f"/api/v1/cancellations/{case['id']}/accept/",
        {"offer": callback["id"], "callback_day": day, "callback_window": "morning"},
        format="json",
    )
    assert response.status_code == 200
    assert response.json()["outcome"] == "open"
    assert response.json()["callbacks"][0]["window"] == "morning"
    assert CallbackRequest.objects.count() == 1


def test_invalid_input_is_a_clear_400_and_a_missing_object_a_404(api, subscription):
    response = open_case(api, subscription, "no-such-reason")
    assert response.status_code == 404
    assert response.json() == {
        "detail": "Not found.",
        "code": "not_found",
        "errors": {"reason": ["Object with code=no-such-reason does not exist."]},
    }
    case = open_case(api, subscription).json()
    response = api.post(f"/api/v1/cancellations/{case['id']}/accept/", {"offer": 0}, format="json")
    assert response.status_code == 404
    assert response.json()["detail"] == "This case has no offer with this id."
    pause = case["offers"][0]["id"]
    response = api.post(
        f"/api/v1/cancellations/{case['id']}/accept/", {"offer": pause, "months": 7}, format="json"
    )
    assert response.status_code == 400 and "months" in response.json()["errors"]
    assert api.get("/api/v1/cancellations/999999/").status_code == 404


def test_idempotency_key_replays_the_first_answer(api, subscription):
    body = {"subscription": subscription.external_id, "reason": "price"}
    first = api.post("/api/v1/cancellations/", body, format="json", HTTP_IDEMPOTENCY_KEY="k-1")
    case_id = first.json()["id"]
    decline = f"/api/v1/cancellations/{case_id}/decline/"
    declined = api.post(decline, {}, format="json", HTTP_IDEMPOTENCY_KEY="k-2")
    replay = api.post(decline, {}, format="json", HTTP_IDEMPOTENCY_KEY="k-2")
    assert replay.status_code == declined.status_code == 200
    assert replay.json() == declined.json()
    assert replay["Idempotent-Replayed"] == "true"
    assert subscription.events.filter(kind=EventKind.CANCEL_REQUESTED).count() == 1
    assert OutboundEmail.objects.filter(kind="cancellation_cancelled").count() == 1
    # The case-opening replay returns the original 201, not a new case.
    again = api.post("/api/v1/cancellations/", body, format="json", HTTP_IDEMPOTENCY_KEY="k-1")
    assert again.status_code == 201 and again.json()["id"] == case_id
    # Same key, different body: 409.
    other = {"subscription": subscription.external_id, "reason": "moving"}
    conflict = api.post("/api/v1/cancellations/", other, format="json", HTTP_IDEMPOTENCY_KEY="k-1")
    assert conflict.status_code == 409
    assert CancellationCase.objects.get().outcome == CaseOutcome.CANCELLED


def test_schema_documents_the_cancellation_endpoints(api):
    from django.test import Client

    schema = Client().get("/api/schema/?format=json").json()
    for path in [
        "/api/v1/cancellations/",
        "/api/v1/cancellations/{id}/accept/",
        "/api/v1/cancellations/{id}/decline/",
        "/api/v1/cancellations/{id}/",
        "/api/v1/subscriptions/{external_id}/cancel-link/",
        "/api/v1/exit-reasons/",
    ]:
        assert path in schema["paths"], path
    params = schema["paths"]["/api/v1/cancellations/"]["post"]["parameters"]
    assert any(p["name"] == "Idempotency-Key" for p in params)


@pytest.mark.django_db(transaction=True)
def test_concurrent_opens_without_an_idempotency_key_create_one_case_and_say_so_once(
    defaults, plans, api_key
):
    """Found by an outside client: 50 opens at once answered 201 three times, because
    whether the case was new was read before the subscription's lock."""
    import threading

    from django.db import connection

    from tests.factories import make_subscription

    subscription = make_subscription(plan=plans["standard"])
    statuses, barrier = [], threading.Barrier(8)

    def open_case():
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {api_key}")
        barrier.wait()
        try:
            response = client.post(
                "/api/v1/cancellations/",
                {"subscription": subscription.external_id, "reason": "moving"},
                format="json",
            )
            statuses.append(response.status_code)
        finally:
            connection.close()

    threads = [threading.Thread(target=open_case) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert sorted(statuses) == [200] * 7 + [201]
    assert CancellationCase.objects.filter(subscription=subscription).count() == 1
