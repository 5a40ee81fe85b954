"""A planned contact is re-checked against everything that forbids it: suppression (by
customer and by address) when contacts are planned, a churn group the campaign does not
contact at send time, and a manager's re-segmentation for the contacts already planned."""

from datetime import timedelta

import pytest
from django.core import mail
from django.urls import reverse
from django.utils import timezone

from cancellations.models import ExitReason
from tests.winback.conftest import make_lost
from winback import segmentation, services
from winback.enums import ChurnGroup, OutreachStatus
from winback.links import email_hash
from winback.models import Campaign, LostCustomer, Outreach, Suppression

pytestmark = pytest.mark.django_db

IMPROVED = "Unintentionally pushed away: what we have improved"


@pytest.fixture
def improved(campaigns):
    """Only the "improved" campaign runs: no holdout, contacts due at once, two attempts."""
    Campaign.objects.exclude(name=IMPROVED).update(active=False)
    Campaign.objects.filter(name=IMPROVED).update(
        holdout_percent=0, first_contact_days=0, min_attractiveness=0, max_attempts=2
    )
    return Campaign.objects.get(name=IMPROVED)


def test_resegmenting_as_deliberately_pushed_skips_the_planned_contacts(improved):
    lost = make_lost(reason="expectations")
    other = make_lost(reason="expectations")
    services.outreach_plan()

    segmentation.lost_customers_resegment(
        queryset=LostCustomer.objects.filter(pk=lost.pk),
        churn_group=ChurnGroup.DELIBERATELY_PUSHED,
    )

    rows = {
        row.lost_customer_id: (row.status, row.skip_reason)
        for row in Outreach.objects.filter(campaign=improved)
    }
    assert rows == {
        lost.pk: (OutreachStatus.SKIPPED, "group_not_contacted"),
        other.pk: (OutreachStatus.SCHEDULED, ""),
    }


def test_resegmenting_in_bulk_into_another_campaigns_group_skips_the_planned_contacts(improved):
    first, second = make_lost(reason="expectations"), make_lost(reason="poor_service")
    services.outreach_plan()

    moved = segmentation.lost_customers_resegment(
        queryset=LostCustomer.objects.filter(pk__in=[first.pk, second.pk]),
        churn_group=ChurnGroup.PULLED_AWAY,
    )

    assert moved == 2
    assert sorted(Outreach.objects.values_list("status", "skip_reason")) == [
        (OutreachStatus.SKIPPED, "group_not_contacted"),
        (OutreachStatus.SKIPPED, "group_not_contacted"),
    ]


def test_a_group_the_campaign_does_not_contact_is_skipped_at_send_time(improved):
    lost = make_lost(reason="expectations")
    services.outreach_plan()
    outreach = Outreach.objects.get(lost_customer=lost)
    # The group changed without a re-check (say, the rules moved it): the send checks again.
    LostCustomer.objects.filter(pk=lost.pk).update(churn_group=ChurnGroup.DELIBERATELY_PUSHED)

    result = services.outreach_send(outreach_id=outreach.pk)

    outreach.refresh_from_db()
    assert (result.status, result.detail) == ("skipped", "group_not_contacted")
    assert (outreach.status, outreach.skip_reason) == (
        OutreachStatus.SKIPPED,
        "group_not_contacted",
    )
    assert mail.outbox == []


def test_a_campaign_that_includes_deliberately_pushed_still_sends_to_them(improved):
    Campaign.objects.filter(pk=improved.pk).update(
        churn_groups=[ChurnGroup.UNINTENTIONALLY_PUSHED, ChurnGroup.DELIBERATELY_PUSHED],
        include_deliberately_pushed=True,
    )
    lost = make_lost(reason="expectations")
    services.outreach_plan()
    segmentation.lost_customers_resegment(
        queryset=LostCustomer.objects.filter(pk=lost.pk),
        churn_group=ChurnGroup.DELIBERATELY_PUSHED,
    )
    outreach = Outreach.objects.get(lost_customer=lost)

    assert outreach.status == OutreachStatus.SCHEDULED
    assert services.outreach_send(outreach_id=outreach.pk).status == "queued"


def test_an_unsubscribed_customer_gets_no_later_attempt_planned(improved):
    lost = make_lost(reason="expectations")
    services.outreach_plan()
    first = Outreach.objects.get(lost_customer=lost)
    now = timezone.now()
    assert services.outreach_send(outreach_id=first.pk, now=now).status == "queued"
    Outreach.objects.filter(pk=first.pk).update(status=OutreachStatus.SENT, sent_at=now)
    services.customer_unsubscribe(customer=lost.customer)

    result = services.outreach_plan(now=now + timedelta(days=1))

    assert result == services.PlanResult(0, 0, 0)
    assert list(Outreach.objects.values_list("attempt", flat=True)) == [1]


def test_a_suppressed_address_gets_no_later_attempt_planned(improved):
    lost = make_lost(reason="expectations", email="Kim@example.com")
    services.outreach_plan()
    first = Outreach.objects.get(lost_customer=lost)
    now = timezone.now()
    assert services.outreach_send(outreach_id=first.pk, now=now).status == "queued"
    Outreach.objects.filter(pk=first.pk).update(status=OutreachStatus.SENT, sent_at=now)
    Suppression.objects.create(email_hash=email_hash("kim@example.com"), source="erasure")

    assert services.outreach_plan(now=now + timedelta(days=1)) == services.PlanResult(0, 0, 0)
    assert Outreach.objects.count() == 1


def test_a_new_customer_record_with_a_suppressed_address_is_not_planned(improved):
    Suppression.objects.create(email_hash=email_hash("pat@example.com"), source="erasure")
    suppressed = make_lost(reason="expectations", email="PAT@Example.com")
    unsubscribed = make_lost(reason="expectations", email="sam@example.com")
    Suppression.objects.create(customer=unsubscribed.customer, source="unsubscribe_link")
    welcome = make_lost(reason="expectations", email="alex@example.com")

    result = services.outreach_plan()

    assert result == services.PlanResult(1, 0, 0)
    assert list(Outreach.objects.values_list("lost_customer_id", flat=True)) == [welcome.pk]
    assert not Outreach.objects.filter(lost_customer__in=[suppressed, unsubscribed]).exists()


def test_releasing_a_managers_group_skips_contacts_the_ordinary_group_forbids(improved):
    Campaign.objects.filter(pk=improved.pk).update(churn_groups=[ChurnGroup.PULLED_AWAY])
    lost = make_lost(reason="expectations")  # by the ordinary order: unintentionally pushed
    segmentation.lost_customers_resegment(
        queryset=LostCustomer.objects.filter(pk=lost.pk), churn_group=ChurnGroup.PULLED_AWAY
    )
    services.outreach_plan()
    assert Outreach.objects.get(lost_customer=lost).status == OutreachStatus.SCHEDULED

    segmentation.lost_customers_release_manager_groups(
        queryset=LostCustomer.objects.filter(pk=lost.pk)
    )

    outreach = Outreach.objects.get(lost_customer=lost)
    assert (outreach.status, outreach.skip_reason) == (
        OutreachStatus.SKIPPED,
        "group_not_contacted",
    )


def test_the_periodic_segmentation_skips_contacts_a_new_reason_group_forbids(improved):
    lost = make_lost(reason="expectations")
    services.outreach_plan()
    ExitReason.objects.filter(code="expectations").update(
        default_churn_group=ChurnGroup.DELIBERATELY_PUSHED
    )

    segmentation.lost_customers_segment()

    outreach = Outreach.objects.get(lost_customer=lost)
    assert (outreach.status, outreach.skip_reason) == (
        OutreachStatus.SKIPPED,
        "group_not_contacted",
    )


def test_a_manager_marking_deliberately_pushed_in_the_admin_skips_the_planned_contact(
    client, manager, improved
):
    lost = make_lost(reason="expectations")
    services.outreach_plan()
    client.force_login(manager)

    response = client.post(
        reverse("admin:winback_lostcustomer_changelist"),
        {"action": "resegment_deliberately_pushed", "_selected_action": [lost.pk]},
        follow=True,
    )

    assert response.status_code == 200
    outreach = Outreach.objects.get(lost_customer=lost)
    assert (outreach.status, outreach.skip_reason) == (
        OutreachStatus.SKIPPED,
        "group_not_contacted",
    )
    assert services.outreach_send(outreach_id=outreach.pk).status == "gone"
    assert mail.outbox == []
