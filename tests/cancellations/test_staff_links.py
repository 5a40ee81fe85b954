"""A cancel link made by staff is a staff action on the record: it needs the change
permission, asks why, writes a log entry (who, which customer, why), and a case opened
through it names the staff member (web, assisted), not the customer."""

import re

import pytest
from django.contrib.admin.models import CHANGE, LogEntry
from django.contrib.auth.models import Permission

from cancellations import links
from cancellations.models import CancellationCase
from subscriptions.enums import SubscriptionStatus
from subscriptions.models import SubscriptionEvent
from tests.cancellations.conftest import reason
from tests.factories import make_user

pytestmark = pytest.mark.django_db

CHANGELIST = "/admin/subscriptions/subscription/"


def create_links(client, subscription, **extra):
    return client.post(
        CHANGELIST,
        {"action": "create_cancel_links", "_selected_action": [subscription.pk], **extra},
    )


def test_a_staff_member_without_change_permission_cannot_create_links(client, subscription):
    viewer = make_user("viewer")
    viewer.user_permissions.add(Permission.objects.get(codename="view_subscription"))
    client.force_login(viewer)

    response = create_links(client, subscription, reason="just because")

    assert "/cancel/" not in response.content.decode()
    assert not LogEntry.objects.exists()


def test_the_action_asks_why_before_it_makes_a_link(client, agent, subscription):
    client.force_login(agent)

    response = create_links(client, subscription)

    html = response.content.decode()
    assert response.status_code == 200
    assert 'name="reason"' in html and "/cancel/" not in html
    assert not LogEntry.objects.exists()


def test_an_agent_made_link_is_logged_and_its_cancellation_names_the_agent(
    client, agent, subscription
):
    client.force_login(agent)

    response = create_links(client, subscription, reason="asked by phone, ticket 4711")

    html = response.content.decode()
    [url] = re.findall(r"http://testserver(/cancel/[^<\s]+)", html)
    assert "no-store" in response["Cache-Control"]
    assert not list(response.context["messages"])  # the link is on the page, not in a cookie
    [entry] = LogEntry.objects.all()
    assert (entry.user, entry.object_id, entry.action_flag) == (
        agent,
        str(subscription.pk),
        CHANGE,
    )
    assert subscription.customer.external_id in entry.get_change_message()
    assert "asked by phone, ticket 4711" in entry.get_change_message()

    client.logout()  # the customer follows the link
    client.get(url + "?lang=en")
    assert not CancellationCase.objects.exists()  # a page view opens no case
    client.post(url + "reason/", {"reason": reason("price").pk})
    case = CancellationCase.objects.get(subscription=subscription)
    client.post(url + "decide/", {"case": case.pk, "choice": "decline"})

    case.refresh_from_db()
    assert (case.channel, case.actor, case.assisted, case.outcome) == (
        "web",
        agent,
        True,
        "cancelled",
    )
    assert set(case.steps.values_list("actor_label", flat=True)) == {"agent"}
    event = SubscriptionEvent.objects.filter(subscription=subscription).latest("pk")
    assert (event.channel, event.actor) == ("web", agent)
    subscription.refresh_from_db()
    assert subscription.status == SubscriptionStatus.CANCEL_PENDING


def test_the_customers_own_link_stays_self_service(client, subscription):
    url, _ = links.cancel_link(subscription=subscription)

    path = url.removeprefix("http://testserver")
    client.get(path + "?lang=en")
    client.post(path + "leave/")

    case = CancellationCase.objects.get(subscription=subscription)
    assert (case.channel, case.actor, case.assisted) == ("web", None, False)
