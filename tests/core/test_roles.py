import re

import pytest
from django.contrib.auth.models import Group

from core.roles import AGENTS, MANAGERS

pytestmark = pytest.mark.django_db


def perms(group_name: str) -> set[str]:
    group = Group.objects.get(name=group_name)
    return {f"{p.content_type.app_label}.{p.codename}" for p in group.permissions.all()}


def test_migrations_create_both_roles_with_their_permissions():
    agent_perms, manager_perms = perms(AGENTS), perms(MANAGERS)

    assert {"subscriptions.view_customer", "subscriptions.view_subscription"} <= agent_perms
    assert "core.view_apikey" not in agent_perms
    assert "subscriptions.change_plan" not in agent_perms
    assert {
        "core.add_apikey",
        "subscriptions.change_plan",
        "subscriptions.view_subscriptionevent",
    } <= manager_perms
    assert agent_perms < manager_perms


def test_admin_refuses_anonymous_and_non_staff(client, outsider):
    response = client.get("/admin/subscriptions/customer/")
    assert response.status_code == 302
    assert response["Location"].startswith("/admin/login/")

    client.force_login(outsider)
    response = client.get("/admin/subscriptions/customer/")
    assert response.status_code == 302
    assert response["Location"].startswith("/admin/login/")


def test_agent_sees_customers_but_not_configuration(client, agent):
    client.force_login(agent)
    assert client.get("/admin/subscriptions/customer/").status_code == 200
    assert client.get("/admin/core/apikey/").status_code == 403
    assert client.get("/admin/subscriptions/plan/add/").status_code == 403


def test_manager_creates_api_key_and_sees_it_once(client, manager):
    client.force_login(manager)
    response = client.post("/admin/core/apikey/add/", {"name": "billing", "scopes": ["read"]})
    assert response.status_code == 200
    assert not [str(m) for m in response.context["messages"] if "tack_" in str(m)]
    [raw] = re.findall(r"tack_[0-9a-f]{8}_[\w-]+", response.content.decode())
    api_response = client.get("/api/v1/customers/", HTTP_AUTHORIZATION=f"Bearer {raw}")
    assert api_response.status_code == 200
    page = client.get("/admin/core/apikey/").content.decode()
    assert raw not in page


def test_admin_login_locks_out_after_repeated_failures(client, manager, settings):
    for _ in range(settings.AXES_FAILURE_LIMIT):
        client.post("/admin/login/", {"username": "manager", "password": "wrong"})
    response = client.post(
        "/admin/login/", {"username": "manager", "password": "correct horse battery staple"}
    )
    assert response.status_code == 429
    assert b"Too many failed sign-ins" in response.content
