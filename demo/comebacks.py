"""Lost customers who came back, for the demo, as ``winback.services.comeback_record``
records them: the reactivation and the campaign's come-back offer in the ledger, the
comeback attributed to the last contact within the attribution window (else organic),
contacts still planned skipped — worked out in memory and written set-based.

Some contacted customers come back within three weeks of a contact (a win-back call that
worked comes back on the call); a few nobody contacted, the holdouts among them, come back
on their own.
"""

from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

from django.conf import settings
from django.db.models import Exists, Max, OuterRef, Subquery

from demo.cases import Agent
from demo.dates import months_after, period_end_after
from demo.history import (
    CUSTOMER_ON_THE_WEB,
    EVENT_COLUMNS,
    SCHEDULER,
    Actor,
    BookPlan,
    Ledger,
    Life,
    on_the_phone,
)
from demo.outreach import Contact, Lost
from demo.writer import IdCounter, next_id, update_rows, write_rows
from subscriptions.models import Plan, SubscriptionEvent
from winback.enums import OutreachChannel, OutreachStatus
from winback.models import Comeback, LostCustomer

CENT = Decimal("0.01")
CONTACTED_COMEBACK_SHARE = 0.065
ORGANIC_COMEBACK_SHARE = 0.02
COMEBACK_COLUMNS = (
    "id",
    "lost_customer_id",
    "customer_id",
    "subscription_id",
    "at",
    "outreach_id",
    "campaign_id",
    "channel",
    "monthly_amount",
    "offer_cost",
    "value",
    "currency",
)
REACTIVATED_FIELDS = [
    "status",
    "monthly_amount",
    "cancelled_at",
    "cancelled_by",
    "discount_percent",
    "discount_until",
    "current_period_end",
]


@dataclass(slots=True)
class Return:
    """A lost customer coming back: when, the contact it is attributed to, and who recorded it."""

    lost: Lost
    at: datetime
    attributed: Contact | None
    actor: Actor


class Comebacks:
    """Decides who comes back while the outreach is played out, then writes the comebacks."""

    def __init__(self, *, rng, now: datetime, agents: list[Agent]):
        self.rng = rng
        self.random = rng.random
        self.now = now
        self.agents = agents
        self.window = timedelta(days=settings.TACK_WINBACK_ATTRIBUTION_DAYS)
        self.returns: list[Return] = []

    def decide(self, lost: Lost, contacts: list[Contact]) -> list[Contact]:
        """Whether ``lost`` comes back; returns the outreach rows as coming back left them."""
        at, by_phone = self._when(lost, contacts)
        if at is None:
            return contacts
        # What was planned after the comeback never was; what was due after it was skipped.
        contacts = [contact for contact in contacts if contact.created_at <= at]
        for contact in contacts:
            if contact.due_at > at and contact.status != OutreachStatus.HOLDOUT:
                contact.never_made()
        attributed = max(
            (
                contact
                for contact in contacts
                if contact.status == OutreachStatus.SENT
                and at - self.window <= contact.contacted_at <= at
            ),
            key=lambda contact: contact.contacted_at,
            default=None,
        )
        if by_phone:
            attributed.call_outcome = "came back"
            actor = on_the_phone(self.agents[int(self.random() * len(self.agents))])
        else:
            actor = CUSTOMER_ON_THE_WEB
        self.returns.append(Return(lost, at, attributed, actor))
        return contacts

    def _when(self, lost: Lost, contacts: list[Contact]) -> tuple[datetime | None, bool]:
        day_ago = self.now - timedelta(days=1)
        made = [
            c for c in contacts if c.status == OutreachStatus.SENT and c.contacted_at <= day_ago
        ]
        if made:
            if self.random() >= CONTACTED_COMEBACK_SHARE:
                return None, False
            contact = made[int(self.random() * len(made))]
            if contact.channel == OutreachChannel.PHONE:
                return contact.sent_at, True
            later = timedelta(hours=self.rng.randrange(2, 21 * 24), minutes=self.rng.randrange(60))
            return min(contact.contacted_at + later, self.now - timedelta(hours=1)), False
        if any(contact.contacted_at is not None for contact in contacts):
            return None, False
        holdouts = [c.due_at for c in contacts if c.status == OutreachStatus.HOLDOUT]
        base = max(lost.left_at, min(holdouts, default=lost.left_at))
        if base >= self.now - timedelta(days=2) or self.random() >= ORGANIC_COMEBACK_SHARE:
            return None, False
        span = min(self.now - base, timedelta(days=180))
        return base + timedelta(
            seconds=self.rng.randrange(86_400, int(span.total_seconds()))
        ), False

    def write(self) -> int:
        """Write the comebacks, their ledger rows and reactivated subscriptions; returns how
        many ledger rows were written."""
        if not self.returns:
            return 0
        lives = _lives([back.lost.id for back in self.returns])
        ids = IdCounter(
            {
                "event": next_id("subscriptions_subscriptionevent"),
                "comeback": next_id("winback_comeback"),
            }
        )
        events: list[tuple] = []
        ledger = Ledger(events, ids)
        comebacks, subscriptions = [], []
        for back in self.returns:
            life = lives[back.lost.id]
            campaign = back.attributed.campaign.model if back.attributed else None
            offer_cost = _come_back(ledger, life, back.at, back.actor, campaign, self.now)
            comebacks.append(
                (
                    ids.next("comeback"),
                    back.lost.id,
                    life.customer_id,
                    life.id,
                    back.at,
                    back.attributed.id if back.attributed else None,
                    campaign.pk if campaign else None,
                    back.actor.channel,
                    life.amount,
                    offer_cost,
                    (life.amount * 12 - offer_cost).quantize(CENT),
                    "SEK",
                )
            )
            subscriptions.append(_reactivated(life, back.at, self.now))
        write_rows("winback_comeback", COMEBACK_COLUMNS, comebacks)
        write_rows("subscriptions_subscriptionevent", EVENT_COLUMNS, events)
        update_rows("subscriptions_subscription", REACTIVATED_FIELDS, subscriptions)
        came_back = Comeback.objects.filter(lost_customer=OuterRef("pk")).values("at")[:1]
        LostCustomer.objects.filter(
            Exists(Comeback.objects.filter(lost_customer=OuterRef("pk")))
        ).update(came_back_at=Subquery(came_back))
        return len(events)


def _lives(lost_ids: list[int]) -> dict[int, Life]:
    """The lost customers' subscriptions as they stand (cancelled), to write their ledger on."""
    plans = {
        plan.pk: BookPlan(
            plan.pk, plan.code, plan.name, plan.monthly_price, plan.rank, plan.contract_months
        )
        for plan in Plan.objects.all()
    }
    last = (
        SubscriptionEvent.objects.filter(subscription=OuterRef("subscription_id"))
        .values("subscription")
        .annotate(last=Max("sequence"))
        .values("last")
    )
    lives = {}
    for start in range(0, len(lost_ids), 500):
        rows = (
            LostCustomer.objects.filter(pk__in=lost_ids[start : start + 500])
            .annotate(sequence=Subquery(last))
            .values_list(
                "pk",
                "subscription_id",
                "customer_id",
                "customer__locale",
                "customer__customer_since",
                "subscription__started_at",
                "subscription__plan_id",
                "subscription__monthly_amount",
                "subscription__cancelled_at",
                "sequence",
            )
        )
        for pk, subscription, customer, locale, since, started, plan, amount, left, seq in rows:
            life = Life(subscription, customer, locale, since, started, plans[plan], amount)
            life.status, life.cancelled_at, life.sequence = "cancelled", left, seq
            lives[pk] = life
    return lives


def _come_back(ledger: Ledger, life: Life, at, actor, campaign, now) -> Decimal:
    """``subscription_reactivate`` at the plan's price, then the campaign's come-back offer;
    returns what the offer cost."""
    before = life.snapshot()
    life.status, life.cancelled_at, life.amount = "active", None, life.plan.price
    ledger.write(life, "reactivated", at, actor, before, amount=life.amount, note="win-back")
    if campaign is None or not campaign.offer_kind:
        return Decimal("0")
    before = life.snapshot()
    if campaign.offer_kind != "discount":
        note = "win-back: a free month"
        ledger.write(life, "credit_granted", at, actor, before, amount=life.amount, note=note)
        return life.amount
    percent, months = campaign.offer_percent, campaign.offer_months
    life.discount_percent, life.discount_until = percent, months_after(at, months)
    value = (life.amount * percent / 100 * months).quantize(CENT)
    ledger.write(life, "discount_granted", at, actor, before, amount=value)
    if life.discount_until <= now:
        ended = life.discount_until
        before = life.snapshot()
        life.discount_percent, life.discount_until = 0, None
        ledger.write(life, "updated", ended, SCHEDULER, before, note="discount ended")
    return value


def _reactivated(life: Life, at: datetime, now: datetime) -> tuple:
    """The subscription's REACTIVATED_FIELDS after coming back, then its id."""
    return (
        "active",
        life.amount,
        None,
        "",
        life.discount_percent,
        life.discount_until,
        period_end_after(at, now),
        life.id,
    )
