"""Every page of the flow, and every email, renders in English, Swedish, Danish and Bokmål."""

import re
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone, translation

from cancellations import links, services
from cancellations.enums import OfferKind
from core.emails import render_email
from core.links import make_token
from subscriptions.actors import Actor
from tests.cancellations.conftest import reason

pytestmark = pytest.mark.django_db
LANGUAGES = ["en", "sv", "da", "nb"]
WEB = Actor.customer()


def translated(language: str, message: str) -> str:
    with translation.override(language):
        text = translation.gettext(message)
    if language != "en":
        assert text != message, f"{message!r} has no {language} translation"
    return text


def page(client, path: str, language: str, status: int = 200) -> str:
    response = client.get(f"{path}?lang={language}")
    assert response.status_code == status
    html = response.content.decode()
    assert f'<html lang="{language}">' in html
    assert response["Content-Language"] == language
    assert not re.search(r'(src|href)="(https?:)?//', html), "no asset from outside the server"
    return html


def cancel_path(name, subscription):
    return reverse(
        f"cancellations:{name}", args=[make_token(purpose="cancel", payload={"s": subscription.pk})]
    )


@pytest.mark.parametrize("language", LANGUAGES)
def test_the_flow_renders_in_every_language(client, subscription, language):
    html = page(client, cancel_path("entry", subscription), language)
    assert translated(language, "What is the main reason you are leaving?") in html
    assert translated(language, "You can cancel right away, without giving a reason.") in html
    assert reason("moving").label_for(language) in html
    with translation.override(language):
        assert subscription.customer.customer_since.strftime("%Y") in html
    html = page(client, cancel_path("leave", subscription), language)
    for text in (
        "Confirm your cancellation",
        "You will get a confirmation by email, with a link to undo it until the last day.",
        "Cancel my subscription now",
        "Go back",
    ):
        assert translated(language, text) in html

    case = services.cancellation_start(subscription=subscription, actor=WEB)
    services.cancellation_choose_reason(case=case, reason=reason("moving"), actor=WEB)
    html = page(client, cancel_path("offers", subscription), language)
    assert translated(language, "Take a break instead") in html
    assert translated(language, "Cancel my subscription") in html

    pause = case.offers.get(kind=OfferKind.PAUSE)
    services.offer_accept(case=case, offer_id=pause.pk, actor=WEB, options={"months": 1})
    html = page(client, cancel_path("done", subscription), language)
    assert translated(language, "Thank you for staying") in html


@pytest.mark.parametrize("language", LANGUAGES)
def test_cancelled_callback_and_problem_pages_in_every_language(client, defaults, plans, language):
    from tests.factories import make_subscription

    cancelled = make_subscription(plan=plans["standard"])
    case = services.cancellation_start(subscription=cancelled, actor=WEB)
    services.cancellation_choose_reason(case=case, reason=reason("price"), actor=WEB)
    services.cancellation_decline(case=case, actor=WEB)
    html = page(client, cancel_path("done", cancelled), language)
    assert translated(language, "Last day") in html
    assert translated(language, "Keep my subscription") in html
    html = page(client, cancel_path("entry", cancelled), language)
    assert translated(language, "Your subscription is already set to end") in html
    html = page(client, links.undo_path(case=case), language)
    assert translated(language, "Keep your subscription?") in html

    waiting = make_subscription(plan=plans["standard"])
    case = services.cancellation_start(subscription=waiting, actor=WEB)
    services.cancellation_choose_reason(case=case, reason=reason("poor_service"), actor=WEB)
    callback = case.offers.get(kind=OfferKind.CALLBACK)
    services.offer_accept(
        case=case,
        offer_id=callback.pk,
        actor=WEB,
        options={"day": (timezone.localdate() + timedelta(days=1)).isoformat()},
    )
    html = page(client, cancel_path("done", waiting), language)
    assert (
        translated(language, "Your subscription continues unchanged until you have decided.")
        in html
    )

    html = page(client, reverse("cancellations:entry", args=["not-a-token"]), language, status=400)
    assert translated(language, "This link does not work") in html


@pytest.mark.parametrize("language", LANGUAGES)
def test_emails_render_in_every_language(subscription, language):
    case = services.cancellation_start(subscription=subscription, actor=WEB, language=language)
    services.cancellation_choose_reason(case=case, reason=reason("price"), actor=WEB)
    case = services.cancellation_decline(case=case, actor=WEB)
    context = {
        "case": case,
        "customer": case.customer,
        "subscription": case.subscription,
        "undo_url": links.undo_link(case=case),
    }
    for name in ("cancellation_cancelled", "cancellation_withdrawn"):
        subject, text, html = render_email(name, context, language=language)
        assert subject and "\n" not in subject
        assert "&#x27;" not in text and "&amp;" not in text
    subject, text, html = render_email("cancellation_cancelled", context, language=language)
    assert translated(language, "Last day") in text and translated(language, "Last day") in html
    assert context["undo_url"] in text  # a fresh link would differ once a second has passed


def test_customer_locale_is_the_default_and_the_switch_is_remembered(client, subscription):
    path = cancel_path("entry", subscription)
    # The customer is Swedish: no ?lang= means Swedish.
    assert client.get(path)["Content-Language"] == "sv"
    # Switching sets a cookie that later pages honour.
    client.get(path + "?lang=da")
    response = client.get(path)
    assert response["Content-Language"] == "da"
    html = response.content.decode()
    assert 'aria-current="true" lang="da"' in html
    assert f'href="{path}?lang=nb"' in html
