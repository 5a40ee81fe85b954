"""API keys carry scopes and may expire; the admin shows a new key once, on a page."""

import re
from datetime import timedelta

import pytest
from django.utils import timezone
from drf_spectacular.generators import SchemaGenerator
from rest_framework.test import APIClient

from core.enums import ApiScope
from core.models import ApiKey
from core.services import api_key_create
from subscriptions.models import Customer
from tests.factories import make_subscription

pytestmark = pytest.mark.django_db


def client_for(raw_key: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw_key}")
    return client


def test_a_key_without_the_privacy_scope_cannot_erase_a_customer():
    customer = make_subscription().customer
    _, billing_key = api_key_create(
        name="billing sync", scopes=[ApiScope.READ, ApiScope.SUBSCRIPTIONS_WRITE]
    )

    response = client_for(billing_key).post(f"/api/v1/customers/{customer.external_id}/erase/")

    assert response.status_code == 403
    assert response.json()["detail"] == (
        "This API key lacks the scope this operation needs: privacy."
    )
    assert Customer.objects.get(pk=customer.pk).erased_at is None


def test_a_key_with_only_the_read_scope_reads_but_does_not_write():
    subscription = make_subscription()
    _, raw = api_key_create(name="reporting", scopes=[ApiScope.READ])
    client = client_for(raw)

    read = client.get(f"/api/v1/subscriptions/{subscription.external_id}/")
    write = client.post(f"/api/v1/subscriptions/{subscription.external_id}/cancel-link/")
    metrics = client.get("/api/v1/metrics/summary?from=2026-01-01&to=2026-12-31")

    assert (read.status_code, write.status_code, metrics.status_code) == (200, 403, 403)
    assert "cancellations:write" in write.json()["detail"]
    assert "metrics" in metrics.json()["detail"]


def test_an_expired_key_is_refused_and_a_used_key_notes_when():
    _, expired = api_key_create(
        name="old", scopes=[ApiScope.READ], expires_at=timezone.now() - timedelta(seconds=1)
    )
    key, fresh = api_key_create(
        name="new", scopes=[ApiScope.READ], expires_at=timezone.now() + timedelta(days=1)
    )

    assert client_for(expired).get("/api/v1/customers/").status_code == 401
    assert client_for(fresh).get("/api/v1/customers/").status_code == 200
    key.refresh_from_db()
    assert key.last_used_at is not None


def test_unknown_scopes_are_refused():
    with pytest.raises(ValueError):
        api_key_create(name="typo", scopes=["admin"])


def test_the_schema_names_the_scope_of_every_operation():
    schema = SchemaGenerator().get_schema(request=None, public=True)
    scopes = {
        (method.upper(), path): operation.get("x-tack-scope")
        for path, methods in schema["paths"].items()
        for method, operation in methods.items()
        if path.startswith("/api/v1/")
    }
    descriptions = [
        operation["description"]
        for path, methods in schema["paths"].items()
        for operation in methods.values()
        if path.startswith("/api/v1/")
    ]

    assert scopes[("POST", "/api/v1/customers/{external_id}/erase/")] == "privacy"
    assert scopes[("GET", "/api/v1/customers/{external_id}/export/")] == "privacy"
    assert scopes[("GET", "/api/v1/metrics/summary")] == "metrics"
    assert scopes[("PUT", "/api/v1/subscriptions/{external_id}/")] == "subscriptions:write"
    assert scopes[("POST", "/api/v1/cancellations/")] == "cancellations:write"
    assert scopes[("GET", "/api/v1/customers/")] == "read"
    assert set(scopes.values()) <= set(ApiScope.values)
    assert all(d.startswith("**API key scope:** `") for d in descriptions)


def test_the_admin_shows_a_new_key_once_on_a_page_and_never_in_a_cookie(client, manager):
    client.force_login(manager)

    response = client.post(
        "/admin/core/apikey/add/",
        {"name": "crm", "scopes": [ApiScope.READ, ApiScope.METRICS], "expires_at": ""},
    )

    assert response.status_code == 200
    page = response.content.decode()
    [raw_key] = re.findall(r"tack_[0-9a-f]{8}_[\w-]+", page)
    assert "no-store" in response["Cache-Control"]
    cookies = " ".join(morsel.value for morsel in response.cookies.values())
    assert raw_key not in cookies
    assert raw_key not in " ".join(m.value for m in client.cookies.values())
    key = ApiKey.objects.get(name="crm")
    assert (key.scopes, key.created_by) == (["read", "metrics"], manager)
    assert client_for(raw_key).get("/api/v1/customers/").status_code == 200
    listing = client.get("/admin/core/apikey/").content.decode()
    assert raw_key not in listing and "read, metrics" in listing


@pytest.mark.django_db(transaction=True)
def test_keys_made_before_scopes_existed_keep_every_scope():
    from django.db import connection
    from django.db.migrations.executor import MigrationExecutor

    before = [("core", "0006_outbound_email_promise_unknown")]
    after = [("core", "0007_api_key_scopes_public_webhook_urls")]
    executor = MigrationExecutor(connection)
    latest = executor.loader.graph.leaf_nodes()
    try:
        executor.migrate(before)
        old_apps = executor.loader.project_state(before).apps
        old_apps.get_model("core", "ApiKey").objects.create(
            name="old billing sync", prefix="0ld0ld00", key_hash="0" * 64
        )

        executor = MigrationExecutor(connection)
        executor.loader.build_graph()
        executor.migrate(after)

        assert ApiKey.objects.get(prefix="0ld0ld00").scopes == ApiScope.values
    finally:
        # Every later migration (of any app) is applied again, so that the tests after this
        # one in this process find the schema they expect.
        executor = MigrationExecutor(connection)
        executor.loader.build_graph()
        executor.migrate(latest)
