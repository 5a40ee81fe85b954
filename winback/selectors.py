"""Reads of the win-back: who is suppressed, the facts the contact rules decide on, and why
a planned contact may not be made now."""

from datetime import datetime

from django.conf import settings
from django.db.models import Exists, OuterRef, Q
from django.utils import timezone

from core.dates import add_months
from subscriptions.enums import SubscriptionStatus
from subscriptions.models import Customer
from winback import links, policy
from winback.enums import (
    ConsentBasis,
    OutreachChannel,
)
from winback.models import Campaign, LostCustomer, Outreach, Suppression


def is_suppressed(customer: Customer) -> bool:
    return customer.pk in suppressed_among([customer])


def _suppressed_hashes() -> set[str]:
    """The hashes of every suppressed email address (few: unsubscribes and erasures), so
    planning can drop a suppressed address under any customer record in one query."""
    return set(Suppression.objects.exclude(email_hash="").values_list("email_hash", flat=True))


def suppressed_among(customers: list[Customer]) -> set[int]:
    """The ids of those customers who unsubscribed, by customer or by email hash (which
    outlives an erased customer), in one query."""
    hashes = {customer.pk: links.email_hash(customer.email) for customer in customers}
    rows = Suppression.objects.filter(
        Q(customer_id__in=hashes) | Q(email_hash__in=set(hashes.values()) - {""})
    ).values_list("customer_id", "email_hash")
    by_customer = {customer_id for customer_id, _ in rows}
    by_hash = {hashed for _, hashed in rows} - {""}
    return {pk for pk, hashed in hashes.items() if pk in by_customer or hashed in by_hash}


def contact_facts(
    *, outreach: Outreach, customer: Customer, now: datetime, suppressed: bool
) -> policy.ContactFacts:
    """What ``policy`` looks at for this planned contact (its campaign, lost customer and
    subscription loaded)."""
    campaign, lost = outreach.campaign, outreach.lost_customer
    return policy.ContactFacts(
        running=campaign.runs_on(timezone.localdate(now)),
        groups=frozenset(campaign_groups(campaign)),
        consent_required=campaign.consent_basis == ConsentBasis.CONSENT,
        channel=outreach.channel,
        churn_group=lost.churn_group,
        came_back=lost.came_back_at is not None
        or lost.subscription.status != SubscriptionStatus.CANCELLED,
        suppressed=suppressed,
        consent=customer.marketing_consent,
        consent_at=customer.marketing_consent_at,
        left_at=lost.left_at,
        limit_months=settings.TACK_WINBACK_CONTACT_LIMIT_MONTHS.get(customer.country.upper()),
        has_email=bool(customer.email),
        has_phone=bool(customer.phone),
    )


def skip_reason(*, outreach: Outreach, customer: Customer, now: datetime, suppressed: bool) -> str:
    """Why this contact must not be made now ('' when it may; ``policy.skip_reason``);
    ``suppressed`` is whether the customer unsubscribed (``suppressed_among``)."""
    facts = contact_facts(outreach=outreach, customer=customer, now=now, suppressed=suppressed)
    return policy.skip_reason(facts, now=now) or ""


def campaign_groups(campaign: Campaign) -> set[str]:
    """``policy.contacted_groups`` for this campaign."""
    return policy.contacted_groups(
        churn_groups=campaign.churn_groups,
        include_deliberately_pushed=campaign.include_deliberately_pushed,
    )


def campaign_audience(*, campaign: Campaign, now: datetime):
    """Lost customers this campaign should plan a first contact for (a queryset); those
    suppressed by address are dropped when planned (``outreach_plan``)."""
    groups = sorted(campaign_groups(campaign))
    audience = LostCustomer.objects.filter(
        came_back_at__isnull=True,
        churn_group__in=groups,
        attractiveness__gte=campaign.min_attractiveness,
        left_at__gte=add_months(now, -campaign.max_months_after_leaving),
    ).filter(
        ~Exists(Outreach.objects.filter(lost_customer=OuterRef("pk"), campaign=campaign)),
        ~Exists(Suppression.objects.filter(customer=OuterRef("customer_id"))),
    )
    if campaign.consent_basis == ConsentBasis.CONSENT:
        audience = audience.filter(customer__marketing_consent=True)
    if campaign.channel == OutreachChannel.EMAIL:
        audience = audience.exclude(customer__email="")
    else:
        audience = audience.exclude(customer__phone="")
    return audience
