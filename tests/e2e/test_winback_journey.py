"""A lost customer opens the win-back email that a real SMTP server received, follows its
come-back link in a real browser and returns: the comeback is recorded and attributed."""

import re
from datetime import timedelta

from django.apps import apps
from django.utils import timezone, translation

from subscriptions.enums import EventKind, SubscriptionStatus
from tests.helpers import wait_until
from tests.winback.conftest import make_lost
from winback import services
from winback.defaults import ensure_default_campaigns
from winback.models import Campaign, Comeback, Outreach

BOUGHT_AWAY = "Bought away: when their new contract ends"


def test_a_lost_customer_follows_the_email_link_and_comes_back(
    page, screenshots, defaults, smtp_server, settings, live_server
):
    settings.TACK_PUBLIC_BASE_URL = live_server.url  # links in emails point at this server
    ensure_default_campaigns(apps)
    Campaign.objects.exclude(name=BOUGHT_AWAY).update(active=False)
    Campaign.objects.filter(name=BOUGHT_AWAY).update(
        holdout_percent=0, first_contact_days=0, max_months_after_leaving=36
    )
    contact_at = timezone.now() - timedelta(days=2)
    lost = make_lost(
        reason="competitor_price",
        competitor="Cheapo",
        left_at=contact_at - timedelta(days=400),
        name="Lars Nilsson",
        email="lars@example.com",
        locale="sv",
    )
    services.outreach_plan()
    outreach = Outreach.objects.get(lost_customer=lost)
    Outreach.objects.filter(pk=outreach.pk).update(due_at=contact_at)
    services.outreach_send(outreach_id=outreach.pk, now=contact_at)

    # The email as the customer's mail client got it, over SMTP.
    message = wait_until(
        lambda: next(
            (
                m
                for m in smtp_server.messages
                if m["To"] == "lars@example.com" and m["List-Unsubscribe"]
            ),
            None,
        )
    )
    text = message.get_body(("plain",)).get_content()
    link = re.search(rf"{re.escape(live_server.url)}/welcome-back/\S+", text).group(0)
    shot = screenshots(page, "sv", "winback-comeback")

    page.goto(link)
    assert page.locator("html").get_attribute("lang") == "sv"
    assert page.get_by_role("heading", level=1).inner_text() == "Vi har saknat dig, Lars Nilsson"
    assert not Comeback.objects.exists()  # looking changes nothing
    shot("missed-you")
    with translation.override("sv"):
        come_back = translation.gettext("Come back")
    page.get_by_role("button", name=come_back).click()
    status = page.get_by_role("status")
    assert status.get_by_role("heading").inner_text() == "Välkommen tillbaka, Lars Nilsson!"
    shot("welcomed")
    # The link again: nothing more to do, and still one comeback.
    page.goto(link)
    assert page.get_by_role("button", name=come_back).count() == 0
    shot("already-back")

    comeback = Comeback.objects.get()
    assert (
        comeback.lost_customer,
        comeback.outreach,
        comeback.campaign.name,
        comeback.channel,
    ) == (
        lost,
        outreach,
        BOUGHT_AWAY,
        "web",
    )
    assert not comeback.organic
    lost.refresh_from_db()
    assert lost.came_back_at is not None
    subscription = lost.subscription
    subscription.refresh_from_db()
    assert subscription.status == SubscriptionStatus.ACTIVE
    assert subscription.events.filter(kind=EventKind.REACTIVATED, channel="web").count() == 1
