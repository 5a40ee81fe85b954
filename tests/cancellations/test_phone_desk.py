"""Agents: phone exit interviews through the same services, and one safe callback queue."""

import threading
from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from cancellations import selectors, services
from cancellations.enums import CaseOutcome, OfferKind
from cancellations.models import CancellationCase
from desk import services as desk_services
from desk.enums import CallbackSource, CallbackStatus
from desk.models import CallbackRequest
from subscriptions.enums import EventKind, SubscriptionStatus
from tests.cancellations.conftest import reason
from tests.factories import make_agent, make_subscription

pytestmark = pytest.mark.django_db
INTERVIEW = "/admin/cancellations/cancellationcase/interview/"


def post_interview(client, subscription, **fields):
    data = {
        "subscription": subscription.pk,
        "submission_key": fields.pop("submission_key", "k-" + str(subscription.pk)),
        "reason": reason(fields.pop("reason", "moving")).pk,
        "outcome": "saved",
        **fields,
    }
    return client.post(INTERVIEW, data)


def test_agent_logs_an_interview_that_saves_the_customer(client, agent, subscription):
    client.force_login(agent)
    page = client.get(INTERVIEW + f"?subscription={subscription.pk}").content.decode()
    assert subscription.customer.name in page and "Standard" in page
    response = post_interview(
        client,
        subscription,
        offer_kind="pause",
        pause_months="2",
        notes="Moving to Oslo",
        churn_group="pulled_away",
        call_minutes="4",
    )
    assert response.status_code == 302
    case = CancellationCase.objects.get()
    assert (case.channel, case.outcome, case.actor) == ("phone", CaseOutcome.SAVED, agent)
    assert (case.churn_group, case.call_duration_seconds) == ("pulled_away", 240)
    assert "Moving to Oslo" in case.notes
    assert case.accepted_offer.kind == OfferKind.PAUSE
    subscription.refresh_from_db()
    assert subscription.status == SubscriptionStatus.PAUSED
    event = subscription.events.order_by("-sequence").first()
    assert (event.kind, event.channel, event.actor) == (EventKind.PAUSED, "phone", agent)
    # The admin's audit trail: a LogEntry, and the case's history names the agent.
    from django.contrib.admin.models import LogEntry

    assert LogEntry.objects.filter(user=agent, object_id=str(case.pk)).exists()
    assert case.history.filter(history_user=agent).exists()


def test_a_resubmitted_interview_form_logs_one_case(client, agent, subscription):
    client.force_login(agent)
    for _ in range(2):
        response = post_interview(client, subscription, outcome="cancelled")
        assert response.status_code == 302
    assert CancellationCase.objects.count() == 1
    assert subscription.events.filter(kind=EventKind.CANCEL_REQUESTED).count() == 1


def test_agent_logs_an_interview_that_cancels(client, agent, subscription):
    client.force_login(agent)
    post_interview(client, subscription, reason="price", outcome="cancelled_now")
    case = CancellationCase.objects.get()
    assert (case.channel, case.outcome, case.reason.code) == ("phone", "cancelled", "price")
    subscription.refresh_from_db()
    assert subscription.status == SubscriptionStatus.CANCELLED


def test_agent_logs_an_undecided_call_with_a_follow_up(client, agent, subscription):
    client.force_login(agent)
    when = timezone.localtime() + timedelta(days=2)
    response = post_interview(
        client,
        subscription,
        reason="poor_service",
        outcome="follow_up",
        follow_up_at=when.strftime("%Y-%m-%dT%H:%M"),
    )
    assert response.status_code == 302
    case = CancellationCase.objects.get()
    assert case.outcome == CaseOutcome.OPEN and case.follow_up_at is not None
    callback = CallbackRequest.objects.get()
    assert (callback.source, callback.assigned_to, callback.source_ref) == (
        CallbackSource.FOLLOW_UP,
        agent,
        case.pk,
    )
    # A case waiting for its follow-up is not abandoned.
    assert services.cases_abandon_stale(now=timezone.now() + timedelta(days=1, hours=1)) == 0


def test_invalid_interview_gets_clear_errors_and_changes_nothing(client, agent, subscription):
    client.force_login(agent)
    response = post_interview(client, subscription, outcome="saved")  # no offer chosen
    assert response.status_code == 400
    assert "Which offer did the customer accept?" in response.content.decode()
    response = post_interview(client, subscription, reason="price", offer_kind="pause")
    assert response.status_code == 400
    assert "not available for this customer" in response.content.decode()
    assert not CancellationCase.objects.exists()
    subscription.refresh_from_db()
    assert subscription.status == SubscriptionStatus.ACTIVE


def test_phone_offers_match_the_web_flow(client, agent, subscription):
    client.force_login(agent)
    page = client.get(INTERVIEW + f"?subscription={subscription.pk}").content.decode()
    for code in ("moving", "price", "poor_service"):
        web = [p.kind for p in selectors.offers_for(subscription=subscription, reason=reason(code))]
        row = page.split(f"<td>{reason(code).label_en}</td>")[1].split("</tr>")[0]
        assert [k for k in OfferKind.values if f"<strong>{k}</strong>" in row] == sorted(
            web, key=OfferKind.values.index
        )


def test_search_finds_customers_by_name_email_phone_and_ids(client, agent, subscription):
    client.force_login(agent)
    customer = subscription.customer
    for query in (
        "lindqvist",
        customer.email,
        customer.phone,
        subscription.external_id,
        customer.external_id,
    ):
        html = client.get(INTERVIEW, {"q": query}).content.decode()
        assert f"?subscription={subscription.pk}" in html, query
    # The autocomplete (admin's) searches subscriptions by the same fields.
    response = client.get(
        "/admin/autocomplete/",
        {
            "term": "Lindqvist",
            "app_label": "cancellations",
            "model_name": "cancellationcase",
            "field_name": "subscription",
        },
    )
    assert response.status_code == 200
    assert any("Astrid Lindqvist" in r["text"] for r in response.json()["results"])


def test_permissions(client, agent, outsider, manager, subscription):
    client.force_login(outsider)
    for url in (INTERVIEW, "/admin/", "/admin/desk/callbackrequest/"):
        assert client.get(url).status_code == 302  # to the admin login
    client.force_login(agent)
    assert client.get(INTERVIEW).status_code == 200
    index = client.get("/admin/").content.decode()
    assert "Phone desk" in index and INTERVIEW in index
    customer_page = client.get(f"/admin/subscriptions/customer/{subscription.customer.pk}/change/")
    assert f"{INTERVIEW}?customer={subscription.customer.pk}" in customer_page.content.decode()
    assert (
        client.get(f"{INTERVIEW}?customer={subscription.customer.pk}").context["subscription"]
        == subscription
    )
    for config in ("exitreason", "offerrule"):
        assert client.get(f"/admin/cancellations/{config}/").status_code == 403
    assert client.get("/admin/core/apikey/").status_code == 403
    assert client.get("/admin/auth/user/").status_code == 403
    client.force_login(manager)
    assert client.get("/admin/cancellations/offerrule/").status_code == 200
    from tests.factories import make_user

    staff_without_role = make_user("plain-staff")
    client.force_login(staff_without_role)
    assert client.get(INTERVIEW).status_code == 403


def queue_item(subscription, minutes_ago, **extra):
    return CallbackRequest.objects.create(
        customer=subscription.customer,
        subscription=subscription,
        source=CallbackSource.CANCELLATION,
        due_at=timezone.now() - timedelta(minutes=minutes_ago),
        **extra,
    )


def test_take_next_hands_out_the_earliest_due_item(agent, subscription):
    later = queue_item(subscription, 5)
    first = queue_item(subscription, 30)
    queue_item(subscription, -60)  # not due yet
    taken = desk_services.callback_take_next(agent=agent)
    assert taken == first
    assert (taken.status, taken.assigned_to, taken.attempts) == (
        CallbackStatus.IN_PROGRESS,
        agent,
        1,
    )
    # Until it is closed, the agent gets the same item back.
    assert desk_services.callback_take_next(agent=agent) == first
    desk_services.callback_close(callback=first, agent=agent)
    assert desk_services.callback_take_next(agent=agent) == later


def test_no_answer_retries_then_gives_up(agent, subscription):
    item = queue_item(subscription, 1)
    for attempt in range(1, 4):
        item.refresh_from_db()
        item.due_at = timezone.now() - timedelta(minutes=1)
        item.save()
        assert desk_services.callback_take_next(agent=agent) == item
        item = desk_services.callback_no_answer(callback=item, agent=agent)
        assert item.attempts == attempt
    assert item.status == CallbackStatus.NO_ANSWER


@pytest.mark.django_db(transaction=True)
def test_two_agents_taking_at_once_never_get_the_same_item(defaults, plans):
    subscription = make_subscription(plan=plans["standard"])
    items = {queue_item(subscription, minutes).pk for minutes in (30, 20, 10)}
    agents = [make_agent("agent-a"), make_agent("agent-b")]
    barrier = threading.Barrier(2)
    taken = {}

    def take(agent):
        try:
            barrier.wait()
            item = desk_services.callback_take_next(agent=agent)
            taken[agent.username] = item.pk if item else None
        finally:
            connection.close()

    for _ in range(1):
        threads = [threading.Thread(target=take, args=(a,)) for a in agents]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    assert taken["agent-a"] != taken["agent-b"]
    assert {taken["agent-a"], taken["agent-b"]} <= items
    assert CallbackRequest.objects.filter(status=CallbackStatus.IN_PROGRESS).count() == 2


def test_queue_page_highlights_overdue_and_takes_next(client, agent, subscription):
    item = queue_item(subscription, 90, reason="Poor service")
    client.force_login(agent)
    html = client.get("/admin/desk/callbackrequest/").content.decode()
    assert "overdue" in html and "Take the next due call" in html
    response = client.post("/admin/desk/callbackrequest/take-next/")
    assert response.status_code == 302
    assert response["Location"].endswith(f"?callback={item.pk}")
    page = client.get(response["Location"]).content.decode()
    assert f'name="callback" value="{item.pk}"' in page
    # Logging the call closes the queue item.
    post_interview(client, subscription, callback=item.pk, outcome="cancelled")
    item.refresh_from_db()
    assert item.status == CallbackStatus.DONE


def test_web_callback_is_continued_by_the_agent(client, agent, subscription):
    from subscriptions.actors import Actor

    web = Actor.customer()
    case = services.cancellation_start(subscription=subscription, actor=web)
    services.cancellation_choose_reason(case=case, reason=reason("poor_service"), actor=web)
    offer = case.offers.get(kind=OfferKind.CALLBACK)
    services.offer_accept(case=case, offer_id=offer.pk, actor=web)
    item = CallbackRequest.objects.get()
    client.force_login(agent)
    page = client.get(INTERVIEW + f"?callback={item.pk}").content.decode()
    assert f'<option value="{reason("poor_service").pk}" selected>' in page
    post_interview(
        client, subscription, reason="poor_service", offer_kind="loyalty_bonus", callback=item.pk
    )
    case.refresh_from_db()
    assert case.outcome == CaseOutcome.SAVED and case.actor == agent
    assert CancellationCase.objects.count() == 1
    item.refresh_from_db()
    assert item.status == CallbackStatus.DONE
