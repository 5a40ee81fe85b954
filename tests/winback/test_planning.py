"""When and how often: first contact (fixed days, the 11-month rule), the audience, the
holdout, max attempts and the global frequency cap."""

from datetime import timedelta

import pytest
from django.utils import timezone

from core.dates import add_months
from tests.winback.conftest import make_lost
from winback import services
from winback.enums import ChurnGroup, OutreachStatus
from winback.models import Campaign, Outreach

pytestmark = pytest.mark.django_db

BOUGHT_AWAY = "Bought away: when their new contract ends"
IMPROVED = "Unintentionally pushed away: what we have improved"


def only(campaigns, *names):
    Campaign.objects.exclude(name__in=names).update(active=False)
    for name in names:
        Campaign.objects.filter(name=name).update(holdout_percent=0)


def test_bought_away_customers_are_contacted_eleven_months_after_leaving_a_yearly_contract(
    campaigns, plans
):
    only(campaigns, BOUGHT_AWAY)
    left_at = timezone.now() - timedelta(days=20)
    lost = make_lost(reason="competitor_price", plan=plans["yearly"], left_at=left_at)

    services.outreach_plan()

    outreach = Outreach.objects.get(lost_customer=lost)
    assert outreach.due_at == add_months(left_at, 11)
    assert (outreach.attempt, outreach.status) == (1, OutreachStatus.SCHEDULED)


def test_contract_timing_uses_the_plans_contract_when_the_campaign_names_none(campaigns, plans):
    only(campaigns, BOUGHT_AWAY)
    Campaign.objects.filter(name=BOUGHT_AWAY).update(contract_months=None)
    left_at = timezone.now() - timedelta(days=3)
    yearly = make_lost(reason="competitor_price", plan=plans["yearly"], left_at=left_at)
    monthly = make_lost(reason="competitor_price", plan=plans["monthly"], left_at=left_at)

    services.outreach_plan()

    due = dict(Outreach.objects.values_list("lost_customer_id", "due_at"))
    assert due == {yearly.pk: add_months(left_at, 11), monthly.pk: add_months(left_at, 1)}


def test_fixed_timing_is_days_after_leaving(campaigns):
    only(campaigns, IMPROVED)
    left_at = timezone.now() - timedelta(days=5)
    lost = make_lost(reason="expectations", left_at=left_at)

    services.outreach_plan()

    assert Outreach.objects.get(lost_customer=lost).due_at == left_at + timedelta(days=60)


def test_audience_is_the_target_groups_above_the_minimum_attractiveness(campaigns):
    only(campaigns, IMPROVED)
    target = make_lost(reason="expectations")
    make_lost(reason="moving")  # a self-switcher: another campaign's group
    too_low = make_lost(reason="poor_service")
    too_low.__class__.objects.filter(pk=too_low.pk).update(attractiveness=10)
    Campaign.objects.filter(name=IMPROVED).update(min_attractiveness=50)

    services.outreach_plan()

    assert list(Outreach.objects.values_list("lost_customer_id", flat=True)) == [target.pk]


def test_deliberately_pushed_away_are_excluded_unless_the_campaign_includes_them(campaigns):
    only(campaigns, IMPROVED)
    Campaign.objects.filter(name=IMPROVED).update(
        churn_groups=[ChurnGroup.DELIBERATELY_PUSHED, ChurnGroup.UNINTENTIONALLY_PUSHED]
    )
    pushed = make_lost(cancelled_by="non_payment")

    services.outreach_plan()
    assert not Outreach.objects.filter(lost_customer=pushed).exists()

    Campaign.objects.filter(name=IMPROVED).update(include_deliberately_pushed=True)
    services.outreach_plan()
    assert Outreach.objects.filter(lost_customer=pushed).exists()


def test_consent_required_campaigns_plan_only_customers_with_consent(campaigns):
    only(campaigns, IMPROVED)
    make_lost(reason="expectations", consent=False)

    services.outreach_plan()
    assert not Outreach.objects.exists()

    Campaign.objects.filter(name=IMPROVED).update(consent_basis="legitimate_interest")
    services.outreach_plan()
    assert Outreach.objects.count() == 1


def test_planning_twice_plans_each_contact_once(campaigns):
    only(campaigns, IMPROVED)
    make_lost(reason="expectations")

    first = services.outreach_plan()
    second = services.outreach_plan()

    assert (first.first_contacts, second.first_contacts) == (1, 0)
    assert Outreach.objects.count() == 1


def test_holdout_is_deterministic_and_close_to_its_share(campaigns):
    campaign = Campaign.objects.get(name=IMPROVED)
    campaign.holdout_percent = 10

    picks = [services.in_holdout(campaign=campaign, lost_customer_id=n) for n in range(20_000)]
    again = [services.in_holdout(campaign=campaign, lost_customer_id=n) for n in range(20_000)]

    assert picks == again
    assert 0.09 < sum(picks) / len(picks) < 0.11
    other = Campaign.objects.get(name=BOUGHT_AWAY)
    other.holdout_percent = 10
    other_picks = [services.in_holdout(campaign=other, lost_customer_id=n) for n in range(20_000)]
    assert other_picks != picks  # each campaign draws its own holdout


def test_holdout_members_are_recorded_and_never_sent(campaigns, django_capture_on_commit_callbacks):
    only(campaigns, IMPROVED)
    Campaign.objects.filter(name=IMPROVED).update(holdout_percent=50, first_contact_days=0)
    for _ in range(12):
        make_lost(reason="expectations")

    services.outreach_plan()
    with django_capture_on_commit_callbacks(execute=True):
        services.outreach_dispatch_due()

    holdouts = Outreach.objects.filter(status=OutreachStatus.HOLDOUT)
    assert 0 < holdouts.count() < 12
    assert not holdouts.filter(contacted_at__isnull=False).exists()
    assert Outreach.objects.filter(status=OutreachStatus.QUEUED).count() == 12 - holdouts.count()


def _send_now(outreach: Outreach, now):
    return services.outreach_send(outreach_id=outreach.pk, now=now)


def test_next_attempt_is_planned_after_a_contact_up_to_max_attempts(campaigns):
    only(campaigns, IMPROVED)
    Campaign.objects.filter(name=IMPROVED).update(
        first_contact_days=0, max_attempts=2, min_days_between=90
    )
    lost = make_lost(reason="expectations")
    services.outreach_plan()
    first = Outreach.objects.get(lost_customer=lost)
    now = timezone.now()

    assert _send_now(first, now).status == "queued"
    Outreach.objects.filter(pk=first.pk).update(status=OutreachStatus.SENT, sent_at=now)
    services.outreach_plan(now=now)

    second = Outreach.objects.get(lost_customer=lost, attempt=2)
    assert second.due_at == now + timedelta(days=90)
    later = now + timedelta(days=91)
    assert _send_now(second, later).status == "queued"
    Outreach.objects.filter(pk=second.pk).update(status=OutreachStatus.SENT, sent_at=later)
    services.outreach_plan(now=later)

    assert sorted(Outreach.objects.values_list("attempt", flat=True)) == [1, 2]


def test_frequency_cap_holds_across_campaigns(campaigns):
    only(campaigns, IMPROVED, "A personal call to our most valued lost customers")
    Campaign.objects.update(first_contact_days=0, min_attractiveness=0)
    lost = make_lost(reason="expectations")
    services.outreach_plan()
    email, call = (
        Outreach.objects.filter(lost_customer=lost).order_by("channel").select_related("campaign")
    )
    now = timezone.now()

    assert _send_now(email, now).status == "queued"
    result = _send_now(call, now + timedelta(days=1))

    call.refresh_from_db()
    assert result.status == "postponed"
    assert call.status == OutreachStatus.SCHEDULED
    assert call.due_at == now + timedelta(days=30)
    assert _send_now(call, now + timedelta(days=29)).status == "not_due"
    assert _send_now(call, now + timedelta(days=30)).status == "queued"


def test_frequency_cap_is_configurable(campaigns, settings):
    settings.TACK_WINBACK_FREQUENCY_CAP_DAYS = 7
    only(campaigns, IMPROVED, "A personal call to our most valued lost customers")
    Campaign.objects.update(first_contact_days=0, min_attractiveness=0)
    lost = make_lost(reason="expectations")
    services.outreach_plan()
    email, call = Outreach.objects.filter(lost_customer=lost).order_by("channel")
    now = timezone.now()

    _send_now(email, now)

    assert _send_now(call, now + timedelta(days=8)).status == "queued"
