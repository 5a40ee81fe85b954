"""Managers configure campaigns and re-segment in bulk; agents look and log win-back calls."""

import pytest
from django.urls import reverse

from tests.winback.conftest import make_lost
from winback import services
from winback.enums import ChurnGroup, ChurnGroupSource, OutreachStatus
from winback.models import Campaign, Comeback, LostCustomer, Outreach

pytestmark = pytest.mark.django_db

LOST = "admin:winback_lostcustomer_changelist"


def test_lost_customers_are_sortable_and_filterable_by_attractiveness(client, manager, campaigns):
    low = make_lost(reason="moving")
    high = make_lost(reason="expectations")
    LostCustomer.objects.filter(pk=low.pk).update(attractiveness=20)
    LostCustomer.objects.filter(pk=high.pk).update(attractiveness=80)
    client.force_login(manager)

    top = client.get(reverse(LOST) + "?attractiveness=75")
    by_score = client.get(reverse(LOST) + "?o=4")  # the attractiveness column, ascending
    by_group = client.get(reverse(LOST) + "?churn_group__exact=self_switcher")

    assert list(top.context["cl"].result_list) == [high]
    assert list(by_score.context["cl"].result_list) == [low, high]
    assert list(by_group.context["cl"].result_list) == [low]


def test_a_manager_resegments_in_bulk_from_the_admin(client, manager, campaigns):
    lost = [make_lost(reason="moving"), make_lost(reason="no_need")]
    client.force_login(manager)

    response = client.post(
        reverse(LOST),
        {"action": "resegment_pulled_away", "_selected_action": [item.pk for item in lost]},
        follow=True,
    )

    assert response.status_code == 200
    assert "2 lost customers moved" in response.content.decode()
    assert set(LostCustomer.objects.values_list("churn_group", "churn_group_source")) == {
        (ChurnGroup.PULLED_AWAY, ChurnGroupSource.MANAGER)
    }


def test_an_agent_sees_lost_customers_but_cannot_resegment(client, agent, campaigns):
    lost = make_lost(reason="moving")
    client.force_login(agent)

    page = client.get(reverse(LOST))
    response = client.post(
        reverse(LOST), {"action": "resegment_pulled_away", "_selected_action": [lost.pk]}
    )

    assert page.status_code == 200
    assert "resegment_pulled_away" not in page.content.decode()
    assert response.status_code in (200, 302)
    lost.refresh_from_db()
    assert lost.churn_group == ChurnGroup.SELF_SWITCHER
    assert client.get(reverse("admin:winback_campaign_changelist")).status_code == 403


def test_outsiders_are_refused(client, outsider, campaigns):
    assert client.get(reverse(LOST)).status_code == 302
    client.force_login(outsider)
    assert client.get(reverse(LOST)).status_code == 302


def campaign_form(campaign: Campaign, **changes) -> dict:
    data = {
        field.name: getattr(campaign, field.name)
        for field in Campaign._meta.fields
        if field.name not in ("id", "created_at")
    }
    data = {key: ("" if value is None else value) for key, value in data.items()}
    data.update(changes)
    return data


def test_a_manager_edits_a_campaign_and_bad_templates_are_refused(client, manager, campaigns):
    campaign = Campaign.objects.get(name="Self-switchers: a gentle hello")
    url = reverse("admin:winback_campaign_change", args=[campaign.pk])
    client.force_login(manager)

    broken = client.post(url, campaign_form(campaign, body_sv="Hej {% if %}"))
    pushed = client.post(
        url, campaign_form(campaign, churn_groups=[ChurnGroup.DELIBERATELY_PUSHED])
    )
    saved = client.post(
        url,
        campaign_form(
            campaign, churn_groups=[ChurnGroup.SELF_SWITCHER], max_attempts=3, active=True
        ),
    )

    assert broken.status_code == 200 and "does not compile" in broken.content.decode()
    assert pushed.status_code == 200 and "Tick this" in pushed.content.decode()
    assert saved.status_code == 302
    campaign.refresh_from_db()
    assert campaign.max_attempts == 3


def test_an_agent_logs_a_win_back_call_from_the_outreach_list(
    client, agent, campaigns, django_capture_on_commit_callbacks
):
    Campaign.objects.exclude(name__startswith="A personal call").update(active=False)
    Campaign.objects.update(holdout_percent=0, first_contact_days=0, min_attractiveness=0)
    make_lost(reason="expectations")
    services.outreach_plan()
    outreach = Outreach.objects.get()
    services.outreach_send(outreach_id=outreach.pk)
    client.force_login(agent)

    response = client.post(
        reverse("admin:winback_outreach_changelist"),
        {"action": "log_call_comes_back", "_selected_action": [outreach.pk]},
        follow=True,
    )

    assert "1 win-back calls logged" in response.content.decode()
    outreach.refresh_from_db()
    assert outreach.status == OutreachStatus.SENT
    assert Comeback.objects.get().outreach == outreach


def test_admin_lists_render(client, manager, campaigns):
    make_lost(reason="expectations")
    client.force_login(manager)
    for name in ("lostcustomer", "campaign", "outreach", "comeback", "suppression"):
        assert client.get(reverse(f"admin:winback_{name}_changelist")).status_code == 200
    assert client.get(reverse("admin:winback_campaign_add")).status_code == 200


@pytest.fixture
def win_back_call(campaigns):
    Campaign.objects.exclude(name__startswith="A personal call").update(active=False)
    Campaign.objects.update(holdout_percent=0, first_contact_days=0, min_attractiveness=0)
    make_lost(reason="expectations", name="Maja Holm")
    services.outreach_plan()
    outreach = Outreach.objects.get()
    services.outreach_send(outreach_id=outreach.pk)
    outreach.refresh_from_db()
    return outreach


def test_take_next_opens_the_win_back_call_page_with_talking_points(client, agent, win_back_call):
    client.force_login(agent)

    response = client.post(reverse("admin:desk_callback_take_next"), follow=True)

    assert response.redirect_chain[-1][0] == reverse(
        "admin:winback_outreach_call_for_callback", args=[win_back_call.callback_id]
    )
    html = response.content.decode()
    assert "Win-back call: Maja Holm" in html
    assert "We failed them" in html


@pytest.mark.parametrize(
    ("outcome", "status", "comebacks"),
    [("comes_back", OutreachStatus.SENT, 1), ("not_interested", OutreachStatus.SENT, 0)],
)
def test_the_call_page_logs_the_outcome(client, agent, win_back_call, outcome, status, comebacks):
    client.force_login(agent)
    url = reverse("admin:winback_outreach_call", args=[win_back_call.pk])

    response = client.post(url, {"outcome": outcome, "note": "Spoke for ten minutes"})

    assert response.status_code == 302
    win_back_call.refresh_from_db()
    assert win_back_call.status == status
    assert win_back_call.call_outcome == "Spoke for ten minutes"
    assert win_back_call.callback.status == "done"
    assert Comeback.objects.count() == comebacks


def test_no_answer_keeps_the_call_in_the_queue(client, agent, win_back_call):
    client.force_login(agent)

    client.post(
        reverse("admin:winback_outreach_call", args=[win_back_call.pk]), {"outcome": "no_answer"}
    )

    win_back_call.refresh_from_db()
    assert win_back_call.status == OutreachStatus.QUEUED
    assert win_back_call.callback.status == "open"


def test_the_call_page_needs_the_permission(client, outsider, manager, win_back_call):
    url = reverse("admin:winback_outreach_call", args=[win_back_call.pk])
    client.force_login(outsider)
    assert client.get(url).status_code == 302
    client.force_login(manager)
    assert client.get(url).status_code == 200
