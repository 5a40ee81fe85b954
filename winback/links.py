"""The signed links in win-back messages: come back, and unsubscribe."""

import hashlib
from datetime import timedelta

from django.conf import settings
from django.urls import reverse

from core.links import LinkInvalid, absolute_url, make_token, read_token, token_id
from subscriptions.models import Customer
from winback.models import Outreach

# An unsubscribe link must keep working for as long as anyone may still read the email.
UNSUBSCRIBE_LINK_MAX_AGE = timedelta(days=365 * 5)


def comeback_link_max_age() -> timedelta:
    return timedelta(days=settings.TACK_WINBACK_LINK_MAX_AGE_DAYS)


def comeback_url(*, outreach: Outreach) -> str:
    token = make_token(purpose="comeback", payload={"id": outreach.pk})
    return absolute_url(reverse("winback:comeback", args=[token]))


def outreach_from_comeback_token(token: str) -> Outreach:
    payload = read_token(purpose="comeback", token=token, max_age=comeback_link_max_age())
    outreach = (
        Outreach.objects.select_related(
            "campaign",
            "customer",
            "lost_customer",
            "lost_customer__plan",
            "lost_customer__reason",
            "lost_customer__subscription",
        )
        .filter(pk=token_id(payload, "o"))
        .first()
    )
    if outreach is None:
        raise LinkInvalid
    return outreach


def unsubscribe_url(*, customer: Customer) -> str:
    token = make_token(purpose="unsubscribe", payload={"id": customer.pk})
    return absolute_url(reverse("winback:unsubscribe", args=[token]))


def customer_from_unsubscribe_token(token: str) -> Customer:
    payload = read_token(purpose="unsubscribe", token=token, max_age=UNSUBSCRIBE_LINK_MAX_AGE)
    customer = Customer.objects.filter(pk=token_id(payload, "c")).first()
    if customer is None:
        raise LinkInvalid
    return customer


def email_hash(email: str) -> str:
    """How a suppressed address is kept: a hash of the normalised address, never the address."""
    return hashlib.sha256(email.strip().lower().encode()).hexdigest() if email else ""
