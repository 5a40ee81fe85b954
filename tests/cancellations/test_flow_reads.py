"""The flow's pages read the subscription, its customer, plan and the case they show in one
statement (``selectors.flow_subscription``): the same objects the ORM would load."""

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from cancellations import selectors, services
from cancellations.enums import CaseOutcome
from cancellations.models import CancellationCase
from subscriptions.actors import Actor
from subscriptions.enums import Channel
from subscriptions.models import Subscription
from tests.cancellations.conftest import reason
from tests.cancellations.test_web_flow import url

pytestmark = pytest.mark.django_db

WEB = Actor.customer(Channel.WEB)


def fields(instance):
    if instance is None:
        return None
    return {f.attname: getattr(instance, f.attname) for f in instance._meta.concrete_fields}


def assert_same_reads(subscription):
    expected = Subscription.objects.select_related("customer", "plan").get(pk=subscription.pk)
    for case, read in (("open", selectors.open_case_for), ("latest", selectors.latest_case_for)):
        found = selectors.flow_subscription(pk=subscription.pk, case=case)
        assert fields(found) == fields(expected)
        assert fields(found.customer) == fields(expected.customer)
        assert fields(found.plan) == fields(expected.plan)
        want = read(subscription=expected)
        assert fields(found.flow_case) == fields(want)
        if want is not None:
            shown = [fields(offer) for offer in selectors.offers_shown(case=want)]
            assert shown == [fields(offer) for offer in selectors.current_offers(case=want)]
        if want is not None:
            assert fields(found.flow_case.reason) == fields(want.reason)
            assert found.flow_case.subscription is found
            if case == "latest":
                assert fields(found.flow_case.accepted_offer) == fields(want.accepted_offer)
    plain = selectors.flow_subscription(pk=subscription.pk)
    assert fields(plain) == fields(expected) and not hasattr(plain, "flow_case")


def test_no_case_yet(subscription):
    assert_same_reads(subscription)
    assert selectors.flow_subscription(pk=subscription.pk, case="open").flow_case is None


def test_an_open_case_with_its_reason_and_json_fields(subscription):
    opened = services.cancellation_open(
        subscription=subscription, actor=WEB, reason=reason("price")
    )
    assert opened.case.reason_order  # a JSON list, read back as a list
    assert_same_reads(subscription)
    case = selectors.flow_subscription(pk=subscription.pk, case="open").flow_case
    assert case.pk == opened.case.pk and case.reason_order == opened.case.reason_order


def test_the_latest_of_several_cases_with_its_accepted_offer(subscription):
    first = services.cancellation_open(subscription=subscription, actor=WEB, reason=reason("price"))
    # Another reason: the offers shown for the first are withdrawn, the new ones shown.
    services.cancellation_choose_reason(case=first.case, reason=reason("moving"), actor=WEB)
    assert first.case.offers.filter(withdrawn=True).exists()
    assert_same_reads(subscription)
    services.cancellation_decline(case=first.case, actor=WEB)
    services.cancellation_withdraw(case=first.case, actor=WEB)
    second = services.cancellation_open(
        subscription=subscription,
        actor=WEB,
        reason=reason("moving"),
        now=timezone.now() + timedelta(minutes=1),
    )
    offer = second.case.offers.exclude(kind="callback").first()
    services.offer_accept(case=second.case, offer_id=offer.pk, actor=WEB, options={"months": 1})
    assert_same_reads(subscription)
    found = selectors.flow_subscription(pk=subscription.pk, case="latest").flow_case
    assert found.pk == second.case.pk and found.outcome == CaseOutcome.SAVED
    assert found.accepted_offer.pk == offer.pk
    assert selectors.flow_subscription(pk=subscription.pk, case="open").flow_case is None


def test_an_unknown_subscription_is_none():
    assert selectors.flow_subscription(pk=0, case="latest") is None


def _run(captured) -> list[str]:
    """The statements a page ran: a statement's PREPARE is once per connection (whether
    this test's connection has already prepared it depends on the tests before it)."""
    return [q["sql"] for q in captured.captured_queries if not q["sql"].startswith("PREPARE ")]


def test_pages_read_their_case_with_the_subscription(client, subscription):
    """Entry: the subscription with its open case (the reasons come from the cache once
    read); offers: then its offers; done: one statement for a decided case."""
    assert client.get(url("entry", subscription)).status_code == 200
    with CaptureQueriesContext(connection) as entry:
        assert client.get(url("entry", subscription)).status_code == 200
    assert len(_run(entry)) == 1
    services.cancellation_open(subscription=subscription, actor=WEB, reason=reason("price"))
    with CaptureQueriesContext(connection) as offers:
        assert client.get(url("offers", subscription)).status_code == 200
    assert len(_run(offers)) == 2
    case = CancellationCase.objects.get(subscription=subscription)
    services.cancellation_decline(case=case, actor=WEB)
    with CaptureQueriesContext(connection) as done:
        assert client.get(url("done", subscription)).status_code == 200
    assert len(_run(done)) == 1


def test_a_reason_changed_shows_on_the_next_entry_page(client, subscription):
    moving = reason("moving")
    assert moving.label_en in client.get(url("entry", subscription, lang="en")).content.decode()
    moving.label_en = "I am moving abroad"
    moving.save()
    page = client.get(url("entry", subscription, lang="en")).content.decode()
    assert "I am moving abroad" in page
    moving.active = False
    moving.save()
    page = client.get(url("entry", subscription, lang="en")).content.decode()
    assert "I am moving abroad" not in page
    moving.delete()
    assert client.get(url("entry", subscription, lang="en")).status_code == 200


def test_the_reason_chosen_is_pressed_and_labels_are_escaped(client, subscription):
    price = reason("price")
    price.label_en = "Too <b>dear</b>"
    price.save()
    services.cancellation_open(subscription=subscription, actor=WEB, reason=price)
    page = client.get(url("entry", subscription, change=1, lang="en")).content.decode()
    assert page.count('aria-pressed="true"') == 1
    assert f'value="{price.pk}" aria-pressed="true">Too &lt;b&gt;dear&lt;/b&gt;</button>' in page
