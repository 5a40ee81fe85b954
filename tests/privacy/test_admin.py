"""Export and erasure from the customer admin: managers only, erasure after confirmation."""

import json

import pytest

from privacy.models import DataRightsLog
from subscriptions.models import Customer
from tests.factories import make_customer

pytestmark = pytest.mark.django_db


@pytest.fixture
def customer(db):
    return make_customer(name="Astrid Lindqvist", email="astrid@example.com")


def urls(customer) -> dict[str, str]:
    base = f"/admin/subscriptions/customer/{customer.pk}"
    return {"change": f"{base}/change/", "export": f"{base}/export/", "erase": f"{base}/erase/"}


def test_manager_sees_both_buttons_and_downloads_the_export(client, manager, customer):
    client.force_login(manager)
    page = client.get(urls(customer)["change"]).content.decode()
    assert "Export data (JSON)" in page and "Erase personal data" in page

    response = client.get(urls(customer)["export"])

    assert response.status_code == 200
    assert response["Content-Disposition"] == (
        f'attachment; filename="tack-customer-{customer.pk}.json"'
    )
    assert json.loads(response.content)["customer"]["name"] == "Astrid Lindqvist"
    entry = DataRightsLog.objects.get()
    assert (entry.action, entry.actor, entry.channel) == ("export", manager, "admin")


def test_manager_erases_after_confirming(client, manager, customer):
    client.force_login(manager)

    confirm = client.get(urls(customer)["erase"])
    assert confirm.status_code == 200
    assert "Yes, erase the personal data" in confirm.content.decode()
    assert Customer.objects.get().erased_at is None  # asking is not erasing

    response = client.post(urls(customer)["erase"], follow=True)

    customer.refresh_from_db()
    assert response.redirect_chain[-1][0] == urls(customer)["change"]
    assert customer.name == "Erased customer" and customer.erased_at is not None
    assert "personal data is erased" in response.content.decode()
    assert "Erase personal data</a>" not in response.content.decode()
    entry = DataRightsLog.objects.get()
    assert (entry.action, entry.actor, entry.actor_label) == ("erasure", manager, "manager")


def test_manager_starts_from_the_customer_list_actions(client, manager, customer):
    client.force_login(manager)

    response = client.post(
        "/admin/subscriptions/customer/",
        {"action": "erase_data", "_selected_action": [customer.pk]},
    )

    assert response.status_code == 302 and response["Location"] == urls(customer)["erase"]
    response = client.post(
        "/admin/subscriptions/customer/",
        {"action": "export_data", "_selected_action": [customer.pk]},
    )
    assert response["Location"] == urls(customer)["export"]


def test_agents_may_neither_export_nor_erase(client, agent, customer):
    client.force_login(agent)

    page = client.get(urls(customer)["change"]).content.decode()
    assert "Export data (JSON)" not in page and "Erase personal data" not in page
    actions = client.get("/admin/subscriptions/customer/").content.decode()
    assert "export_data" not in actions and "erase_data" not in actions
    assert client.get(urls(customer)["export"]).status_code == 403
    assert client.get(urls(customer)["erase"]).status_code == 403
    assert client.post(urls(customer)["erase"]).status_code == 403
    assert client.get("/admin/privacy/datarightslog/").status_code == 403
    assert Customer.objects.get().erased_at is None
    assert not DataRightsLog.objects.exists()


def test_outsiders_and_anonymous_are_sent_to_the_login(client, outsider, customer):
    for user in (None, outsider):
        if user:
            client.force_login(user)
        for url in (urls(customer)["export"], urls(customer)["erase"]):
            response = client.post(url) if url.endswith("erase/") else client.get(url)
            assert response.status_code == 302
            assert response["Location"].startswith("/admin/login/")
    assert Customer.objects.get().erased_at is None
