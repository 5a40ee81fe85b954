"""The come-back page (tampered, expired, used links; attribution) and the unsubscribe page
(confirmation on GET, RFC 8058 one-click POST without a session)."""

import threading
from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import connection
from django.test import Client
from django.utils import timezone

from subscriptions import services as subscription_services
from subscriptions.actors import Actor
from subscriptions.enums import EventKind, SubscriptionStatus
from tests.winback.conftest import make_lost
from winback import links, services
from winback.enums import OutreachStatus
from winback.models import Campaign, Comeback, LostCustomer, Outreach, Suppression

pytestmark = pytest.mark.django_db

BOUGHT_AWAY = "Bought away: when their new contract ends"
IMPROVED = "Unintentionally pushed away: what we have improved"


@pytest.fixture
def contacted(campaigns, django_capture_on_commit_callbacks):
    """A lost customer contacted by a campaign ``days_ago`` days ago; returns the outreach."""

    def make(campaign=BOUGHT_AWAY, reason="competitor_price", days_ago=2, **customer):
        Campaign.objects.exclude(name=campaign).update(active=False)
        Campaign.objects.filter(name=campaign).update(holdout_percent=0, first_contact_days=0)
        contact_at = timezone.now() - timedelta(days=days_ago)
        lost = make_lost(reason=reason, left_at=contact_at - timedelta(days=400), **customer)
        Campaign.objects.filter(name=campaign).update(max_months_after_leaving=36)
        services.outreach_plan()
        outreach = Outreach.objects.get(lost_customer=lost)
        Outreach.objects.filter(pk=outreach.pk).update(due_at=contact_at)
        with django_capture_on_commit_callbacks(execute=True):
            services.outreach_send(outreach_id=outreach.pk, now=contact_at)
        outreach.refresh_from_db()
        return outreach

    return make


def comeback_path(outreach) -> str:
    return links.comeback_url(outreach=outreach).removeprefix("http://testserver")


def test_the_page_acknowledges_the_past_and_shows_the_offer(client, contacted):
    outreach = contacted(name="Lars Nilsson", locale="en")
    LostCustomer.objects.filter(pk=outreach.lost_customer_id).update(tenure_months=50)

    response = client.get(comeback_path(outreach))

    assert response.status_code == 200
    text = response.content.decode()
    assert "We have missed you, Lars Nilsson" in text
    assert "Thank you for the 4 years you spent with us." in text
    assert "Our welcome-back offer: 25% off for the first 3 months" in text
    assert not Comeback.objects.exists()  # looking changes nothing


@pytest.mark.parametrize(
    ("locale", "phrase"),
    [
        ("sv", "Vi har saknat dig"),
        ("da", "Vi har savnet dig"),
        ("nb", "Vi har savnet deg"),
        ("en", "We have missed you"),
    ],
)
def test_the_page_renders_in_each_language(client, contacted, locale, phrase):
    outreach = contacted(locale=locale)

    response = client.get(comeback_path(outreach))

    assert response.status_code == 200
    assert response["Content-Language"] == locale
    assert phrase in response.content.decode()


def test_one_click_brings_the_customer_back_with_the_offer(client, contacted):
    outreach = contacted()
    subscription = outreach.lost_customer.subscription

    response = client.post(comeback_path(outreach))

    assert response.status_code == 200
    assert "Welcome back" in response.content.decode() or "Välkommen tillbaka" in (
        response.content.decode()
    )
    subscription.refresh_from_db()
    assert subscription.status == SubscriptionStatus.ACTIVE
    assert subscription.discount_percent == 25
    kinds = list(subscription.events.order_by("sequence").values_list("kind", flat=True))
    assert kinds[-2:] == [EventKind.REACTIVATED, EventKind.DISCOUNT_GRANTED]
    comeback = Comeback.objects.get()
    assert comeback.outreach == outreach
    assert comeback.campaign == outreach.campaign
    assert comeback.channel == "web"
    # first-year value: 12 x 199.00 less the discount (25% of 199.00 for 3 months)
    assert comeback.offer_cost == Decimal("149.25")
    assert comeback.value == Decimal("2238.75")
    outreach.lost_customer.refresh_from_db()
    assert outreach.lost_customer.came_back_at is not None


def test_a_used_link_does_not_bring_anyone_back_twice(client, contacted):
    outreach = contacted(locale="en")
    client.post(comeback_path(outreach))

    again = client.post(comeback_path(outreach))
    page = client.get(comeback_path(outreach))

    assert again.status_code == 200 and page.status_code == 200
    assert "You are already back with us" in page.content.decode()
    assert Comeback.objects.count() == 1
    reactivations = outreach.lost_customer.subscription.events.filter(kind=EventKind.REACTIVATED)
    assert reactivations.count() == 1


def test_coming_back_twice_through_the_service_is_refused(contacted):
    outreach = contacted()
    services.comeback_record(
        lost_customer=outreach.lost_customer, outreach=outreach, actor=Actor.customer()
    )

    with pytest.raises(services.ComebackError):
        services.comeback_record(
            lost_customer=outreach.lost_customer, outreach=outreach, actor=Actor.customer()
        )


def test_a_tampered_link_is_refused(client, contacted):
    path = comeback_path(contacted(locale="en"))

    response = client.post(path[:-8] + "AAAAAAA/")

    assert response.status_code == 400
    assert "This link does not work" in response.content.decode()
    assert not Comeback.objects.exists()


def test_a_link_made_for_another_purpose_is_refused(client, contacted):
    outreach = contacted(locale="en")
    unsubscribe_token = links.unsubscribe_url(customer=outreach.customer).split("/")[-2]

    response = client.get(f"/welcome-back/{unsubscribe_token}/")

    assert response.status_code == 400


def test_an_expired_link_is_refused(client, contacted, settings):
    outreach = contacted(locale="en")
    settings.TACK_WINBACK_LINK_MAX_AGE_DAYS = 0

    response = client.post(comeback_path(outreach))

    assert response.status_code == 410
    assert "This link has expired" in response.content.decode()
    assert not Comeback.objects.exists()


def test_a_comeback_is_attributed_to_the_last_contact_within_the_window(campaigns, contacted):
    outreach = contacted(days_ago=45)  # outside the 30-day window
    lost = outreach.lost_customer

    comeback = services.comeback_record(
        lost_customer=lost, outreach=outreach, actor=Actor.customer()
    )

    assert comeback.outreach is None and comeback.organic
    assert comeback.offer_cost > 0  # the offer the customer was shown still applies


def test_the_attribution_window_is_configurable(contacted, settings):
    settings.TACK_WINBACK_ATTRIBUTION_DAYS = 60
    outreach = contacted(days_ago=45)

    comeback = services.comeback_record(
        lost_customer=outreach.lost_customer, outreach=outreach, actor=Actor.customer()
    )

    assert comeback.outreach == outreach


def test_a_comeback_made_elsewhere_is_recorded_as_organic(campaigns):
    lost = make_lost(reason="moving")
    subscription_services.subscription_reactivate(
        subscription=lost.subscription, actor=Actor.api("billing")
    )

    assert services.comebacks_detect() == 1
    assert services.comebacks_detect() == 0

    comeback = Comeback.objects.get()
    assert (comeback.organic, comeback.channel) == (True, "system")
    assert comeback.value == Decimal("2388.00")


def test_a_comeback_after_a_contact_made_elsewhere_is_attributed(contacted):
    outreach = contacted(days_ago=3)
    subscription_services.subscription_reactivate(
        subscription=outreach.lost_customer.subscription, actor=Actor.api("billing")
    )

    services.comebacks_detect()

    assert Comeback.objects.get().outreach == outreach


def test_coming_back_skips_what_was_still_planned(contacted):
    outreach = contacted()
    later = Outreach.objects.create(
        lost_customer=outreach.lost_customer,
        campaign=outreach.campaign,
        customer=outreach.customer,
        attempt=2,
        channel="email",
        due_at=timezone.now() + timedelta(days=30),
    )

    services.comeback_record(
        lost_customer=outreach.lost_customer, outreach=outreach, actor=Actor.customer()
    )

    later.refresh_from_db()
    assert (later.status, later.skip_reason) == (OutreachStatus.SKIPPED, "came_back")


# --- Unsubscribe -----------------------------------------------------------------------


def unsubscribe_path(customer) -> str:
    return links.unsubscribe_url(customer=customer).removeprefix("http://testserver")


def test_unsubscribe_page_asks_before_it_acts(client, contacted):
    outreach = contacted(locale="en")

    response = client.get(unsubscribe_path(outreach.customer))

    assert response.status_code == 200
    assert "Unsubscribe?" in response.content.decode()
    assert not Suppression.objects.exists()


def test_one_click_unsubscribe_post_needs_no_session_or_csrf_token(contacted):
    outreach = contacted(locale="en")
    planned_later = Outreach.objects.create(
        lost_customer=outreach.lost_customer,
        campaign=outreach.campaign,
        customer=outreach.customer,
        attempt=2,
        channel="email",
        due_at=timezone.now() + timedelta(days=30),
    )
    mail_client = Client(enforce_csrf_checks=True)

    response = mail_client.post(
        unsubscribe_path(outreach.customer),
        data="List-Unsubscribe=One-Click",
        content_type="application/x-www-form-urlencoded",
    )

    assert response.status_code == 200
    assert "You are unsubscribed" in response.content.decode()
    suppression = Suppression.objects.get()
    assert suppression.customer == outreach.customer
    assert suppression.email_hash == links.email_hash(outreach.customer.email)
    planned_later.refresh_from_db()
    assert planned_later.skip_reason == "unsubscribed"
    outreach.customer.refresh_from_db()
    assert outreach.customer.marketing_consent is False
    assert outreach.customer.marketing_consent_source == "unsubscribe"


def test_unsubscribing_twice_is_harmless(client, contacted):
    outreach = contacted(locale="sv")

    client.post(unsubscribe_path(outreach.customer))
    response = client.post(unsubscribe_path(outreach.customer))

    assert response.status_code == 200
    assert Suppression.objects.count() == 1


@pytest.mark.parametrize(
    ("locale", "phrase"),
    [
        ("sv", "Avregistrera?"),
        ("da", "Afmeld?"),
        ("nb", "Meld deg av?"),
        ("en", "Unsubscribe?"),
    ],
)
def test_unsubscribe_page_renders_in_each_language(client, contacted, locale, phrase):
    outreach = contacted(locale=locale)

    response = client.get(unsubscribe_path(outreach.customer))

    assert phrase in response.content.decode()


def test_a_tampered_unsubscribe_link_is_refused(client, contacted):
    path = unsubscribe_path(contacted(locale="en").customer)

    response = client.post(path[:-6] + "xxxxx/")

    assert response.status_code == 400
    assert not Suppression.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_two_clicks_at_once_bring_the_customer_back_once(contacted):
    outreach = contacted(locale="en")
    path = comeback_path(outreach)
    barrier = threading.Barrier(2)
    pages = []

    def click():
        browser = Client()
        barrier.wait()
        response = browser.post(path)
        pages.append((response.status_code, response.content.decode()))
        connection.close()

    threads = [threading.Thread(target=click) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert [status for status, _ in pages] == [200, 200]
    texts = sorted("Welcome back" in html or "already back" in html for _, html in pages)
    assert texts == [True, True]
    assert Comeback.objects.count() == 1
    assert (
        outreach.lost_customer.subscription.events.filter(kind=EventKind.REACTIVATED).count() == 1
    )


def test_a_comeback_is_at_the_plans_current_list_price_which_the_page_states(client, contacted):
    """As the README says: not at the price they paid before (an old price ended with the
    subscription; the come-back offer is the lower price), and never silently."""
    from subscriptions.models import Subscription

    outreach = contacted(locale="en")
    subscription = outreach.lost_customer.subscription
    Subscription.objects.filter(pk=subscription.pk).update(monthly_amount=Decimal("99.00"))
    assert subscription.plan.monthly_price == Decimal("199.00")

    page = client.get(comeback_path(outreach)).content.decode()
    assert "active again from today, at SEK 199 a month" in page.replace("\xa0", " ")

    client.post(comeback_path(outreach))
    subscription.refresh_from_db()
    assert (subscription.monthly_amount, subscription.discount_percent) == (Decimal("199.00"), 25)
