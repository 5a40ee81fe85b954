"""The daily rollups give exactly the raw scan's figures: after a rebuild, after incremental
refreshes driven by the change marks, under concurrent refreshes, and for every filter."""

import random
from collections import Counter
from datetime import date, timedelta

import pytest
from django.apps import apps
from django.db import transaction
from django.utils import timezone

from cancellations import services as case_services
from cancellations.defaults import ensure_defaults
from cancellations.enums import CaseOutcome, ChurnGroup
from cancellations.models import CancellationCase, ExitReason
from cancellations.selectors import offers_for
from core.models import ChangeMark, OutboundEmail
from retention import selectors
from retention.models import (
    CaseDay,
    CaseMix,
    ComebackDay,
    FunnelDay,
    OfferMix,
    OutreachDay,
    OutreachMix,
    Scope,
)
from retention.periods import Filters
from retention.services import rollups_refresh
from subscriptions import services as subscription_services
from subscriptions.actors import Actor
from tests.conftest import forget_cached_rows
from tests.factories import make_agent, make_plan, make_subscription
from tests.retention.conftest import ago
from tests.winback.conftest import campaigns, make_lost  # noqa: F401 - shared fixture
from winback import segmentation
from winback import services as winback_services
from winback.defaults import ensure_default_campaigns
from winback.enums import OutreachStatus
from winback.models import Campaign, Comeback, LostCustomer, Outreach

pytestmark = [pytest.mark.django_db, pytest.mark.slow]

ROLLUP_MODELS = (CaseDay, CaseMix, OfferMix, FunnelDay, OutreachMix, OutreachDay, ComebackDay)
WEB = Actor.customer()
REASONS = [
    "price",
    "moving",
    "no_need",
    "competitor_price",
    "competitor_features",
    "expectations",
    "poor_service",
]


def one_case(rng: random.Random, plans: dict, agent, days_ago: int) -> CancellationCase:
    """A case through the real services: web or phone, saved, cancelled or left open."""
    subscription = make_subscription(
        plan=plans[rng.choice(list(plans))], since=date(2015 + rng.randrange(10), 3, 14)
    )
    reason = ExitReason.objects.get(code=rng.choice(REASONS))
    when = ago(days_ago)
    if rng.random() < 0.3:
        kinds = [
            proposal.kind
            for proposal in offers_for(subscription=subscription, reason=reason, now=when)
            if proposal.kind != "callback"
        ]
        outcome = "saved" if kinds and rng.random() < 0.6 else "cancelled"
        return case_services.phone_interview_log(
            subscription=subscription,
            agent=agent,
            reason=reason,
            outcome=outcome,
            offer_kind=kinds[0] if outcome == "saved" else "",
            churn_group=rng.choice(["", ChurnGroup.PULLED_AWAY]),
            competitor=rng.choice(["", "Rival AB"]),
            options={"months": 1},
            now=when,
        )
    if rng.random() < 0.15:  # "cancel my subscription" at once, without a reason
        return case_services.cancellation_leave(subscription=subscription, actor=WEB, now=when)
    case = case_services.cancellation_open(
        subscription=subscription,
        actor=WEB,
        reason=reason,
        competitor=rng.choice(["", "Rival AB"]),
        now=when,
    ).case
    roll = rng.random()
    offers = [o for o in case.offers.filter(withdrawn=False) if o.kind != "callback"]
    if roll < 0.45 and offers:
        return case_services.offer_accept(
            case=case, offer_id=offers[0].pk, actor=WEB, options={"months": 2}, now=when
        )
    if roll < 0.85:
        return case_services.cancellation_decline(case=case, actor=WEB, now=when)
    return case  # left open: the sweep abandons it


def add_cases(rng: random.Random, plans: dict, agent, count: int, *, span: int) -> list:
    cases = [one_case(rng, plans, agent, rng.randrange(0, span)) for _ in range(count)]
    case_services.cases_abandon_stale(now=timezone.now())
    for case in cases:
        case.refresh_from_db()
        # Some saves do not hold: the customer asks to leave a few weeks later.
        if case.outcome == CaseOutcome.SAVED and rng.random() < 0.4 and case.decided_at:
            left = case.decided_at + timedelta(days=rng.choice([10, 45, 75]))
            if left < timezone.now():
                case.subscription.refresh_from_db()
                subscription_services.subscription_schedule_cancel(
                    subscription=case.subscription, actor=WEB, now=left
                )
    return cases


def add_winback(rng: random.Random, count: int) -> list[LostCustomer]:
    """Lost customers contacted by the shipped campaigns: some in the holdout, some failed,
    some back through the link, some back on their own."""
    Campaign.objects.update(first_contact_days=0, min_attractiveness=0, holdout_percent=30)
    lost = [
        make_lost(
            reason=rng.choice(["expectations", "competitor_price", "moving"]),
            left_at=ago(rng.randrange(40, 300)),
            locale=rng.choice(["sv", "da", "nb", "en"]),
        )
        for _ in range(count)
    ]
    winback_services.outreach_plan()
    for outreach in Outreach.objects.filter(status=OutreachStatus.SCHEDULED):
        contact_at = ago(rng.randrange(3, 35))
        Outreach.objects.filter(pk=outreach.pk).update(due_at=contact_at)
        winback_services.outreach_send(outreach_id=outreach.pk, now=contact_at)
    queued = list(Outreach.objects.filter(status=OutreachStatus.QUEUED, email__isnull=False))
    for outreach in queued[::3]:
        OutboundEmail.objects.filter(pk=outreach.email_id).update(status="failed")
    winback_services.outreach_sync_channels()
    waiting = Outreach.objects.filter(
        status=OutreachStatus.QUEUED, lost_customer__came_back_at__isnull=True
    )
    for outreach in waiting[::2]:
        winback_services.comeback_record(
            lost_customer=outreach.lost_customer,
            outreach=outreach,
            actor=WEB,
            now=outreach.contacted_at + timedelta(days=1),
        )
    for one in LostCustomer.objects.filter(came_back_at__isnull=True)[:2]:
        subscription_services.subscription_reactivate(
            subscription=one.subscription, actor=Actor.api("billing")
        )
    winback_services.comebacks_detect()
    return lost


def periods() -> list[Filters]:
    today = timezone.localdate()
    first_of_month = today.replace(day=1)
    last_month_end = first_of_month - timedelta(days=1)
    return [
        Filters(start=today - timedelta(days=364), end=today),
        Filters(start=today - timedelta(days=29), end=today),
        Filters(start=today - timedelta(days=75), end=today - timedelta(days=20)),
        Filters(start=last_month_end.replace(day=1), end=last_month_end),
        Filters(start=today - timedelta(days=500), end=today - timedelta(days=100)),
    ]


def all_filters(plans, *, narrowed_periods: int = 2) -> list[Filters]:
    campaign = Campaign.objects.order_by("pk").first()
    narrowed = []
    for period in periods()[1 : 1 + narrowed_periods]:
        narrowed += [
            Filters(period.start, period.end, channel="phone"),
            Filters(period.start, period.end, channel="email"),
            Filters(period.start, period.end, plan=plans["premium"].pk),
            Filters(period.start, period.end, churn_group=ChurnGroup.UNINTENTIONALLY_PUSHED),
            Filters(period.start, period.end, campaign=campaign.pk),
        ]
    return periods() + narrowed


def assert_rollups_equal_the_scan(filters: list[Filters]) -> None:
    now = timezone.now()
    for one in filters:
        from_rollups = selectors.dashboard(one, now=now, source=selectors.ROLLUPS)
        from_scan = selectors.dashboard(one, now=now, source=selectors.SCAN)
        assert from_rollups == from_scan, one


def snapshot() -> dict:
    """Every rollup row (without its id), as a multiset per rollup."""
    return {
        model.__name__: Counter(
            tuple(row) for row in model.objects.values_list(*_columns(model)).order_by()
        )
        for model in ROLLUP_MODELS
    }


def _columns(model) -> list[str]:
    return [field.attname for field in model._meta.concrete_fields if field.name != "id"]


def build_mixed_book() -> dict:
    """45 cases over fourteen months and ten lost customers contacted by the campaigns."""
    ensure_defaults(apps)
    ensure_default_campaigns(apps)
    plans = {
        "basic": make_plan(code="basic", price="129.00", rank=1),
        "standard": make_plan(code="standard", price="199.00", rank=2),
        "premium": make_plan(code="premium", price="299.00", rank=3),
    }
    rng = random.Random(20261123)
    agent = make_agent()
    add_cases(rng, plans, agent, 45, span=420)
    add_winback(rng, 10)
    return {"rng": rng, "agent": agent, "plans": plans}


@pytest.fixture(scope="module")
def shared_book(django_db_setup, django_db_blocker):
    """The mixed book, built once for this module's tests inside a transaction that each test
    runs in a savepoint of (rolled back after it) and that is rolled back at the end.

    Building it through the real services takes most of a test's time, and the tests only
    read it or change it inside their own savepoint, so they all start from the same book."""
    with django_db_blocker.unblock():
        # Built before this module's first test forgets what earlier tests cached: a
        # cached webhook endpoint that their rollback removed would be written to.
        forget_cached_rows()
        outer = transaction.atomic()
        outer.__enter__()
        try:
            book = build_mixed_book()
        except BaseException:
            transaction.set_rollback(True)
            outer.__exit__(None, None, None)
            raise
    yield book
    with django_db_blocker.unblock():
        transaction.set_rollback(True)
        outer.__exit__(None, None, None)
        forget_cached_rows()


@pytest.fixture
def mixed_book(shared_book, db):
    # A fresh random stream per test, so that what one test adds does not depend on another.
    return {**shared_book, "rng": random.Random(20261203)}


def test_a_rebuild_gives_exactly_the_raw_scans_figures_for_every_period_and_filter(mixed_book):
    plans = mixed_book["plans"]
    result = rollups_refresh(rebuild=True)

    assert result.rebuilt
    figures = selectors.dashboard(periods()[0], source=selectors.ROLLUPS)
    assert figures["cases"]["closed"] > 30
    assert figures["winback"].contacts > 0
    assert figures["winback"].comebacks > 0
    assert_rollups_equal_the_scan(all_filters(plans))


def test_an_incremental_refresh_equals_the_scan_and_a_rebuild(mixed_book):
    plans = mixed_book["plans"]
    rollups_refresh()
    rng = mixed_book["rng"]

    add_cases(rng, plans, mixed_book["agent"], 15, span=120)
    add_winback(rng, 4)
    contacted = LostCustomer.objects.filter(outreach__status=OutreachStatus.SENT).distinct()
    segmentation.lost_customers_resegment(
        queryset=contacted[:2], churn_group=ChurnGroup.SELF_SWITCHER
    )
    pending = ChangeMark.objects.count()
    result = rollups_refresh()

    assert not result.rebuilt
    assert result.marks == pending > 0
    assert result.case_days > 0 and result.outreach_days > 0 and result.comeback_days > 0
    assert ChangeMark.objects.count() == 0
    assert_rollups_equal_the_scan(all_filters(plans, narrowed_periods=1))
    incremental = snapshot()
    rollups_refresh(rebuild=True)
    assert snapshot() == incremental


def test_a_save_that_does_not_hold_leaves_the_billing_verified_rate(mixed_book):
    rollups_refresh()
    saved = CancellationCase.objects.filter(
        outcome=CaseOutcome.SAVED,
        decided_at__lt=ago(100),
        subscription__status="active",
    ).first()
    period = Filters(start=timezone.localdate(saved.decided_at), end=timezone.localdate())
    before = selectors.case_summary(period)["kept_90"]

    subscription_services.subscription_schedule_cancel(
        subscription=saved.subscription, actor=WEB, now=saved.decided_at + timedelta(days=20)
    )
    rollups_refresh()

    assert selectors.case_summary(period)["kept_90"] == before - 1
    assert_rollups_equal_the_scan([period])


def test_leaving_recounts_only_the_saves_it_can_still_unverify(mixed_book):
    """A save decided more than the longest verification window (90 days) before the
    subscription asks to leave counted as kept and stays so: its day is not recounted."""
    rollups_refresh()
    recent = CancellationCase.objects.filter(decided_at__gte=ago(91)).values("subscription_id")
    saved = (
        CancellationCase.objects.filter(
            outcome=CaseOutcome.SAVED, decided_at__lt=ago(100), subscription__status="active"
        )
        .exclude(subscription_id__in=recent)
        .first()
    )
    period = Filters(start=timezone.localdate(saved.decided_at), end=timezone.localdate())
    before = selectors.case_summary(period)

    subscription_services.subscription_schedule_cancel(subscription=saved.subscription, actor=WEB)
    result = rollups_refresh()

    assert result.marks == 1
    assert result.case_days == 0
    assert selectors.case_summary(period) == before
    assert_rollups_equal_the_scan([period])


def test_a_comeback_that_ends_again_and_comes_back_is_recounted(mixed_book):
    """The days of a subscription's comebacks are recounted when it ends again and when it
    comes back again: each changes the months its comeback counts towards lifetime value."""
    rollups_refresh()
    comeback = Comeback.objects.filter(outreach__isnull=False, subscription__status="active")[0]
    period = Filters(start=timezone.localdate(comeback.at), end=timezone.localdate())
    ended = ComebackDay.objects.filter(scope=Scope.EACH, ended_on__isnull=False)

    subscription_services.subscription_cancel(subscription=comeback.subscription, actor=WEB)
    result = rollups_refresh()

    assert result.comeback_days == 1
    assert ended.count() == 1
    assert_rollups_equal_the_scan([period])
    incremental = snapshot()
    rollups_refresh(rebuild=True)
    assert snapshot() == incremental

    subscription_services.subscription_reactivate(
        subscription=comeback.subscription, actor=Actor.api("billing")
    )
    assert rollups_refresh().comeback_days == 1
    assert ended.count() == 0
    assert_rollups_equal_the_scan([period])


def test_changing_a_reasons_default_group_rebuilds_the_rollups(mixed_book):
    rollups_refresh()
    moving = ExitReason.objects.get(code="moving")
    moving.default_churn_group = ChurnGroup.PULLED_AWAY
    moving.save()

    result = rollups_refresh()

    assert result.rebuilt
    assert_rollups_equal_the_scan(periods())
