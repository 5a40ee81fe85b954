"""The win-back's contact rules over plain data: no database."""

from dataclasses import replace
from datetime import UTC, date, datetime, timedelta

from winback.enums import SkipReason
from winback.policy import (
    ContactFacts,
    contact_window_passed,
    contacted_groups,
    first_contact_at,
    in_holdout,
    plan_objection,
    postponed_until,
    runs_on,
    skip_reason,
    standing_objection,
)

LEFT = datetime(2025, 1, 31, 9, 0, tzinfo=UTC)
NOW = datetime(2025, 6, 1, 12, 0, tzinfo=UTC)

CONTACT = ContactFacts(
    running=True,
    groups=frozenset({"unintentionally_pushed"}),
    consent_required=True,
    channel="email",
    churn_group="unintentionally_pushed",
    came_back=False,
    suppressed=False,
    consent=True,
    consent_at=datetime(2020, 1, 1, tzinfo=UTC),
    left_at=LEFT,
    limit_months=None,
    has_email=True,
    has_phone=False,
)


def test_first_contact_at_days_after_leaving():
    at = first_contact_at(
        timing="days",
        first_contact_days=90,
        campaign_contract_months=None,
        left_at=LEFT,
        contract_months=12,
    )
    assert at == datetime(2025, 5, 1, 9, 0, tzinfo=UTC)


def test_first_contact_at_contract_end_is_a_month_before_it():
    def contract(campaign_months, plan_months):
        return first_contact_at(
            timing="contract",
            first_contact_days=90,
            campaign_contract_months=campaign_months,
            left_at=LEFT,
            contract_months=plan_months,
        )

    # 12 months: 11 months after 31 January is the last day of December.
    assert contract(None, 12) == datetime(2025, 12, 31, 9, 0, tzinfo=UTC)
    # The campaign's contract length wins; 2 months: a month after, clamped to February.
    assert contract(2, 12) == datetime(2025, 2, 28, 9, 0, tzinfo=UTC)
    # A monthly plan is still contacted no sooner than a month after leaving.
    assert contract(None, 1) == datetime(2025, 2, 28, 9, 0, tzinfo=UTC)


def test_in_holdout_is_deterministic_and_near_its_share():
    draws = [
        in_holdout(campaign_id=3, holdout_percent=10, lost_customer_id=n) for n in range(20_000)
    ]
    again = [
        in_holdout(campaign_id=3, holdout_percent=10, lost_customer_id=n) for n in range(20_000)
    ]
    other = [
        in_holdout(campaign_id=4, holdout_percent=10, lost_customer_id=n) for n in range(20_000)
    ]
    assert draws == again
    assert 1800 < sum(draws) < 2200
    assert draws != other
    assert not any(
        in_holdout(campaign_id=3, holdout_percent=0, lost_customer_id=n) for n in range(500)
    )


def test_contacted_groups_leave_out_deliberately_pushed_unless_included():
    targets = ["pulled_away", "deliberately_pushed", "no_such_group"]
    assert contacted_groups(churn_groups=targets, include_deliberately_pushed=False) == {
        "pulled_away"
    }
    assert contacted_groups(churn_groups=targets, include_deliberately_pushed=True) == {
        "pulled_away",
        "deliberately_pushed",
    }


def test_postponed_until_the_frequency_cap_has_passed():
    cap = timedelta(days=30)
    assert postponed_until(last_contact_at=None, now=NOW, cap=cap) is None
    assert postponed_until(last_contact_at=NOW - timedelta(days=30), now=NOW, cap=cap) is None
    assert postponed_until(last_contact_at=NOW - timedelta(days=29), now=NOW, cap=cap) == (
        NOW + timedelta(days=1)
    )


def test_contact_window_passed_after_the_country_limit_unless_consent_is_fresh():
    def passed(limit, now, consent_at=None):
        return contact_window_passed(
            left_at=LEFT, limit_months=limit, consent=True, consent_at=consent_at, now=now
        )

    at_limit = datetime(2026, 1, 31, 9, 0, tzinfo=UTC)
    assert not passed(None, datetime(2030, 1, 1, tzinfo=UTC))
    assert not passed(12, at_limit)
    assert passed(12, at_limit + timedelta(seconds=1))
    assert not passed(12, at_limit + timedelta(days=1), consent_at=LEFT + timedelta(days=1))
    assert passed(12, at_limit + timedelta(days=1), consent_at=LEFT)


def test_runs_on_its_dates_when_active():
    day = date(2025, 6, 1)
    assert runs_on(active=True, starts_on=None, ends_on=None, day=day)
    assert runs_on(active=True, starts_on=day, ends_on=day, day=day)
    assert not runs_on(active=False, starts_on=None, ends_on=None, day=day)
    assert not runs_on(active=True, starts_on=date(2025, 6, 2), ends_on=None, day=day)
    assert not runs_on(active=True, starts_on=None, ends_on=date(2025, 5, 31), day=day)


def test_skip_reason_none_when_the_contact_may_be_made():
    assert skip_reason(CONTACT, now=NOW) is None


def test_skip_reason_each_reason():
    cases = [
        ({"running": False}, SkipReason.CAMPAIGN_NOT_RUNNING),
        ({"came_back": True}, SkipReason.CAME_BACK),
        ({"suppressed": True}, SkipReason.UNSUBSCRIBED),
        ({"consent": False}, SkipReason.NO_CONSENT),
        ({"limit_months": 4}, SkipReason.CONTACT_WINDOW_PASSED),
        ({"has_email": False}, SkipReason.NO_EMAIL),
        ({"channel": "phone"}, SkipReason.NO_PHONE),
        ({"churn_group": "deliberately_pushed"}, SkipReason.GROUP_NOT_CONTACTED),
    ]
    for changes, reason in cases:
        assert skip_reason(replace(CONTACT, **changes), now=NOW) == reason, changes
    # No consent is no reason under legitimate interest.
    assert skip_reason(replace(CONTACT, consent=False, consent_required=False), now=NOW) is None


def test_skip_reason_first_reason_wins():
    everything = replace(
        CONTACT, came_back=True, suppressed=True, consent=False, churn_group="pulled_away"
    )
    assert skip_reason(everything, now=NOW) == SkipReason.CAME_BACK
    assert skip_reason(replace(everything, came_back=False), now=NOW) == SkipReason.UNSUBSCRIBED


def test_standing_and_planning_objections():
    assert standing_objection(CONTACT) is None
    # A standing objection holds whatever the day and the consent.
    assert standing_objection(replace(CONTACT, suppressed=True)) == SkipReason.UNSUBSCRIBED
    assert standing_objection(replace(CONTACT, churn_group="pulled_away")) == (
        SkipReason.GROUP_NOT_CONTACTED
    )
    assert standing_objection(replace(CONTACT, consent=False, running=False)) is None
    # Planning also needs consent (where required) and an address for the channel.
    assert plan_objection(CONTACT) is None
    assert plan_objection(replace(CONTACT, consent=False)) == SkipReason.NO_CONSENT
    assert plan_objection(replace(CONTACT, has_email=False)) == SkipReason.NO_EMAIL
    assert plan_objection(replace(CONTACT, suppressed=True)) == SkipReason.UNSUBSCRIBED
    # Planning does not look at the contact window: the send does.
    assert plan_objection(replace(CONTACT, limit_months=4)) is None
