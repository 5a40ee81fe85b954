"""Managers see decisions billing refused, with its error, retry them from the admin, and
the dashboard counts them as not carried out."""

import pytest

from core.enums import BillingCommandStatus as Status
from core.models import BillingCommand

pytestmark = pytest.mark.django_db
LIST = "/admin/core/billingcommand/"


def refused(n: int) -> BillingCommand:
    return BillingCommand.objects.create(
        subscription_id=n,
        ledger_event_id=n,
        kind="cancelled",
        payload={"op": "cancel", "subscription": f"sub_{n}", "tack_subscription": f"sub_{n}"},
        status=Status.REFUSED,
        attempts=1,
        last_error="HTTP 402: Your card was declined.",
        error_code="card_declined",
    )


def test_a_manager_sees_the_error_and_retries_with_a_new_key(
    client, manager, django_capture_on_commit_callbacks
):
    command = refused(1)
    client.force_login(manager)

    listing = client.get(LIST, {"status__exact": "refused"}).content.decode()
    with django_capture_on_commit_callbacks(execute=True):
        answer = client.post(
            LIST, {"action": "retry", "_selected_action": [command.pk]}, follow=True
        )

    assert "HTTP 402: Your card was declined." in listing and "sub_1" in listing
    assert "1 command(s) sent to billing again." in answer.content.decode()
    command.refresh_from_db()
    # The local gateway (the default) carries everything out.
    assert (command.status, command.round, command.idempotency_key) == (
        Status.APPLIED,
        1,
        "tack-ledger-1-1",
    )


def test_an_agent_does_not_see_billing_commands(client, agent):
    refused(2)
    client.force_login(agent)

    assert client.get(LIST).status_code == 403


def test_the_dashboard_counts_decisions_not_carried_out(client, manager):
    refused(3)
    refused(4)
    BillingCommand.objects.filter(ledger_event_id=4).update(status=Status.FAILED)
    BillingCommand.objects.create(
        subscription_id=5, ledger_event_id=5, kind="paused", status=Status.APPLIED
    )
    client.force_login(manager)

    page = client.get("/admin/retention/dashboard/").content.decode()

    assert "2 decisions were not carried out in billing" in page
