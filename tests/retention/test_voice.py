"""The voice-of-the-customer page: the customers' own words and the competitors they named."""

import csv
import io
from datetime import date, timedelta

import pytest
from django.utils import timezone

from cancellations import services
from cancellations.models import CancellationCase, ExitReason
from privacy.services import customer_erase, free_text_clear_expired
from subscriptions.actors import Actor
from tests.factories import make_subscription

pytestmark = pytest.mark.django_db
URL = "/admin/retention/voice/"
WEB = Actor.customer()


def said(plan, code: str, days_ago: int, *, text: str = "", competitor: str = ""):
    when = timezone.now() - timedelta(days=days_ago)
    subscription = make_subscription(plan=plan, since=date(2019, 3, 14))
    case = services.cancellation_start(subscription=subscription, actor=WEB, now=when)
    case = services.cancellation_choose_reason(
        case=case,
        reason=ExitReason.objects.get(code=code),
        actor=WEB,
        now=when,
        competitor=competitor,
    )
    CancellationCase.objects.filter(pk=case.pk).update(reason_text=text)
    return case


@pytest.fixture
def voices(defaults, plans):
    return {
        "cheap": said(
            plans["standard"], "competitor_price", 5, text="Found it cheaper", competitor="Viaplay"
        ),
        "viaplay": said(plans["premium"], "competitor_price", 40, competitor=" viaplay "),
        "moving": said(plans["standard"], "moving", 10, text="Moving to Oslo"),
        "silent": said(plans["standard"], "moving", 3),
    }


def test_lists_words_and_competitors_and_counts_competitors_per_month(client, manager, voices):
    client.force_login(manager)

    response = client.get(URL)

    html = response.content.decode()
    assert response.status_code == 200
    assert "Found it cheaper" in html and "Moving to Oslo" in html
    assert [row["pk"] for row in response.context["rows"]] == [
        voices["cheap"].pk,
        voices["moving"].pk,
        voices["viaplay"].pk,
    ]  # newest first; the silent case has nothing to show
    competitors = response.context["competitors"]["rows"]
    assert [(row["key"], sum(row["counts"])) for row in competitors] == [("viaplay", 2)]


def test_search_and_filters_narrow_the_list(client, manager, voices, plans):
    client.force_login(manager)

    oslo = client.get(URL, {"q": "oslo"}).context["rows"]
    viaplay = client.get(URL, {"q": "VIAPLAY"}).context["rows"]
    premium = client.get(URL, {"plan": plans["premium"].pk}).context["rows"]
    week = client.get(URL, {"range": "30d", "q": "viaplay"}).context["rows"]

    assert [r["pk"] for r in oslo] == [voices["moving"].pk]
    assert [r["pk"] for r in viaplay] == [voices["cheap"].pk, voices["viaplay"].pk]
    assert [r["pk"] for r in premium] == [voices["viaplay"].pk]
    assert [r["pk"] for r in week] == [voices["cheap"].pk]


def test_cleared_and_erased_words_are_not_shown(client, manager, voices, settings):
    customer_erase(customer=voices["moving"].customer, actor=Actor.staff(manager))
    settings.TACK_FREE_TEXT_RETENTION_DAYS = 30
    free_text_clear_expired()
    client.force_login(manager)

    response = client.get(URL, {"start": (date.today() - timedelta(days=89)).isoformat()})

    html = response.content.decode()
    assert "Moving to Oslo" not in html
    # The competitor named 40 days ago is past the 30-day limit: not listed either.
    assert [r["pk"] for r in response.context["rows"]] == [voices["cheap"].pk]


def test_downloads_as_csv(client, manager, voices):
    client.force_login(manager)

    response = client.get(URL, {"q": "viaplay", "csv": "1"})

    rows = list(csv.reader(io.StringIO(response.content.decode())))
    assert rows[0][-2:] == ["In their words", "Competitor"]
    assert [row[-2:] for row in rows[1:]] == [["Found it cheaper", "Viaplay"], ["", "viaplay"]]


def test_agents_are_refused(client, agent):
    client.force_login(agent)
    assert client.get(URL).status_code == 403
