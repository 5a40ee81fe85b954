import time
from datetime import timedelta
from unittest import mock

import pytest
from django.urls import reverse
from django.utils import timezone

from cancellations import links, services
from cancellations.enums import CaseOutcome, OfferKind
from cancellations.models import CancellationCase
from core.links import make_token
from core.models import OutboundEmail
from desk.models import CallbackRequest
from subscriptions.actors import Actor
from subscriptions.enums import EventKind, SubscriptionStatus
from tests.cancellations.conftest import reason
from tests.factories import make_subscription
from tests.helpers import address_with_a_fresh_window

pytestmark = pytest.mark.django_db


_tokens: dict[int, str] = {}


@pytest.fixture(autouse=True)
def fresh_tokens():
    _tokens.clear()


def token_for(subscription):
    """One token per subscription per test, so redirects can be compared exactly."""
    if subscription.pk not in _tokens:
        _tokens[subscription.pk] = make_token(purpose="cancel", payload={"s": subscription.pk})
    return _tokens[subscription.pk]


def url(name, subscription, **query):
    path = reverse(f"cancellations:{name}", args=[token_for(subscription)])
    return path + ("?" + "&".join(f"{k}={v}" for k, v in query.items()) if query else "")


def start(client, subscription, code="moving", lang="en"):
    """Open the flow and choose a reason (the click that opens the case); returns the case."""
    response = client.get(url("entry", subscription, lang=lang))
    assert response.status_code == 200
    assert not CancellationCase.objects.filter(subscription=subscription).exists()
    response = client.post(url("reason", subscription), {"reason": reason(code).pk})
    assert response.status_code == 303
    assert response["Location"] == url("offers", subscription)
    return CancellationCase.objects.get(subscription=subscription, outcome="open")


def test_entry_thanks_the_customer_and_asks_why(client, subscription):
    response = client.get(url("entry", subscription, lang="en"))
    assert response.status_code == 200
    html = response.content.decode()
    assert "Thank you, Astrid Lindqvist" in html
    assert "member since March 2019" in html
    assert "Standard" in html and "SEK\xa0199" in html
    assert response["Cache-Control"].startswith("max-age=0")
    # Every active reason is a one-click button; "other" comes last.
    buttons = [r.label_en for r in type(reason("other")).objects.filter(active=True)]
    positions = [html.index(f">{label}<") for label in buttons]
    assert max(positions) == html.index(">Something else<")
    # Reading the page opened nothing: the first click does.
    assert 'name="case"' not in html
    assert not CancellationCase.objects.exists()


def test_reasons_are_shuffled_per_link_and_the_case_keeps_the_order_shown(client, defaults, plans):
    orders = set()
    for _ in range(4):
        subscription = make_subscription(plan=plans["standard"])
        case = services.cancellation_start(subscription=subscription, actor=Actor.customer())
        orders.add(tuple(case.reason_order))
    assert len(orders) > 1

    subscription = make_subscription(plan=plans["standard"])
    shown = [
        client.get(url("entry", subscription)).context["reasons"] for _ in range(2)
    ]  # the same link shows the same order on every visit
    assert [r.pk for r in shown[0]] == [r.pk for r in shown[1]]
    client.post(url("reason", subscription), {"reason": shown[0][0].pk})
    case = CancellationCase.objects.get(subscription=subscription)
    assert case.reason_order == [r.pk for r in shown[0] if not r.is_other]


def test_walk_through_to_a_pause(client, subscription):
    case = start(client, subscription, "moving")
    page = client.get(url("offers", subscription, lang="en")).content.decode()
    pause = case.offers.get(kind=OfferKind.PAUSE)
    assert "Take a break instead" in page
    assert f'name="months-{pause.pk}"' in page
    assert 'value="decline"' in page  # cancelling is always one button away
    response = client.post(
        url("decide", subscription),
        {"case": case.pk, "choice": f"offer-{pause.pk}", f"months-{pause.pk}": "2"},
    )
    assert response.status_code == 303
    done = client.get(response["Location"] + "?lang=en").content.decode()
    assert "Thank you for staying" in done
    assert "paused until" in done
    subscription.refresh_from_db()
    assert subscription.status == SubscriptionStatus.PAUSED


def test_walk_through_to_a_cancellation_and_undo(client, subscription):
    case = start(client, subscription, "price")
    response = client.post(
        url("decide", subscription), {"case": case.pk, "choice": "decline", "text": "Too dear"}
    )
    assert response.status_code == 303
    done = client.get(url("done", subscription, lang="en")).content.decode()
    subscription.refresh_from_db()
    assert "Your cancellation is confirmed" in done
    assert "Last day" in done and "Keep my subscription" in done
    undo_path = links.undo_path(case=case)
    assert undo_path.split("/undo/")[0] in done
    # The entry link now says the subscription is ending, and offers the undo.
    ending = client.get(url("entry", subscription, lang="en")).content.decode()
    assert "already set to end" in ending
    # The undo link from the receipt: GET asks, POST undoes.
    email = OutboundEmail.objects.get(kind="cancellation_cancelled")
    undo_url = next(
        line for line in email.body_text.splitlines() if "/cancel/undo/" in line
    ).strip()
    path = undo_url.removeprefix("http://testserver")
    assert "Keep your subscription?" in client.get(path + "?lang=en").content.decode()
    assert subscription.status == SubscriptionStatus.CANCEL_PENDING
    response = client.post(path + "?lang=en")
    assert response.status_code == 200 and "Welcome back" in response.content.decode()
    client.post(path)  # a second click changes nothing
    subscription.refresh_from_db()
    assert subscription.status == SubscriptionStatus.ACTIVE
    assert subscription.events.filter(kind=EventKind.CANCEL_WITHDRAWN).count() == 1


def test_the_competitor_named_is_kept_when_the_customer_cancels(client, subscription):
    case = start(client, subscription, "competitor_price")
    page = client.get(url("offers", subscription, lang="en")).content.decode()
    # Enter in the competitor field submits with the form's first button: a disabled one,
    # so no offer is accepted by accident.
    assert page.index('<button type="submit" disabled hidden>') < page.index('name="choice"')
    response = client.post(
        url("decide", subscription), {"case": case.pk, "choice": "decline", "competitor": "Cheapo"}
    )
    assert response.status_code == 303
    case.refresh_from_db()
    assert (case.outcome, case.competitor) == (CaseOutcome.CANCELLED, "Cheapo")


def test_call_me_back_from_the_web(client, subscription):
    case = start(client, subscription, "poor_service")
    offer = case.offers.get(kind=OfferKind.CALLBACK)
    day = timezone.localdate() + timedelta(days=1)
    response = client.post(
        url("decide", subscription),
        {
            "case": case.pk,
            "choice": f"offer-{offer.pk}",
            "callback_day": day.isoformat(),
            "callback_window": "evening",
            "text": "The app kept crashing",
        },
    )
    assert response.status_code == 303
    callback = CallbackRequest.objects.get()
    assert callback.window == "evening"
    case.refresh_from_db()
    assert case.reason_text == "The app kept crashing"
    page = client.get(url("done", subscription, lang="en")).content.decode()
    assert "we will call you" in page
    # Reopening the link shows the same confirmation, not a new case.
    assert client.get(url("entry", subscription))["Location"] == url("done", subscription)
    assert CancellationCase.objects.count() == 1


def test_double_submitted_decline_cancels_once(client, subscription):
    case = start(client, subscription, "price")
    for _ in range(3):
        response = client.post(url("decide", subscription), {"case": case.pk, "choice": "decline"})
        assert response.status_code == 303
        assert response["Location"] == url("done", subscription)
    assert subscription.events.filter(kind=EventKind.CANCEL_REQUESTED).count() == 1
    assert OutboundEmail.objects.filter(kind="cancellation_cancelled").count() == 1
    assert CancellationCase.objects.count() == 1


def test_back_button_after_saving_cannot_apply_a_second_offer(client, subscription):
    case = start(client, subscription, "moving")
    pause, loyalty = case.offers.order_by("position")
    client.post(url("decide", subscription), {"case": case.pk, "choice": f"offer-{pause.pk}"})
    # The old offers page is resubmitted with the other offer, then with a decline.
    for choice in (f"offer-{loyalty.pk}", "decline"):
        response = client.post(url("decide", subscription), {"case": case.pk, "choice": choice})
        assert response["Location"] == url("done", subscription)
    subscription.refresh_from_db()
    assert subscription.status == SubscriptionStatus.PAUSED
    assert not subscription.events.filter(kind__in=["credit_granted", "cancel_requested"]).exists()


def test_two_tabs_share_one_case(client, subscription):
    client.post(url("reason", subscription), {"reason": reason("moving").pk})
    client.post(url("reason", subscription), {"reason": reason("price").pk})
    case = CancellationCase.objects.get()
    assert case.reason.code == "price"
    assert list(case.steps.values_list("kind", flat=True).order_by("pk")) == [
        "opened",
        "reason_chosen",
        "offers_shown",
        "reason_chosen",
        "offers_shown",
    ]


def test_a_missing_choice_is_a_clear_error(client, subscription):
    case = start(client, subscription, "moving")
    response = client.post(url("decide", subscription, lang="en"), {"case": case.pk, "choice": ""})
    assert response.status_code == 400
    assert "Please choose one of the options." in response.content.decode()
    response = client.post(url("reason", subscription, lang="en"), {"reason": "999999"})
    assert response.status_code == 400


def test_tampered_token_gets_a_friendly_400(client, subscription):
    token = token_for(subscription)
    tampered = token[:-3] + ("aaa" if not token.endswith("aaa") else "bbb")
    response = client.get(reverse("cancellations:entry", args=[tampered]) + "?lang=en")
    assert response.status_code == 400
    assert "This link does not work" in response.content.decode()
    assert not CancellationCase.objects.exists()


def test_expired_token_gets_a_friendly_410(client, subscription, settings):
    settings.TACK_CANCEL_LINK_MAX_AGE_DAYS = 7
    with mock.patch("time.time", return_value=time.time() - 8 * 86400):
        stale = make_token(purpose="cancel", payload={"s": subscription.pk})
    response = client.get(reverse("cancellations:entry", args=[stale]) + "?lang=en")
    assert response.status_code == 410
    assert "This link has expired" in response.content.decode()
    with mock.patch("time.time", return_value=time.time() - 6 * 86400):
        recent = make_token(purpose="cancel", payload={"s": subscription.pk})
    assert client.get(reverse("cancellations:entry", args=[recent])).status_code == 200


def test_a_token_for_one_subscription_cannot_act_on_another(client, subscription, plans):
    other = make_subscription(plan=plans["standard"])
    other_case = services.cancellation_start(subscription=other, actor=Actor.customer())
    start(client, subscription, "price")
    # Posting the other subscription's case id through this subscription's link.
    response = client.post(
        url("decide", subscription), {"case": other_case.pk, "choice": "decline"}
    )
    assert response.status_code == 303 and response["Location"] == url("entry", subscription)
    other.refresh_from_db()
    assert other.status == SubscriptionStatus.ACTIVE
    other_case.refresh_from_db()
    assert other_case.outcome == CaseOutcome.OPEN
    # An undo token is not a cancel token, and the reverse.
    undo_token = make_token(purpose="undo", payload={"c": other_case.pk})
    assert client.get(reverse("cancellations:entry", args=[undo_token])).status_code == 400
    assert client.get(reverse("cancellations:undo", args=[token_for(other)])).status_code == 400


def test_forms_are_csrf_protected(subscription):
    from django.test import Client

    client = Client(enforce_csrf_checks=True)
    page = client.get(url("entry", subscription))
    assert 'name="csrfmiddlewaretoken"' in page.content.decode()
    assert "csrftoken" in page.cookies  # set by the page, with no row written for it
    for name, data in (("reason", {"reason": reason("price").pk}), ("leave", {})):
        assert client.post(url(name, subscription), data).status_code == 403
    assert not CancellationCase.objects.exists()
    case = services.cancellation_start(subscription=subscription, actor=Actor.customer())
    response = client.post(url("decide", subscription), {"case": case.pk, "choice": "decline"})
    assert response.status_code == 403
    subscription.refresh_from_db()
    assert subscription.status == SubscriptionStatus.ACTIVE


def test_customer_pages_are_rate_limited_per_address(client, subscription, settings):
    settings.RATELIMIT_ENABLE = True
    address = address_with_a_fresh_window()
    statuses = [
        client.get(url("entry", subscription), REMOTE_ADDR=address).status_code for _ in range(121)
    ]
    assert statuses[:120] == [200] * 120
    assert statuses[120] == 429
    assert client.get(url("entry", subscription), REMOTE_ADDR="10.255.0.1").status_code == 200


def test_a_refused_decision_keeps_none_of_it_not_even_the_note(client, subscription):
    """One click, one transaction: a pause longer than offered is refused, and the note and
    competitor sent with it are not half-saved on the case."""
    case = start(client, subscription, "moving")
    pause = case.offers.get(kind=OfferKind.PAUSE)
    response = client.post(
        url("decide", subscription),
        {
            "case": case.pk,
            "choice": f"offer-{pause.pk}",
            f"months-{pause.pk}": "99",
            "text": "Moving to Oslo",
            "competitor": "Rival AB",
        },
    )
    assert response.status_code == 400
    case.refresh_from_db()
    assert (case.outcome, case.reason_text, case.competitor) == ("open", "", "")
    assert not case.steps.filter(kind="offer_accepted").exists()


def test_just_cancel_takes_two_clicks_without_a_reason_or_an_offer(client, subscription):
    """§ 312k BGB style: from the link, one click to the confirmation page and one on its
    button; no reason asked, no offer shown, and the funnel can tell the reason was skipped."""
    entry = client.get(url("entry", subscription, lang="en")).content.decode()
    assert f'href="{url("leave", subscription)}"' in entry  # click 1 is on the first page
    confirm = client.get(url("leave", subscription, lang="en"))
    html = confirm.content.decode()
    assert confirm.status_code == 200 and "Confirm your cancellation" in html
    assert "Before you go" not in html and "offer" not in html.lower()
    assert not CancellationCase.objects.exists()

    response = client.post(url("leave", subscription))  # click 2
    assert (response.status_code, response["Location"]) == (303, url("done", subscription))
    done = client.get(url("done", subscription, lang="en")).content.decode()
    assert "Your cancellation is confirmed" in done

    case = CancellationCase.objects.get()
    assert (case.outcome, case.reason, case.offers.count()) == (CaseOutcome.CANCELLED, None, 0)
    assert list(case.steps.order_by("pk").values_list("kind", "data")) == [
        ("opened", {"channel": "web"}),
        ("declined", {"immediately": False, "reason_skipped": True}),
    ]
    subscription.refresh_from_db()
    assert subscription.status == SubscriptionStatus.CANCEL_PENDING
    assert OutboundEmail.objects.filter(kind="cancellation_cancelled").count() == 1
    # A second click (or a second tab) cancels nothing more.
    assert client.post(url("leave", subscription))["Location"] == url("done", subscription)
    assert CancellationCase.objects.count() == 1
    assert subscription.events.filter(kind=EventKind.CANCEL_REQUESTED).count() == 1


def test_just_cancel_after_choosing_a_reason_declines_that_case(client, subscription):
    case = start(client, subscription, "price")
    client.post(url("leave", subscription))
    case.refresh_from_db()
    assert (case.outcome, case.reason.code) == (CaseOutcome.CANCELLED, "price")
    assert case.steps.get(kind="declined").data == {"immediately": False}
    assert CancellationCase.objects.count() == 1


@pytest.mark.parametrize("language", ["en", "sv", "da", "nb"])
def test_cancelling_is_never_the_lesser_choice_nor_asked_with_guilt(client, subscription, language):
    case = start(client, subscription, "moving", lang=language)
    offers = client.get(url("offers", subscription, lang=language)).content.decode()
    for guilt in (
        "Still want to cancel?",
        "Vill du ändå säga upp abonnemanget?",
        "Vil du stadig opsige abonnementet?",
        "Vil du fortsatt si opp abonnementet?",
    ):
        assert guilt not in offers
    assert case.offers.exists()
    stay = offers.count('class="primary" name="choice" value="offer-')
    assert stay == case.offers.count()
    assert offers.count('class="primary" name="choice" value="decline"') == 1
    entry = client.get(url("entry", subscription, lang=language, change=1)).content.decode()
    assert 'class="button primary" href="' + url("leave", subscription) in entry
