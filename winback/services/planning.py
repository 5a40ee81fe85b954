"""Planning win-back contacts: first contacts for each running campaign's audience (or its
holdout), the next attempts after each contact made, and re-checking planned contacts when
what forbids them changes."""

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db import transaction
from django.db.models import Exists, OuterRef
from django.utils import timezone

from core.changes import changes_mark
from core.enums import ChangeKind
from winback import links, policy
from winback.enums import (
    OutreachStatus,
)
from winback.models import Campaign, Outreach, Suppression
from winback.selectors import (
    _suppressed_hashes,
    campaign_audience,
    campaign_groups,
    contact_facts,
    suppressed_among,
)


def in_holdout(*, campaign: Campaign, lost_customer_id: int) -> bool:
    """``policy.in_holdout`` for this campaign."""
    return policy.in_holdout(
        campaign_id=campaign.pk,
        holdout_percent=campaign.holdout_percent,
        lost_customer_id=lost_customer_id,
    )


def first_contact_at(*, campaign: Campaign, left_at: datetime, contract_months: int) -> datetime:
    """``policy.first_contact_at`` for this campaign."""
    return policy.first_contact_at(
        timing=campaign.timing,
        first_contact_days=campaign.first_contact_days,
        campaign_contract_months=campaign.contract_months,
        left_at=left_at,
        contract_months=contract_months,
    )


@dataclass(frozen=True)
class PlanResult:
    first_contacts: int
    holdouts: int
    next_attempts: int


def outreach_plan(*, now: datetime | None = None) -> PlanResult:
    """Plan first contacts for every running campaign's new audience, and the next attempt
    after each contact made (up to the campaign's attempts, at least its gap apart). Nobody
    suppressed (by customer or by email address) is planned, nor a next attempt for a churn
    group the campaign no longer contacts.

    Side effects: SCHEDULED (or HOLDOUT) outreach rows; change marks for the holdouts.

    Safe to run at any time and concurrently: the (lost customer, campaign, attempt) unique
    constraint turns a second plan of the same contact into a no-op.
    """
    now = now or timezone.now()
    first = holdouts = following = 0
    suppressed = _suppressed_hashes()
    for campaign in Campaign.objects.filter(active=True):
        if not campaign.runs_on(timezone.localdate(now)):
            continue
        rows = []
        for pk, left_at, contract, customer_id, locale, email in (
            campaign_audience(campaign=campaign, now=now)
            .values_list(
                "pk",
                "left_at",
                "contract_months",
                "customer_id",
                "customer__locale",
                "customer__email",
            )
            .iterator(chunk_size=5000)
        ):
            if suppressed and links.email_hash(email) in suppressed:
                continue
            holdout = in_holdout(campaign=campaign, lost_customer_id=pk)
            rows.append(
                Outreach(
                    lost_customer_id=pk,
                    campaign=campaign,
                    customer_id=customer_id,
                    attempt=1,
                    channel=campaign.channel,
                    due_at=first_contact_at(
                        campaign=campaign, left_at=left_at, contract_months=contract
                    ),
                    status=OutreachStatus.HOLDOUT if holdout else OutreachStatus.SCHEDULED,
                    # The language it would be (or was) sent in; holdouts keep it too, so
                    # the dashboard compares each message with its own holdout.
                    language=locale,
                    created_at=now,
                )
            )
            holdouts += holdout
        with transaction.atomic():
            first += len(Outreach.objects.bulk_create(rows, batch_size=2000, ignore_conflicts=True))
            changes_mark(
                kind=ChangeKind.LOST_CUSTOMER,
                ids=(row.lost_customer_id for row in rows if row.status == OutreachStatus.HOLDOUT),
            )
        following += _plan_next_attempts(campaign, now, suppressed)
    return PlanResult(first - holdouts, holdouts, following)


def _plan_next_attempts(campaign: Campaign, now: datetime, suppressed: set[str]) -> int:
    """Plan the next attempt after each contact made, unless the person is suppressed (by
    customer, or by the email hashes in ``suppressed``) or the campaign no longer contacts
    their churn group. Returns how many were planned."""
    if campaign.max_attempts < 2:
        return 0
    done = Outreach.objects.filter(
        campaign=campaign,
        status=OutreachStatus.SENT,
        attempt__lt=campaign.max_attempts,
        lost_customer__came_back_at__isnull=True,
        lost_customer__churn_group__in=sorted(campaign_groups(campaign)),
    ).filter(
        ~Exists(
            Outreach.objects.filter(
                lost_customer=OuterRef("lost_customer_id"),
                campaign=campaign,
                attempt=OuterRef("attempt") + 1,
            )
        ),
        ~Exists(Suppression.objects.filter(customer=OuterRef("customer_id"))),
    )
    done_rows = done.values_list(
        "lost_customer_id", "customer_id", "attempt", "contacted_at", "language", "customer__email"
    )
    gap = timedelta(days=campaign.min_days_between)
    rows = [
        Outreach(
            lost_customer_id=lost_id,
            campaign=campaign,
            customer_id=customer_id,
            attempt=attempt + 1,
            channel=campaign.channel,
            due_at=contacted_at + gap,
            language=language,
            created_at=now,
        )
        for lost_id, customer_id, attempt, contacted_at, language, email in done_rows
        if not (suppressed and links.email_hash(email) in suppressed)
    ]
    return len(Outreach.objects.bulk_create(rows, batch_size=2000, ignore_conflicts=True))


@transaction.atomic
def outreach_skip_forbidden(*, lost_customer_ids: list[int], now: datetime | None = None) -> int:
    """Re-check the contacts still planned for these lost customers after a change (a
    re-segmentation): those a standing objection now forbids (``policy.standing_objection``:
    unsubscribed, a churn group the campaign does not contact) are skipped with the reason.

    Side effects: SCHEDULED outreach rows become SKIPPED. Returns how many.
    """
    now = now or timezone.now()
    rows = list(
        Outreach.objects.select_for_update(of=("self",))
        .select_related("campaign", "lost_customer__subscription", "customer")
        .filter(lost_customer_id__in=lost_customer_ids, status=OutreachStatus.SCHEDULED)
    )
    suppressed = suppressed_among(list({row.customer_id: row.customer for row in rows}.values()))
    skipped = defaultdict(list)
    for row in rows:
        facts = contact_facts(
            outreach=row, customer=row.customer, now=now, suppressed=row.customer_id in suppressed
        )
        reason = policy.standing_objection(facts)
        if reason:
            skipped[reason].append(row.pk)
    for reason, ids in skipped.items():
        Outreach.objects.filter(pk__in=ids, status=OutreachStatus.SCHEDULED).update(
            status=OutreachStatus.SKIPPED, skip_reason=reason
        )
    return sum(len(ids) for ids in skipped.values())
