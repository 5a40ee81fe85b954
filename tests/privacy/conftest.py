from dataclasses import dataclass
from datetime import timedelta

import pytest
from django.utils import timezone

from cancellations import services as cancellation_services
from cancellations.enums import OfferKind
from cancellations.models import CancellationCase, ExitReason
from desk.models import CallbackRequest
from subscriptions.actors import Actor
from subscriptions.models import Customer
from tests.factories import make_customer, make_subscription
from tests.winback.conftest import campaigns, defaults, plans, refresh  # noqa: F401
from winback import services as winback_services
from winback.enums import OutreachStatus
from winback.models import Campaign, Comeback, LostCustomer, Outreach

WEB = Actor.customer()
IMPROVED = "Unintentionally pushed away: what we have improved"

# Everything personal the fixture's customer said or was told; none of it may survive erasure.
NAME, EMAIL, PHONE = "Astrid Lindqvist", "Astrid.Lindqvist@example.com", "+46701112233"
OWN_WORDS = "Too dear since I lost my job at the mill"
FOLLOW_UP_NOTES = "Moving north with Lars in June; call her after midsummer"
INTERVIEW_NOTES = "Support never answered about her broken router"
PERSONAL = [NAME, "Astrid", EMAIL.lower(), PHONE, OWN_WORDS, FOLLOW_UP_NOTES, INTERVIEW_NOTES]


def ago(days: int):
    return timezone.now() - timedelta(days=days)


@dataclass
class History:
    customer: Customer
    saved: CancellationCase
    follow_up: CancellationCase
    cancelled: CancellationCase
    callback: CallbackRequest
    lost: LostCustomer
    outreach: Outreach
    comeback: Comeback
    other: Customer


@pytest.fixture
def history(campaigns, plans, agent, django_capture_on_commit_callbacks):  # noqa: F811
    """Astrid's years with us: a web case saved with a loyalty bonus, in her own words, a phone
    follow-up with the agent's notes, a phone interview that ended a subscription, a win-back
    email and her comeback. Bo, another customer, left through the web in his own words."""
    customer = make_customer(name=NAME, email=EMAIL, phone=PHONE)
    plan = plans["monthly"]

    first = make_subscription(customer=customer, plan=plan)
    case = cancellation_services.cancellation_start(subscription=first, actor=WEB, now=ago(20))
    case = cancellation_services.cancellation_choose_reason(
        case=case,
        reason=ExitReason.objects.get(code="price"),
        actor=WEB,
        text=OWN_WORDS,
        now=ago(20),
    )
    bonus = case.offers.get(kind=OfferKind.LOYALTY_BONUS)
    saved = cancellation_services.offer_accept(case=case, offer_id=bonus.pk, actor=WEB, now=ago(20))

    follow_up = cancellation_services.phone_interview_log(
        subscription=make_subscription(customer=customer, plan=plan),
        agent=agent,
        reason=ExitReason.objects.get(code="moving"),
        outcome="follow_up",
        notes=FOLLOW_UP_NOTES,
        follow_up_at=ago(14),
        now=ago(15),
    )

    cancelled = cancellation_services.phone_interview_log(
        subscription=make_subscription(customer=customer, plan=plan),
        agent=agent,
        reason=ExitReason.objects.get(code="expectations"),
        outcome="cancelled_now",
        notes=INTERVIEW_NOTES,
        competitor="Telia",
        now=ago(10),
    )
    refresh()
    lost = LostCustomer.objects.get(case=cancelled)

    Campaign.objects.exclude(name=IMPROVED).update(active=False)
    Campaign.objects.filter(name=IMPROVED).update(
        holdout_percent=0, first_contact_days=0, min_attractiveness=0
    )
    winback_services.outreach_plan()
    outreach = Outreach.objects.get(lost_customer=lost)
    with django_capture_on_commit_callbacks(execute=True):
        winback_services.outreach_send(outreach_id=outreach.pk, now=ago(5))
    winback_services.outreach_sync_channels()
    outreach.refresh_from_db()
    assert outreach.status == OutreachStatus.SENT
    comeback = winback_services.comeback_record(
        lost_customer=lost, outreach=outreach, actor=WEB, now=ago(2)
    )

    bo = make_subscription(plan=plan, name="Bo Ek", email="bo@example.com")
    bo_case = cancellation_services.cancellation_start(subscription=bo, actor=WEB, now=ago(3))
    cancellation_services.cancellation_choose_reason(
        case=bo_case,
        reason=ExitReason.objects.get(code="price"),
        actor=WEB,
        text="Bo's own words",
        now=ago(3),
    )
    cancellation_services.cancellation_decline(case=bo_case, actor=WEB, now=ago(3))

    return History(
        customer=customer,
        saved=saved,
        follow_up=follow_up,
        cancelled=cancelled,
        callback=CallbackRequest.objects.get(source_ref=follow_up.pk),
        lost=lost,
        outreach=outreach,
        comeback=comeback,
        other=bo.customer,
    )
