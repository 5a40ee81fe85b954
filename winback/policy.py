"""The win-back's contact rules as plain functions over plain data: when to contact first,
who is held out, the frequency cap, and why a planned contact must not be made.

No database and no settings: ``winback.services`` (planning, sending, re-checks after a
change) and the demo seeder (``demo.outreach``) pass what they know and get the same answer.
"""

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from core.dates import add_months
from winback.enums import ChurnGroup, ContactTiming, OutreachChannel, SkipReason


def in_holdout(*, campaign_id: int, holdout_percent: int, lost_customer_id: int) -> bool:
    """Deterministic: the same lost customer is always in (or out of) a campaign's holdout."""
    digest = hashlib.sha256(f"holdout:{campaign_id}:{lost_customer_id}".encode()).digest()
    return int.from_bytes(digest[:8], "big") % 10_000 < holdout_percent * 100


def first_contact_at(
    *,
    timing: str,
    first_contact_days: int,
    campaign_contract_months: int | None,
    left_at: datetime,
    contract_months: int,
) -> datetime:
    """When to contact first: a number of days after leaving, or contract months − 1 after."""  # noqa: RUF002
    if timing == ContactTiming.CONTRACT_END:
        months = (campaign_contract_months or contract_months) - 1
        return add_months(left_at, max(months, 1))
    return left_at + timedelta(days=first_contact_days)


def contacted_groups(*, churn_groups: Iterable[str], include_deliberately_pushed: bool) -> set[str]:
    """The churn groups a campaign contacts: those it targets, deliberately pushed-away
    customers only when it says so."""
    groups = {group for group in churn_groups if group in ChurnGroup.values}
    if not include_deliberately_pushed:
        groups.discard(ChurnGroup.DELIBERATELY_PUSHED)
    return groups


def postponed_until(
    *, last_contact_at: datetime | None, now: datetime, cap: timedelta
) -> datetime | None:
    """The frequency cap: when the next contact may be made, or None if it may be now."""
    if last_contact_at is None or last_contact_at <= now - cap:
        return None
    return last_contact_at + cap


def contact_window_passed(
    *,
    left_at: datetime,
    limit_months: int | None,
    consent: bool,
    consent_at: datetime | None,
    now: datetime,
) -> bool:
    """Whether the law's limit on contacting a former customer (months after leaving, per
    country) has passed; consent given after leaving lifts it."""
    if limit_months is None:
        return False
    fresh_consent = consent and consent_at is not None and consent_at > left_at
    return not fresh_consent and now > add_months(left_at, limit_months)


@dataclass(frozen=True, slots=True)
class ContactFacts:
    """A planned contact as the rules see it: the campaign's terms and the person's facts."""

    # the campaign
    running: bool  # ``Campaign.runs_on`` today
    groups: frozenset[str]  # ``contacted_groups``
    consent_required: bool
    channel: str
    # the lost customer and the person
    churn_group: str
    came_back: bool
    suppressed: bool  # unsubscribed, by customer or by address
    consent: bool
    consent_at: datetime | None
    left_at: datetime
    limit_months: int | None  # the contact limit of the customer's country
    has_email: bool
    has_phone: bool


def standing_objection(contact: ContactFacts) -> SkipReason | None:
    """What forbids the contact whatever the day: the person unsubscribed, or the campaign
    does not contact their churn group. Checked when contacts are planned, when a lost
    customer is re-segmented, and at send time."""
    if contact.suppressed:
        return SkipReason.UNSUBSCRIBED
    if contact.churn_group not in contact.groups:
        return SkipReason.GROUP_NOT_CONTACTED
    return None


def plan_objection(contact: ContactFacts) -> SkipReason | None:
    """Why a first contact must not even be planned: a standing objection, no consent
    where the campaign needs it, or no address for its channel."""
    if contact.consent_required and not contact.consent:
        return SkipReason.NO_CONSENT
    if contact.channel == OutreachChannel.EMAIL and not contact.has_email:
        return SkipReason.NO_EMAIL
    if contact.channel == OutreachChannel.PHONE and not contact.has_phone:
        return SkipReason.NO_PHONE
    return standing_objection(contact)


def skip_reason(contact: ContactFacts, *, now: datetime) -> SkipReason | None:
    """Why this contact must not be made now (None when it may), first reason first."""
    if not contact.running:
        return SkipReason.CAMPAIGN_NOT_RUNNING
    if contact.came_back:
        return SkipReason.CAME_BACK
    if contact.suppressed:
        return SkipReason.UNSUBSCRIBED
    if contact.consent_required and not contact.consent:
        return SkipReason.NO_CONSENT
    if contact_window_passed(
        left_at=contact.left_at,
        limit_months=contact.limit_months,
        consent=contact.consent,
        consent_at=contact.consent_at,
        now=now,
    ):
        return SkipReason.CONTACT_WINDOW_PASSED
    if contact.channel == OutreachChannel.EMAIL and not contact.has_email:
        return SkipReason.NO_EMAIL
    if contact.channel == OutreachChannel.PHONE and not contact.has_phone:
        return SkipReason.NO_PHONE
    return standing_objection(contact)


def runs_on(*, active: bool, starts_on: date | None, ends_on: date | None, day: date) -> bool:
    """Whether a campaign runs on ``day``."""
    return (
        active and (starts_on is None or starts_on <= day) and (ends_on is None or day <= ends_on)
    )
