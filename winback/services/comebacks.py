"""Lost customers coming back: through the come-back link, a win-back call, or some other
way the periodic task finds, attributed to the last contact within the window."""

from datetime import datetime, timedelta
from decimal import Decimal

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from core.changes import changes_mark
from core.enums import ChangeKind
from subscriptions import services as subscription_services
from subscriptions.actors import Actor
from subscriptions.enums import Channel, SubscriptionStatus
from winback.enums import (
    IN_FLIGHT,
    ComebackOfferKind,
    OutreachStatus,
    SkipReason,
)
from winback.errors import ComebackError
from winback.models import Campaign, Comeback, LostCustomer, Outreach
from winback.webhooks import comeback_publish

CENT = Decimal("0.01")


def attributed_outreach(*, lost_customer: LostCustomer, now: datetime) -> Outreach | None:
    """The last contact made within the attribution window, if any (else: organic)."""
    window = timedelta(days=settings.TACK_WINBACK_ATTRIBUTION_DAYS)
    return (
        Outreach.objects.filter(
            lost_customer=lost_customer,
            status__in=IN_FLIGHT,
            contacted_at__gte=now - window,
            contacted_at__lte=now,
        )
        .select_related("campaign")
        .order_by("-contacted_at", "-pk")
        .first()
    )


def _apply_comeback_offer(campaign: Campaign | None, subscription, actor, now) -> Decimal:
    if campaign is None or not campaign.offer_kind:
        return Decimal("0")
    if campaign.offer_kind == ComebackOfferKind.DISCOUNT:
        event = subscription_services.subscription_grant_discount(
            subscription=subscription,
            percent=campaign.offer_percent,
            months=campaign.offer_months,
            actor=actor,
            now=now,
        )
        return event.amount
    event = subscription_services.subscription_grant_credit(
        subscription=subscription,
        amount=subscription.monthly_amount,
        actor=actor,
        note="win-back: a free month",
    )
    return event.amount


@transaction.atomic
def comeback_record(
    *,
    lost_customer: LostCustomer,
    actor: Actor,
    outreach: Outreach | None = None,
    now: datetime | None = None,
) -> Comeback:
    """Bring a lost customer back: reactivate the subscription, apply the offer the customer
    was shown (``outreach``'s campaign), and record the comeback attributed to the last
    contact within the attribution window. Coming back twice raises ComebackError.

    Side effects: REACTIVATED (and discount/credit) ledger rows; the Comeback row and its
    winback.comeback webhook; any contact still planned for this lost customer is skipped.
    """
    now = now or timezone.now()
    lost = LostCustomer.objects.select_for_update().get(pk=lost_customer.pk)
    if lost.came_back_at is not None:
        raise ComebackError(_("You are already back with us."), code="already_back")
    subscription = subscription_services.subscription_reactivate(
        subscription=lost.subscription, actor=actor, now=now, note="win-back"
    )
    offer_cost = _apply_comeback_offer(
        outreach.campaign if outreach else None, subscription, actor, now
    )
    return _finish_comeback(lost, subscription, actor.channel, offer_cost, now)


def _finish_comeback(lost, subscription, channel, offer_cost, now) -> Comeback:
    attributed = attributed_outreach(lost_customer=lost, now=now)
    monthly = subscription.monthly_amount
    comeback = Comeback.objects.create(
        lost_customer=lost,
        customer_id=lost.customer_id,
        subscription=subscription,
        at=now,
        outreach=attributed,
        campaign=attributed.campaign if attributed else None,
        channel=channel,
        monthly_amount=monthly,
        offer_cost=offer_cost,
        value=(monthly * 12 - offer_cost).quantize(CENT),
        currency=subscription.currency,
    )
    LostCustomer.objects.filter(pk=lost.pk).update(came_back_at=now)
    changes_mark(kind=ChangeKind.LOST_CUSTOMER, ids=[lost.pk])
    Outreach.objects.filter(lost_customer=lost, status=OutreachStatus.SCHEDULED).update(
        status=OutreachStatus.SKIPPED, skip_reason=SkipReason.CAME_BACK
    )
    comeback_publish(comeback=comeback, customer=subscription.customer)
    return comeback


def comebacks_detect(*, now: datetime | None = None) -> int:
    """Record the lost customers whose subscription came back some other way (the company's
    own systems, the API, an agent) — attributed like any other, else organic.
    """
    now = now or timezone.now()
    count = 0
    returned = LostCustomer.objects.filter(came_back_at__isnull=True).exclude(
        subscription__status=SubscriptionStatus.CANCELLED
    )
    for lost_id in returned.values_list("pk", flat=True):
        with transaction.atomic():
            lost = (
                LostCustomer.objects.select_for_update()
                .select_related("subscription")
                .filter(pk=lost_id, came_back_at__isnull=True)
                .first()
            )
            if lost is None or lost.subscription.status == SubscriptionStatus.CANCELLED:
                continue
            _finish_comeback(lost, lost.subscription, Channel.SYSTEM, Decimal("0"), now)
            count += 1
    return count
