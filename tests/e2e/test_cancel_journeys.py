"""Customers walk the cancellation flow in a real browser, in each of the four languages:
one accepts a pause, another declines the offers and cancels."""

from datetime import timedelta

import pytest
from django.utils import timezone, translation

from cancellations.enums import CaseChannel, CaseOutcome, OfferKind
from cancellations.links import cancel_link
from cancellations.models import CancellationCase
from core.models import OutboundEmail
from subscriptions.enums import EventKind, SubscriptionStatus
from tests.cancellations.conftest import reason
from tests.factories import make_subscription

LANGUAGES = ["en", "sv", "da", "nb"]
# Who stays, and who leaves, in each language.
NAMES = {
    "en": ("Oliver Bennett", "Grace Holloway"),
    "sv": ("Astrid Lindqvist", "Johan Berg"),
    "da": ("Mette Sørensen", "Søren Dahl"),
    "nb": ("Ingrid Haugen", "Ola Nordmann"),
}


def translated(language: str, message: str) -> str:
    with translation.override(language):
        text = translation.gettext(message)
    if language != "en":
        assert text != message, f"{message!r} has no {language} translation"
    return text


@pytest.fixture
def customer_link(defaults, plans, settings, live_server):
    """A subscription of a customer who speaks ``language``, and the signed link the company
    sends them (absolute, pointing at the live server)."""
    settings.TACK_PUBLIC_BASE_URL = live_server.url

    def make(language: str, name: str):
        subscription = make_subscription(
            plan=plans["standard"],
            name=name,
            locale=language,
            period_end=timezone.now() + timedelta(days=12),
        )
        url, _ = cancel_link(subscription=subscription)
        return subscription, url

    return make


def open_link(page, url: str, language: str, name: str) -> None:
    """Follow the link; the page must greet the customer by name in their own language
    (the browser itself asks for English)."""
    page.goto(url)
    assert page.locator("html").get_attribute("lang") == language
    heading = page.get_by_role("heading", level=1)
    assert heading.inner_text() == translated(language, "Thank you, %(name)s") % {"name": name}


@pytest.mark.parametrize("language", LANGUAGES)
def test_one_customer_stays_with_a_pause_another_cancels(
    open_page, screenshots, customer_link, language
):
    stays, leaves = NAMES[language]
    # Two customers, each in a browser of their own.
    accept_a_pause(open_page(), screenshots, *customer_link(language, stays), language, stays)
    decline_and_cancel(open_page(), screenshots, *customer_link(language, leaves), language, leaves)


def accept_a_pause(page, screenshots, subscription, url, language, name):
    shot = screenshots(page, language, "accept-pause")

    open_link(page, url, language, name)
    shot("thanked")
    page.get_by_role("button", name=reason("moving").label_for(language)).click()
    page.wait_for_url("**/offers/")
    assert page.get_by_role("heading", name=translated(language, "Take a break instead")).count()
    shot("offers")
    page.get_by_label(translated(language, "How long a pause?")).select_option("2")
    page.get_by_label(reason("moving").prompt_for(language)).fill("Oslo")
    shot("pause-chosen")
    pause_card = page.locator("section.offer").filter(
        has=page.get_by_role("heading", name=translated(language, "Take a break instead"))
    )
    pause_card.get_by_role(
        "button", name=translated(language, "Yes, I will stay with this")
    ).click()
    page.wait_for_url("**/done/")
    status = page.get_by_role("status")
    assert (
        translated(language, "Thank you for staying, %(name)s!") % {"name": name}
        in status.inner_text()
    )
    shot("saved")

    case = CancellationCase.objects.get(subscription=subscription)
    assert (case.channel, case.outcome, case.language) == (
        CaseChannel.WEB,
        CaseOutcome.SAVED,
        language,
    )
    assert (case.reason.code, case.reason_text) == ("moving", "Oslo")
    assert case.accepted_offer.kind == OfferKind.PAUSE
    subscription.refresh_from_db()
    assert subscription.status == SubscriptionStatus.PAUSED
    assert subscription.paused_until.date() > (timezone.now() + timedelta(days=55)).date()
    last = subscription.events.order_by("-sequence").first()
    assert (last.kind, last.channel, last.actor) == (EventKind.PAUSED, "web", None)
    assert not subscription.events.filter(kind__in=[EventKind.CANCEL_REQUESTED]).exists()


def decline_and_cancel(page, screenshots, subscription, url, language, name):
    shot = screenshots(page, language, "decline-cancel")

    open_link(page, url, language, name)
    shot("thanked")
    page.get_by_role("button", name=reason("price").label_for(language)).click()
    page.wait_for_url("**/offers/")
    offers = page.locator("section.offer h2").all_inner_texts()
    assert offers == [
        translated(language, "A cheaper plan"),
        translated(language, "A thank-you for staying with us"),
    ]
    shot("offers")
    page.get_by_label(reason("price").prompt_for(language)).fill("99 kr")
    shot("answered")
    page.get_by_role("button", name=translated(language, "Cancel my subscription")).click()
    page.wait_for_url("**/done/")
    status = page.get_by_role("status").inner_text()
    assert (
        translated(language, "Your cancellation is confirmed. Here is exactly what happens next:")
        in status
    )
    assert translated(language, "Last day") in status
    assert page.get_by_role(
        "button", name=translated(language, "Keep my subscription")
    ).is_visible()
    shot("cancelled")

    case = CancellationCase.objects.get(subscription=subscription)
    assert (case.channel, case.outcome, case.language) == (
        CaseChannel.WEB,
        CaseOutcome.CANCELLED,
        language,
    )
    assert (case.reason.code, case.reason_text, case.accepted_offer) == ("price", "99 kr", None)
    subscription.refresh_from_db()
    assert subscription.status == SubscriptionStatus.CANCEL_PENDING
    assert subscription.cancel_at == case.cancel_effective_at
    last = subscription.events.order_by("-sequence").first()
    assert (last.kind, last.channel, last.actor) == (EventKind.CANCEL_REQUESTED, "web", None)
    receipt = OutboundEmail.objects.get(
        kind="cancellation_cancelled", customer=subscription.customer
    )
    assert receipt.to_email == subscription.customer.email


@pytest.mark.parametrize("language", LANGUAGES)
def test_a_customer_cancels_in_two_clicks_without_a_reason_or_an_offer(
    open_page, screenshots, customer_link, language
):
    """§ 312k BGB style: from the link, the first page's "Cancel my subscription" and the
    confirming button — two clicks, no reason asked and no offer shown on the way."""
    name = NAMES[language][1]
    subscription, url = customer_link(language, name)
    page = open_page()
    shot = screenshots(page, language, "cancel-in-two-clicks")
    open_link(page, url, language, name)
    assert not CancellationCase.objects.filter(subscription=subscription).exists()
    shot("thanked")

    page.get_by_role("link", name=translated(language, "Cancel my subscription")).click()
    page.wait_for_url("**/leave/")  # click 1
    assert page.locator("section.offer").count() == 0
    assert page.get_by_role(
        "heading", name=translated(language, "Confirm your cancellation")
    ).count()
    shot("confirm")
    page.get_by_role("button", name=translated(language, "Cancel my subscription now")).click()
    page.wait_for_url("**/done/")  # click 2
    status = page.get_by_role("status").inner_text()
    assert (
        translated(language, "Your cancellation is confirmed. Here is exactly what happens next:")
        in status
    )
    shot("cancelled")

    case = CancellationCase.objects.get(subscription=subscription)
    assert (case.channel, case.outcome, case.reason, case.offers.count()) == (
        CaseChannel.WEB,
        CaseOutcome.CANCELLED,
        None,
        0,
    )
    subscription.refresh_from_db()
    assert subscription.status == SubscriptionStatus.CANCEL_PENDING
