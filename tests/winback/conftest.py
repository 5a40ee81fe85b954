from datetime import datetime, timedelta

import pytest
from django.apps import apps
from django.utils import timezone

from cancellations import services as cancellation_services
from cancellations.defaults import ensure_defaults
from cancellations.models import ExitReason
from subscriptions import services as subscription_services
from subscriptions.actors import Actor
from tests.factories import make_plan, make_subscription
from winback import segmentation
from winback.defaults import ensure_default_campaigns
from winback.models import Campaign, LostCustomer


@pytest.fixture
def defaults(db):
    """The shipped exit reasons and offer rules (transactional tests flush the migration's)."""
    ensure_defaults(apps)


@pytest.fixture
def campaigns(defaults):
    """The shipped campaigns (transactional tests flush the migration's rows)."""
    ensure_default_campaigns(apps)
    return {campaign.name: campaign for campaign in Campaign.objects.all()}


@pytest.fixture
def plans(db):
    return {
        "monthly": make_plan(code="standard", price="199.00", rank=2),
        "yearly": make_plan(code="standard-12", price="159.00", rank=2, contract_months=12),
    }


def refresh(now: datetime | None = None) -> None:
    segmentation.lost_customers_record(now=now)
    segmentation.lost_customers_segment()
    segmentation.lost_customers_score(now=now)


def make_lost(
    *,
    reason: str | None = None,
    competitor: str = "",
    churn_group: str = "",
    cancelled_by: str | None = None,
    left_at: datetime | None = None,
    plan=None,
    agent=None,
    **customer,
) -> LostCustomer:
    """A customer who left: through the web flow with ``reason`` (or a phone interview by
    ``agent`` with their ``churn_group`` judgment), or cancelled by the company."""
    left_at = left_at or timezone.now() - timedelta(days=1)
    subscription = make_subscription(plan=plan or make_plan(), **customer)
    if reason and agent is not None:
        cancellation_services.phone_interview_log(
            subscription=subscription,
            agent=agent,
            reason=ExitReason.objects.get(code=reason),
            outcome="cancelled_now",
            churn_group=churn_group,
            competitor=competitor,
            now=left_at,
        )
    elif reason:
        actor = Actor.customer()
        case = cancellation_services.cancellation_start(
            subscription=subscription, actor=actor, now=left_at
        )
        cancellation_services.cancellation_choose_reason(
            case=case,
            reason=ExitReason.objects.get(code=reason),
            actor=actor,
            competitor=competitor,
            now=left_at,
        )
        cancellation_services.cancellation_decline(
            case=case, actor=actor, immediately=True, now=left_at
        )
    else:
        subscription_services.subscription_cancel(
            subscription=subscription,
            actor=Actor.system("billing"),
            cancelled_by=cancelled_by,
            now=left_at,
        )
    refresh()
    return LostCustomer.objects.get(subscription=subscription, came_back_at__isnull=True)
