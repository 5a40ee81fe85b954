"""The receiver the README points to verifies Tack's signatures and sees retries."""

import subprocess
import sys
from pathlib import Path

import pytest

from core import webhooks
from core.models import WebhookDelivery
from core.outbox import webhooks as webhook_outbox
from tests.conftest import free_port
from tests.factories import make_endpoint

pytestmark = pytest.mark.django_db

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "webhook_receiver.py"


def test_the_example_receiver_verifies_deliveries_and_refuses_forgeries():
    port = free_port()
    url = f"http://127.0.0.1:{port}/"
    endpoint = make_endpoint(url=url, event_types=["subscription.paused"])
    forger = make_endpoint(url=url, event_types=["subscription.paused"])
    receiver = subprocess.Popen(
        [
            sys.executable,
            str(SCRIPT),
            "--port",
            str(port),
            "--secret",
            endpoint.secret,
            "--fail",
            "1",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert receiver.stdout.readline().startswith("listening")
        webhooks.webhook_publish(event_type="subscription.paused", scope="subscription:1", data={})
        mine = WebhookDelivery.objects.get(endpoint=endpoint)
        forged = WebhookDelivery.objects.get(endpoint=forger)

        assert webhook_outbox.webhook_deliver(delivery_id=mine.pk) == "pending"
        mine.refresh_from_db()
        assert webhook_outbox.webhook_deliver(delivery_id=mine.pk, now=mine.next_attempt_at) == (
            "delivered"
        )
        assert webhook_outbox.webhook_deliver(delivery_id=forged.pk) == "pending"
        lines = [receiver.stdout.readline().strip() for _ in range(3)]
    finally:
        receiver.terminate()
        receiver.wait(timeout=10)

    event_id = str(mine.event_id)
    assert lines == [
        f"500 verified subscription.paused id={event_id} sequence=1",
        f"200 verified duplicate subscription.paused id={event_id} sequence=1",
        "400 BAD SIGNATURE  id= sequence=",
    ]
