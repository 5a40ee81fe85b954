"""Win-back outreach for the demo: what the planner and the send task would have done for
each lost customer, worked out in memory and written with COPY.

For every running campaign whose audience a lost customer is in (``campaign_audience``:
``winback.policy.plan_objection``), the first contact is planned when they were recorded
(``policy.first_contact_at``; the holdout, ``policy.in_holdout``, is planned and never
contacted). Each contact due before the demo's "now" is then made as ``outreach_send``
would make it: skipped for ``policy.skip_reason`` (where the law no longer allows it),
postponed by the frequency cap (``policy.postponed_until``), failed for a few (a bounce, a
call nobody answered), sent otherwise; a sent contact plans the campaign's next attempt.
Later contacts stay scheduled.
Win-back calls go through the agents' queue like any other call.
"""

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from heapq import heappop, heappush

from django.conf import settings
from django.utils import translation

from core.dates import add_months
from winback import messages, policy
from winback.enums import ConsentBasis, OutreachChannel, OutreachStatus, SkipReason
from winback.models import Campaign
from winback.services.sending import CALL_HINTS

# Per channel: the share (%) of contacts that failed, and the failure as the channel reports it.
FAILED = {
    OutreachChannel.EMAIL: (3, "550 5.1.1 mailbox unavailable"),
    OutreachChannel.PHONE: (30, "no answer"),
}
DELIVERY_DELAY = {
    OutreachChannel.EMAIL: timedelta(minutes=2),
    OutreachChannel.PHONE: timedelta(minutes=7),
}
# What falls due in the last minutes is left for the dispatcher's next sweep.
DISPATCH_LAG = timedelta(minutes=10)

OUTREACH_COLUMNS = (
    "id",
    "lost_customer_id",
    "campaign_id",
    "customer_id",
    "attempt",
    "channel",
    "due_at",
    "status",
    "enqueued_at",
    "contacted_at",
    "sent_at",
    "language",
    "email_id",
    "callback_id",
    "skip_reason",
    "error",
    "call_outcome",
    "created_at",
)


@dataclass(slots=True)
class Lost:
    """A lost customer, with what the planner and the send task look at."""

    id: int
    customer_id: int
    subscription_id: int
    left_at: datetime
    contract_months: int
    churn_group: str
    attractiveness: int
    reason_label: str
    reason_text: str
    consent: bool
    consent_at: datetime | None
    email: str
    phone: str
    country: str
    locale: str


@dataclass(slots=True)
class RunningCampaign:
    model: Campaign
    position: int
    groups: frozenset[str]
    earliest_left: datetime
    gap: timedelta
    offer: str

    @property
    def id(self) -> int:
        return self.model.pk

    def wants(self, lost: Lost, limits: dict[str, int]) -> bool:
        """``campaign_audience``: whether the lost customer is in this campaign's audience."""
        return (
            lost.attractiveness >= self.model.min_attractiveness
            and lost.left_at >= self.earliest_left
            and policy.plan_objection(self.facts(lost, limits)) is None
        )

    def facts(self, lost: Lost, limits: dict[str, int]) -> policy.ContactFacts:
        """What the policy looks at for a contact of this campaign with ``lost`` (in the
        demo nobody unsubscribes, and a contact is never made after a comeback)."""
        campaign = self.model
        return policy.ContactFacts(
            running=True,
            groups=self.groups,
            consent_required=campaign.consent_basis == ConsentBasis.CONSENT,
            channel=campaign.channel,
            churn_group=lost.churn_group,
            came_back=False,
            suppressed=False,
            consent=lost.consent,
            consent_at=lost.consent_at,
            left_at=lost.left_at,
            limit_months=limits.get(lost.country.upper()),
            has_email=bool(lost.email),
            has_phone=bool(lost.phone),
        )


def running_campaigns(now: datetime) -> list[RunningCampaign]:
    """The campaigns ``outreach_plan`` plans for today, in its order."""
    running = []
    for campaign in Campaign.objects.filter(active=True).order_by("pk"):
        if not campaign.runs_on(now.date()):
            continue
        groups = policy.contacted_groups(
            churn_groups=campaign.churn_groups,
            include_deliberately_pushed=campaign.include_deliberately_pushed,
        )
        with translation.override("en"):
            offer = messages.offer_text(campaign)
        running.append(
            RunningCampaign(
                model=campaign,
                position=len(running),
                groups=frozenset(groups),
                earliest_left=add_months(now, -campaign.max_months_after_leaving),
                gap=timedelta(days=campaign.min_days_between),
                offer=offer,
            )
        )
    return running


@dataclass(slots=True)
class Contact:
    """One outreach row while the win-back is played out."""

    campaign: RunningCampaign
    attempt: int
    due_at: datetime
    created_at: datetime
    status: str = OutreachStatus.SCHEDULED
    enqueued_at: datetime | None = None
    contacted_at: datetime | None = None
    sent_at: datetime | None = None
    skip_reason: str = ""
    error: str = ""
    call_outcome: str = ""
    id: int = 0
    next: "Contact | None" = field(default=None, repr=False)

    @property
    def channel(self) -> str:
        return self.campaign.model.channel

    def never_made(self) -> None:
        """The customer came back before it was due: the comeback skipped it."""
        self.status, self.skip_reason = OutreachStatus.SKIPPED, SkipReason.CAME_BACK
        self.enqueued_at = self.contacted_at = self.sent_at = None
        self.error = self.call_outcome = ""


class OutreachPlayer:
    """Plays each lost customer's outreach out up to the demo's now."""

    def __init__(self, *, campaigns: list[RunningCampaign], now: datetime, salt: int):
        self.campaigns = campaigns
        self.cutoff = now - DISPATCH_LAG
        self.salt = salt
        self.cap = timedelta(days=settings.TACK_WINBACK_FREQUENCY_CAP_DAYS)
        self.limits = {
            country.upper(): months
            for country, months in settings.TACK_WINBACK_CONTACT_LIMIT_MONTHS.items()
        }

    def play(self, lost: Lost) -> list[Contact]:
        """The lost customer's outreach rows, in the order they were planned."""
        contacts: list[Contact] = []
        due: list[tuple] = []
        for campaign in self.campaigns:
            if not campaign.wants(lost, self.limits):
                continue
            model = campaign.model
            first = policy.first_contact_at(
                timing=model.timing,
                first_contact_days=model.first_contact_days,
                campaign_contract_months=model.contract_months,
                left_at=lost.left_at,
                contract_months=lost.contract_months,
            )
            contact = Contact(campaign, 1, first, lost.left_at)
            contacts.append(contact)
            if policy.in_holdout(
                campaign_id=model.pk,
                holdout_percent=model.holdout_percent,
                lost_customer_id=lost.id,
            ):
                contact.status = OutreachStatus.HOLDOUT
            else:
                heappush(due, (first, campaign.position, 1, contact))
        last_contact = None
        while due:
            at, position, attempt, contact = heappop(due)
            if at > self.cutoff:
                continue
            contact.enqueued_at = at
            reason = policy.skip_reason(contact.campaign.facts(lost, self.limits), now=at)
            if reason is not None:
                contact.status, contact.skip_reason = OutreachStatus.SKIPPED, reason
                continue
            later = policy.postponed_until(last_contact_at=last_contact, now=at, cap=self.cap)
            if later is not None:
                contact.due_at = contact.enqueued_at = later
                heappush(due, (contact.due_at, position, attempt, contact))
                continue
            if self._fails(lost, contact):
                contact.status, contact.contacted_at = OutreachStatus.FAILED, at
                contact.error = FAILED[contact.channel][1]
                continue
            contact.status, contact.contacted_at = OutreachStatus.SENT, at
            contact.sent_at = at + DELIVERY_DELAY[contact.channel]
            if contact.channel == OutreachChannel.PHONE:
                contact.call_outcome = "not interested"
            last_contact = at
            if attempt < contact.campaign.model.max_attempts:
                following = Contact(contact.campaign, attempt + 1, at + contact.campaign.gap, at)
                contact.next = following
                contacts.append(following)
                heappush(due, (following.due_at, position, attempt + 1, following))
        return contacts

    def _fails(self, lost: Lost, contact: Contact) -> bool:
        bucket = (
            lost.customer_id * 7919 + contact.campaign.id * 104_729 + contact.attempt * 31
        ) + self.salt
        return bucket % 100 < FAILED[contact.channel][0]


def call_hints(lost: Lost, campaign: RunningCampaign) -> str:
    """What ``_queue_call`` tells the agent."""
    hints = [CALL_HINTS[lost.churn_group]]
    if lost.reason_label:
        hints.append(f"They left because: {lost.reason_label}.")
    if lost.reason_text:
        hints.append(f"In their words: {lost.reason_text}")
    if campaign.model.improvements_en:
        hints.append(f"What has improved: {campaign.model.improvements_en}")
    if campaign.offer:
        hints.append(f"Come-back offer: {campaign.offer}.")
    return "\n".join(hints)[:2000]
