"""Export and erasure over the API: API-key only, JSON errors, audited, in the schema."""

import pytest

from privacy.models import DataRightsLog
from subscriptions.models import Customer
from tests.factories import make_customer

pytestmark = pytest.mark.django_db


@pytest.fixture
def customer(db):
    return make_customer(name="Astrid Lindqvist", email="astrid@example.com")


def test_export_returns_the_document_and_is_audited(api, customer):
    response = api.get(f"/api/v1/customers/{customer.external_id}/export/")

    assert response.status_code == 200
    document = response.json()
    assert document["format"] == "tack.customer-export"
    assert document["customer"]["email"] == "astrid@example.com"
    entry = DataRightsLog.objects.get()
    assert (entry.action, entry.channel, entry.actor_label, entry.actor) == (
        "export",
        "api",
        "api:billing sync",
        None,
    )


def test_erase_answers_what_was_done_and_again_that_it_was_done(api, customer):
    url = f"/api/v1/customers/{customer.external_id}/erase/"

    first = api.post(url)
    second = api.post(url)

    customer.refresh_from_db()
    assert first.status_code == second.status_code == 200
    assert first.json() == {
        "customer": customer.external_id,
        "erased_at": first.json()["erased_at"],
        "already_erased": False,
    }
    assert second.json()["already_erased"] is True
    assert second.json()["erased_at"] == first.json()["erased_at"]
    assert (customer.name, customer.email) == ("Erased customer", "")
    assert DataRightsLog.objects.filter(action="erasure", channel="api").count() == 2


def test_erase_honours_the_idempotency_key(api, customer):
    url = f"/api/v1/customers/{customer.external_id}/erase/"

    first = api.post(url, HTTP_IDEMPOTENCY_KEY="erase-1")
    replay = api.post(url, HTTP_IDEMPOTENCY_KEY="erase-1")

    assert replay.json() == first.json() and replay["Idempotent-Replayed"] == "true"
    assert DataRightsLog.objects.count() == 1


def test_unknown_customers_are_404_in_json(api):
    for response in (
        api.get("/api/v1/customers/nobody/export/"),
        api.post("/api/v1/customers/nobody/erase/"),
    ):
        assert response.status_code == 404
        assert response.json()["code"] == "not_found"


def test_anonymous_callers_are_refused(anonymous_api, customer):
    export = anonymous_api.get(f"/api/v1/customers/{customer.external_id}/export/")
    erase = anonymous_api.post(f"/api/v1/customers/{customer.external_id}/erase/")

    assert export.status_code == erase.status_code == 401
    assert Customer.objects.get().erased_at is None
    assert not DataRightsLog.objects.exists()


def test_the_schema_documents_both_endpoints(anonymous_api):
    schema = anonymous_api.get("/api/schema/?format=json").json()

    export = schema["paths"]["/api/v1/customers/{external_id}/export/"]["get"]
    erase = schema["paths"]["/api/v1/customers/{external_id}/erase/"]["post"]
    assert set(export["responses"]) == {"200", "401", "403", "404", "429"}
    assert set(erase["responses"]) == {"200", "401", "403", "404", "409", "429"}
    assert "GDPR" in erase["summary"]
