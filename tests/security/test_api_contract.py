"""The API answers what its OpenAPI schema says (issue 22, item 5): each test here was a
contract break found by an outside client or by schemathesis against a live server."""

import re

import jsonschema
import pytest

from subscriptions.models import Customer, Subscription
from tests.factories import make_customer, make_plan

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("depth", [1000, 21])
def test_a_deeply_nested_body_is_refused_with_a_400(api, depth):
    body = "[" * depth + "]" * depth
    response = api.post("/api/v1/cancellations/", body, content_type="application/json")
    assert response.status_code == 400
    assert response.json() == {
        "detail": "JSON parse error - the body is nested more than 20 levels deep.",
        "code": "parse_error",
    }


def test_a_body_nested_as_deep_as_allowed_reaches_validation(api):
    body = '{"subscription": ' + "[" * 19 + "]" * 19 + "}"
    response = api.post("/api/v1/cancellations/", body, content_type="application/json")
    assert response.status_code == 400
    assert response.json()["code"] == "invalid"


CUSTOMER = {
    "name": "Mette Nielsen",
    "email": "mette@example.com",
    "phone": "+4520123456",
    "country": "dk",
    "customer_since": "2018-05-02",
    "marketing_consent": True,
}


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("marketing_consent", 0),
        ("marketing_consent", "yes"),
        ("phone", 0),
        ("name", 12),
        ("customer_since", 20180502),
    ],
)
def test_a_value_of_another_json_type_than_the_schema_says_is_refused(api, field, value):
    response = api.put("/api/v1/customers/C1/", {**CUSTOMER, field: value}, format="json")
    assert response.status_code == 400
    assert list(response.json()["errors"]) == [field]


def test_numbers_in_strings_and_strings_for_numbers_are_refused(api):
    customer = make_customer()
    body = {"customer": customer.external_id, "plan": make_plan(code="standard").code}
    assert api.put("/api/v1/subscriptions/S1/", body, format="json").status_code == 201
    for field, value in [("monthly_amount", 179), ("monthly_amount", ""), ("plan", 1)]:
        response = api.put("/api/v1/subscriptions/S1/", {**body, field: value}, format="json")
        assert response.status_code == 400, (field, value)
        assert list(response.json()["errors"]) == [field]


@pytest.mark.parametrize("country", ["0", "S", "SWE"])
def test_a_country_outside_the_schemas_pattern_is_refused(api, country):
    response = api.put("/api/v1/customers/C1/", {**CUSTOMER, "country": country}, format="json")
    assert response.status_code == 400
    assert response.json()["errors"] == {
        "country": ["Use a two-letter ISO 3166 country code, e.g. SE."]
    }


def test_the_schema_states_the_country_pattern_and_the_plausible_years(api):
    schema = api.get("/api/schema/?format=json").json()["components"]["schemas"]
    customer = schema["CustomerRequest"]["properties"]
    country = customer["country"]
    assert "^[A-Za-z]{2}$" in [part.get("pattern") for part in [country, *country["oneOf"]]]
    pattern = customer["customer_since"]["pattern"]
    assert re.match(pattern, "1900-01-01") and re.match(pattern, "2018-05-02")
    assert not re.match(pattern, "0330-10-20") and not re.match(pattern, "1899-12-31")


@pytest.mark.parametrize("since", ["0330-10-20", "1899-12-31", "2999-01-01"])
def test_an_implausible_customer_since_is_refused(api, since):
    response = api.put(
        "/api/v1/customers/C1/", {**CUSTOMER, "customer_since": since}, format="json"
    )
    assert response.status_code == 400
    assert list(response.json()["errors"]) == ["customer_since"]


def test_a_customer_without_a_consent_source_says_null(api):
    customer = make_customer(consent=False)
    Customer.objects.filter(pk=customer.pk).update(marketing_consent_source="")
    response = api.get(f"/api/v1/customers/{customer.external_id}/")
    assert response.status_code == 200
    assert response.json()["marketing_consent_source"] is None
    schema = api.get("/api/schema/?format=json").json()["components"]["schemas"]
    assert schema["Customer"]["properties"]["marketing_consent_source"]["nullable"] is True


def test_metrics_for_an_unknown_plan_or_campaign_are_a_404(api):
    plan = make_plan(code="standard")
    query = {"from": "2026-01-01", "to": "2026-01-31"}
    assert api.get("/api/v1/metrics/summary", {**query, "plan": plan.pk}).status_code == 200
    for name in ["plan", "campaign"]:
        response = api.get("/api/v1/metrics/summary", {**query, name: 999999})
        assert response.status_code == 404
        assert response.json()["code"] == "not_found" and list(response.json()["errors"]) == [name]


def test_the_metrics_schema_states_ids_from_1_and_dates(api):
    operation = api.get("/api/schema/?format=json").json()["paths"]["/api/v1/metrics/summary"]
    parameters = {p["name"]: p["schema"] for p in operation["get"]["parameters"]}
    assert parameters["plan"] == parameters["campaign"] == {"type": "integer", "minimum": 1}
    assert parameters["from"] == parameters["to"] == {"type": "string", "format": "date"}
    assert "404" in operation["get"]["responses"]


def test_every_error_the_api_answers_is_documented(api, anonymous_api):
    """401 without a key, 404 "Invalid page.", 409 customer_erased and idempotency_conflict
    were answered but not in the schema."""
    from privacy.services import customer_erase
    from subscriptions.actors import Actor

    paths = api.get("/api/schema/?format=json").json()["paths"]
    for path, operations in paths.items():
        for method, operation in operations.items():
            assert {"401", "403", "429"} <= set(operation["responses"]), (method, path)

    assert anonymous_api.get("/api/v1/customers/").status_code == 401

    invalid_page = api.get("/api/v1/customers/", {"page": 9})
    assert invalid_page.json() == {"detail": "Invalid page.", "code": "not_found"}
    for path in ["/api/v1/customers/", "/api/v1/subscriptions/"]:
        assert "404" in paths[path]["get"]["responses"]

    customer = make_customer()
    customer_erase(customer=customer, actor=Actor.system("test"))
    erased = api.put(f"/api/v1/customers/{customer.external_id}/", CUSTOMER, format="json")
    assert (erased.status_code, erased.json()["code"]) == (409, "customer_erased")
    assert "409" in paths["/api/v1/customers/{external_id}/"]["put"]["responses"]

    body = {"subscription": "nobody", "reason": "price"}
    api.post("/api/v1/cancellations/", body, format="json", HTTP_IDEMPOTENCY_KEY="k")
    conflict = api.post(
        "/api/v1/cancellations/", {**body, "text": "x"}, format="json", HTTP_IDEMPOTENCY_KEY="k"
    )
    assert (conflict.status_code, conflict.json()["code"]) == (409, "idempotency_conflict")
    idempotent = [
        path
        for path, operations in paths.items()
        if any(
            p["name"] == "Idempotency-Key" for p in operations.get("post", {}).get("parameters", [])
        )
    ]
    assert "/api/v1/cancellations/" in idempotent
    for path in idempotent:
        assert "409" in paths[path]["post"]["responses"], path


def test_cancelled_by_us_for_non_payment_is_recorded_through_the_api(api):
    """cancelled_by was silently ignored: every ended subscription counted as the
    customer's own decision, and win-back never saw a customer we pushed away."""
    from winback import segmentation
    from winback.models import LostCustomer

    customer = make_customer()
    body = {"customer": customer.external_id, "plan": make_plan(code="standard").code}
    assert api.put("/api/v1/subscriptions/S1/", body, format="json").json()["cancelled_by"] is None

    response = api.put(
        "/api/v1/subscriptions/S1/",
        {**body, "status": "cancelled", "cancelled_by": "non_payment"},
        format="json",
    )
    assert response.status_code == 200
    assert (response.json()["status"], response.json()["cancelled_by"]) == (
        "cancelled",
        "non_payment",
    )
    subscription = Subscription.objects.get(external_id="S1")
    assert subscription.cancelled_by == "non_payment"
    assert subscription.events.order_by("-sequence").first().kind == "cancelled"
    segmentation.lost_customers_record()
    segmentation.lost_customers_segment()
    lost = LostCustomer.objects.get(subscription=subscription)
    assert (lost.cancelled_by, lost.churn_group) == ("non_payment", "deliberately_pushed")


def test_cancelled_by_without_a_cancellation_is_refused_and_a_later_one_corrects_it(api):
    customer = make_customer()
    body = {"customer": customer.external_id, "plan": make_plan(code="standard").code}
    api.put("/api/v1/subscriptions/S1/", body, format="json")
    refused = api.put(
        "/api/v1/subscriptions/S1/", {**body, "cancelled_by": "misuse"}, format="json"
    )
    assert refused.status_code == 400
    assert Subscription.objects.get(external_id="S1").cancelled_by == ""

    api.put(
        "/api/v1/subscriptions/S1/",
        {**body, "status": "cancel_pending", "cancel_at": "2099-01-01T00:00:00Z"},
        format="json",
    )
    assert Subscription.objects.get(external_id="S1").cancelled_by == "customer"
    corrected = api.put(
        "/api/v1/subscriptions/S1/", {**body, "cancelled_by": "misuse"}, format="json"
    )
    assert (corrected.status_code, corrected.json()["cancelled_by"]) == (200, "misuse")
    assert Subscription.objects.get(external_id="S1").events.order_by("-sequence").first().kind == (
        "updated"
    )


def test_a_subscription_named_for_another_customer_is_a_409(api):
    """Schema-valid, and refused for the state of the data, not the shape of the request."""
    plan = make_plan(code="standard")
    first, second = make_customer(), make_customer()
    body = {"customer": first.external_id, "plan": plan.code}
    api.put("/api/v1/subscriptions/S1/", body, format="json")
    response = api.put(
        "/api/v1/subscriptions/S1/", {**body, "customer": second.external_id}, format="json"
    )
    assert response.status_code == 409
    assert response.json() == {
        "detail": "A subscription cannot move to another customer.",
        "code": "customer_mismatch",
    }


@pytest.mark.parametrize(
    ("field", "value", "accepted"),
    [
        ("name", "Mette\u0000", False),
        ("name", "Mette\nNielsen", False),
        ("name", "   ", False),
        ("name", "Mette Nielsen", True),
        ("phone", "+45\u202e20", False),
        ("phone", "", True),
    ],
)
def test_text_fields_state_what_they_refuse_as_their_schema_pattern(api, field, value, accepted):
    """A schema-valid name with a NUL, a newline or only spaces was refused: the schema's
    pattern now says what the API refuses, and the two agree."""
    schema = api.get("/api/schema/?format=json").json()["components"]["schemas"]
    property_schema = schema["CustomerRequest"]["properties"][field]
    response = api.put("/api/v1/customers/C1/", {**CUSTOMER, field: value}, format="json")
    errors = list(jsonschema.Draft4Validator(property_schema).iter_errors(value))
    assert (not errors) == accepted, errors
    assert (response.status_code < 400) == accepted, response.json()


def test_a_case_without_a_reason_is_described_as_such_by_the_schema(api):
    """A case declined without a reason answered "reason": null, which the schema forbade."""
    from django.apps import apps

    from cancellations import services
    from cancellations.defaults import ensure_defaults
    from subscriptions.actors import Actor
    from tests.factories import make_subscription

    ensure_defaults(apps)
    subscription = make_subscription(plan=make_plan(code="standard"))
    case = services.cancellation_start(subscription=subscription, actor=Actor.customer())
    assert api.get(f"/api/v1/cancellations/{case.pk}/").json()["reason"] is None
    schema = api.get("/api/schema/?format=json").json()["components"]["schemas"]
    assert schema["CancellationCase"]["properties"]["reason"]["nullable"] is True


@pytest.mark.parametrize("field", ["started_at", "current_period_end", "cancel_at"])
def test_a_time_in_the_year_247_is_refused(api, field):
    """It was stored, and answered with the local zone's offset of that age (+01:12:12),
    which is no RFC 3339 date-time; found by the live schemathesis run."""
    customer = make_customer()
    body = {"customer": customer.external_id, "plan": make_plan(code="standard").code}
    response = api.put(
        "/api/v1/subscriptions/S1/", {**body, field: "0247-01-08T20:39:10Z"}, format="json"
    )
    assert response.status_code == 400
    assert list(response.json()["errors"]) == [field]
    schema = api.get("/api/schema/?format=json").json()["components"]["schemas"]
    assert not re.match(schema["SubscriptionRequest"]["properties"][field]["pattern"], "0247")
