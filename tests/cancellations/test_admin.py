import pytest
from django.urls import reverse

from cancellations import services
from subscriptions.actors import Actor
from tests.cancellations.conftest import reason

pytestmark = pytest.mark.django_db


@pytest.fixture
def decided_case(subscription):
    case = services.cancellation_start(subscription=subscription, actor=Actor.customer())
    services.cancellation_choose_reason(case=case, reason=reason("price"), actor=Actor.customer())
    return services.cancellation_decline(case=case, actor=Actor.customer())


def test_cases_are_listed_with_filters_and_a_read_only_timeline(client, manager, decided_case):
    client.force_login(manager)
    changelist = reverse("admin:cancellations_cancellationcase_changelist")
    assert client.get(changelist + "?outcome__exact=cancelled").status_code == 200
    html = client.get(changelist + "?outcome__exact=saved&channel__exact=web").content.decode()
    assert "0 cancellation cases" in html
    detail = client.get(
        reverse("admin:cancellations_cancellationcase_change", args=[decided_case.pk])
    ).content.decode()
    assert "Timeline" in detail
    for step in ("Opened", "Reason chosen", "Offers shown", "Declined offers and cancelled"):
        assert step in detail
    assert 'name="_save"' not in detail  # read-only


def test_agents_cannot_change_reasons_or_rules(client, agent, defaults):
    client.force_login(agent)
    assert client.get(reverse("admin:cancellations_offerrule_changelist")).status_code == 403
    assert client.get(reverse("admin:cancellations_exitreason_add")).status_code == 403


def test_managers_configure_reasons_and_rules(client, manager, defaults):
    client.force_login(manager)
    moving = reason("moving")
    response = client.get(reverse("admin:cancellations_exitreason_change", args=[moving.pk]))
    assert response.status_code == 200 and "label_nb" in response.content.decode()
    assert client.get(reverse("admin:cancellations_offerrule_add")).status_code == 200


def test_admin_action_creates_cancel_links(client, agent, subscription):
    client.force_login(agent)
    response = client.post(
        reverse("admin:subscriptions_subscription_changelist"),
        {
            "action": "create_cancel_links",
            "_selected_action": [subscription.pk],
            "reason": "asked on the phone",
        },
    )
    html = response.content.decode()
    assert subscription.external_id in html
    assert "http://testserver/cancel/" in html
