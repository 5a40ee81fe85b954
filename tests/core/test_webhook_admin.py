"""Managers register endpoints, watch the delivery log and send a delivery again;
agents see neither endpoints nor their secrets."""

import pytest

from core import webhooks
from core.enums import WebhookDeliveryStatus
from core.models import WebhookDelivery, WebhookEndpoint

pytestmark = pytest.mark.django_db

PAUSED = "subscription.paused"


def test_manager_registers_an_endpoint_with_a_generated_secret(client, manager, webhook_receiver):
    client.force_login(manager)

    response = client.post(
        "/admin/core/webhookendpoint/add/",
        {
            "name": "billing",
            "url": webhook_receiver.url,
            "event_types": [PAUSED, "cancellation.cancelled"],
            "active": "on",
        },
    )

    assert response.status_code == 302
    endpoint = WebhookEndpoint.objects.get()
    assert (endpoint.name, endpoint.event_types, endpoint.created_by) == (
        "billing",
        [PAUSED, "cancellation.cancelled"],
        manager,
    )
    assert endpoint.secret.startswith("whsec_") and len(endpoint.secret) > 40
    listing = client.get("/admin/core/webhookendpoint/").content.decode()
    assert "billing" in listing and endpoint.secret not in listing
    page = client.get(f"/admin/core/webhookendpoint/{endpoint.pk}/change/").content.decode()
    assert endpoint.secret in page


def test_manager_sends_a_test_event_and_rotates_the_secret(
    client, manager, webhook_receiver, django_capture_on_commit_callbacks
):
    client.force_login(manager)
    endpoint = WebhookEndpoint.objects.create(name="crm", url=webhook_receiver.url)
    old_secret = endpoint.secret

    with django_capture_on_commit_callbacks(execute=True):
        client.post(
            "/admin/core/webhookendpoint/",
            {"action": "rotate_secret", "_selected_action": [endpoint.pk]},
        )
        client.post(
            "/admin/core/webhookendpoint/",
            {"action": "send_test_event", "_selected_action": [endpoint.pk]},
        )

    endpoint.refresh_from_db()
    assert endpoint.secret != old_secret
    [request] = webhook_receiver.requests
    assert request.json["type"] == "webhook.test"
    assert webhooks.verify(
        secret=endpoint.secret, header=request.headers["Tack-Signature"], body=request.body
    )


def test_send_again_from_the_admin_redelivers_with_the_same_event_id(
    client, manager, webhook_receiver, django_capture_on_commit_callbacks, settings
):
    settings.TACK_WEBHOOK_GIVE_UP_HOURS = 0  # the first failure gives up
    endpoint = WebhookEndpoint.objects.create(
        name="billing", url=webhook_receiver.url, event_types=[PAUSED]
    )
    webhook_receiver.answer((500, 0))
    with django_capture_on_commit_callbacks(execute=True):
        event_id = webhooks.webhook_publish(event_type=PAUSED, scope="subscription:1", data={})
    delivery = WebhookDelivery.objects.get()
    assert delivery.status == WebhookDeliveryStatus.FAILED
    client.force_login(manager)

    page = client.get(f"/admin/core/webhookdelivery/{delivery.pk}/change/").content.decode()
    assert "HTTP 500" in page and str(event_id) in page
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            "/admin/core/webhookdelivery/",
            {"action": "send_again", "_selected_action": [delivery.pk]},
            follow=True,
        )

    assert "1 delivery(ies) queued again." in response.content.decode()
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts) == (WebhookDeliveryStatus.DELIVERED, 2)
    assert [r.headers["Tack-Event-Id"] for r in webhook_receiver.requests] == [str(event_id)] * 2
    assert webhook_receiver.requests[0].body == webhook_receiver.requests[1].body
    assert endpoint.deliveries.count() == 1
    search = client.get(f"/admin/core/webhookdelivery/?q={event_id}").content.decode()
    assert f"/admin/core/webhookdelivery/{delivery.pk}/change/" in search


def test_agents_see_neither_endpoints_nor_deliveries(client, agent):
    endpoint = WebhookEndpoint.objects.create(name="billing", url="https://billing.test/hook")
    client.force_login(agent)

    assert client.get("/admin/core/webhookendpoint/").status_code == 403
    assert client.get(f"/admin/core/webhookendpoint/{endpoint.pk}/change/").status_code == 403
    assert client.get("/admin/core/webhookdelivery/").status_code == 403
    assert endpoint.secret not in client.get("/admin/").content.decode()
