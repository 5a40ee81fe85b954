"""A year of win-back for the demo, consistent with the seeded ledger.

The cancelled subscriptions become lost customers through the real segmentation, the shipped
campaigns plan their outreach through the real planner, and every contact that fell due
before the demo's "now" is then marked as made (a few bounced or went unanswered) with
set-based UPDATEs, round by round, so follow-up attempts are planned from the contacts made.
A bounded sample of lost customers comes back through the real come-back service, dated
shortly after a contact (attributed) or some time after leaving (organic).
"""

from collections import defaultdict
from datetime import datetime, timedelta

from django.conf import settings
from django.db import connection
from django.db.models import Exists, F, OuterRef, Subquery

from cancellations.models import CancellationCase
from core.dates import add_months
from demo.writer import reset_sequences
from subscriptions.actors import Actor
from subscriptions.enums import Channel, EventKind
from subscriptions.models import Customer, Subscription, SubscriptionEvent
from winback import segmentation, services
from winback.enums import OutreachChannel, OutreachStatus
from winback.models import Comeback, LostCustomer, Outreach

# Per channel: the share (%) of contacts that failed, and the failure as the channel reports it.
FAILED = {
    OutreachChannel.EMAIL: (3, "550 5.1.1 mailbox unavailable"),
    OutreachChannel.PHONE: (30, "no answer"),
}
DELIVERY_DELAY = {
    OutreachChannel.EMAIL: timedelta(minutes=2),
    OutreachChannel.PHONE: timedelta(minutes=7),
}
CONTACTED_COMEBACK_SHARE = 0.065
ORGANIC_COMEBACK_SHARE = 0.02
# Comebacks go through the real service one by one, so there are never more than this.
MAX_COMEBACKS = 300
MAX_ROUNDS = 8


def seed_winback(ctx) -> None:
    from django.apps import apps

    from winback.defaults import ensure_default_campaigns

    now = ctx.now
    ensure_default_campaigns(apps)
    # Holdouts are drawn from lost customers' ids: start them where a fresh database would.
    reset_sequences("winback_lostcustomer", "winback_outreach", "winback_comeback")
    _analyze(Customer, Subscription, CancellationCase)
    segmentation.lost_customers_record(now=now)
    _analyze(LostCustomer)
    segmentation.lost_customers_segment()
    segmentation.lost_customers_score(now=now)
    # Recorded by the nightly refresh soon after they left, not all at once today.
    LostCustomer.objects.update(created_at=F("left_at"))
    ctx.progress("win-back", 1, 3)

    salt = ctx.rng.randrange(100)
    for _ in range(MAX_ROUNDS):
        services.outreach_plan(now=now)
        # What falls due in the last minutes is left for the dispatcher's next sweep.
        due = Outreach.objects.filter(
            status=OutreachStatus.SCHEDULED, due_at__lte=now - timedelta(minutes=10)
        )
        if not due.exists():
            break
        _contact(due, salt)
    _date_plans()
    _analyze(Outreach)
    ctx.progress("win-back", 2, 3)

    comebacks = _comebacks(ctx)
    ctx.progress("win-back", 3, 3)
    ctx.counts["lost customers"] = LostCustomer.objects.count()
    ctx.counts["outreach"] = Outreach.objects.count()
    ctx.counts["comebacks"] = comebacks
    if "ledger events" in ctx.counts:
        ctx.counts["ledger events"] += SubscriptionEvent.objects.filter(
            subscription__comebacks__isnull=False,
            created_at__gte=F("subscription__comebacks__at"),
        ).count()


def _analyze(*models) -> None:
    """Give the query planner statistics for rows this transaction just loaded (autovacuum
    cannot see them before the commit); without them it picks plans that take minutes."""
    if connection.vendor != "postgresql":
        return
    with connection.cursor() as cursor:
        for model in models:
            cursor.execute(f"ANALYZE {model._meta.db_table}")


def _contact(due, salt: int) -> None:
    """Make the due contacts: skip those the law no longer allows, fail a few, send the rest."""
    _skip_closed_windows(due)
    locale = Subquery(Customer.objects.filter(pk=OuterRef("customer_id")).values("locale")[:1])
    bucket = (F("customer_id") * 7919 + F("campaign_id") * 104_729 + F("attempt") * 31 + salt) % 100
    for channel, (percent, error) in FAILED.items():
        due.filter(channel=channel).alias(bucket=bucket).filter(bucket__lt=percent).update(
            status=OutreachStatus.FAILED, contacted_at=F("due_at"), language=locale, error=error
        )
        due.filter(channel=channel).update(
            status=OutreachStatus.SENT,
            contacted_at=F("due_at"),
            sent_at=F("due_at") + DELIVERY_DELAY[channel],
            language=locale,
            call_outcome="not interested" if channel == OutreachChannel.PHONE else "",
        )


def _skip_closed_windows(due) -> None:
    """Where the law limits contact after leaving (TACK_WINBACK_CONTACT_LIMIT_MONTHS), the
    send task would have skipped it: nobody in the demo gave fresh consent after leaving."""
    for country, months in settings.TACK_WINBACK_CONTACT_LIMIT_MONTHS.items():
        rows = due.filter(customer__country__iexact=country).values_list(
            "pk", "due_at", "lost_customer__left_at"
        )
        closed = [pk for pk, due_at, left_at in rows if due_at > add_months(left_at, months)]
        for start in range(0, len(closed), 5000):
            Outreach.objects.filter(pk__in=closed[start : start + 5000]).update(
                status=OutreachStatus.SKIPPED, skip_reason="contact_window_passed"
            )


def _date_plans() -> None:
    """A first contact was planned when its lost customer was recorded; a follow-up when the
    contact before it was made."""
    left = LostCustomer.objects.filter(pk=OuterRef("lost_customer_id")).values("left_at")[:1]
    Outreach.objects.filter(attempt=1).update(created_at=Subquery(left))
    previous = Outreach.objects.filter(
        lost_customer=OuterRef("lost_customer_id"),
        campaign=OuterRef("campaign_id"),
        attempt=OuterRef("attempt") - 1,
    ).values("contacted_at")[:1]
    Outreach.objects.filter(attempt__gt=1).update(created_at=Subquery(previous))


def _comebacks(ctx) -> int:
    rng, now = ctx.rng, ctx.now
    contacts: dict[int, list[datetime]] = defaultdict(list)
    for lost_id, contacted_at in (
        Outreach.objects.filter(
            status=OutreachStatus.SENT, contacted_at__lte=now - timedelta(days=1)
        )
        .order_by("lost_customer__subscription_id", "contacted_at", "campaign_id")
        .values_list("lost_customer_id", "contacted_at")
    ):
        contacts[lost_id].append(contacted_at)
    earliest_holdout = (
        Outreach.objects.filter(lost_customer=OuterRef("pk"), status=OutreachStatus.HOLDOUT)
        .order_by("due_at")
        .values("due_at")[:1]
    )
    uncontacted = [
        (lost_id, max(left_at, holdout_due or left_at))
        for lost_id, left_at, holdout_due in LostCustomer.objects.filter(came_back_at=None)
        .exclude(
            Exists(
                Outreach.objects.filter(lost_customer=OuterRef("pk"), contacted_at__isnull=False)
            )
        )
        .annotate(holdout_due=Subquery(earliest_holdout))
        .order_by("subscription_id")
        .values_list("pk", "left_at", "holdout_due")
    ]
    uncontacted = [
        (lost_id, base) for lost_id, base in uncontacted if base < now - timedelta(days=2)
    ]

    attributed = _share(len(contacts), CONTACTED_COMEBACK_SHARE)
    organic = _share(len(uncontacted), ORGANIC_COMEBACK_SHARE)
    if attributed + organic > MAX_COMEBACKS:
        scale = MAX_COMEBACKS / (attributed + organic)
        attributed, organic = int(attributed * scale), int(organic * scale)

    plans: list[tuple[int, datetime]] = []
    for lost_id in rng.sample(list(contacts), attributed):
        contacted_at = rng.choice(contacts[lost_id])
        at = contacted_at + timedelta(hours=rng.randrange(2, 21 * 24), minutes=rng.randrange(60))
        plans.append((lost_id, min(at, now - timedelta(hours=1))))
    for lost_id, base in rng.sample(uncontacted, organic):
        span = min(now - base, timedelta(days=180))
        plans.append(
            (lost_id, base + timedelta(seconds=rng.randrange(86_400, int(span.total_seconds()))))
        )

    lost_customers = LostCustomer.objects.in_bulk([lost_id for lost_id, _ in plans])
    for n, (lost_id, at) in enumerate(plans, start=1):
        _come_back(lost_customers[lost_id], at, now)
        if n % 50 == 0:
            ctx.progress("comebacks", n, len(plans))
    # Contacts that fell due after a comeback were skipped by the send task.
    Outreach.objects.filter(
        lost_customer__came_back_at__isnull=False, due_at__gt=F("lost_customer__came_back_at")
    ).exclude(status=OutreachStatus.HOLDOUT).update(
        status=OutreachStatus.SKIPPED,
        skip_reason="came_back",
        contacted_at=None,
        sent_at=None,
        language="",
        error="",
        call_outcome="",
    )
    return len(plans)


def _share(candidates: int, share: float) -> int:
    return max(1, round(candidates * share)) if candidates else 0


def _come_back(lost: LostCustomer, at: datetime, now: datetime) -> Comeback:
    outreach = services.attributed_outreach(lost_customer=lost, now=at)
    if outreach is not None and outreach.channel == OutreachChannel.PHONE:
        actor = Actor(channel=Channel.PHONE, label="agent")
    else:
        actor = Actor.customer(Channel.WEB)
    comeback = services.comeback_record(lost_customer=lost, actor=actor, outreach=outreach, now=at)
    if outreach is not None and outreach.channel == OutreachChannel.PHONE:
        Outreach.objects.filter(pk=outreach.pk).update(call_outcome="came back")
    _catch_up(comeback.subscription_id, at, now)
    return comeback


def _catch_up(subscription_id: int, at: datetime, now: datetime) -> None:
    """What happened to the subscription between the comeback and the demo's now: the ledger
    rows the offer wrote are dated at the comeback (a credit takes no time of its own), an
    ended discount ended on its day, and the billing period has rolled on."""
    subscription = Subscription.objects.get(pk=subscription_id)
    reactivated = subscription.events.filter(kind=EventKind.REACTIVATED).order_by("-sequence")
    subscription.events.filter(sequence__gt=reactivated.values("sequence")[:1]).update(
        created_at=at
    )
    updates = {}
    if subscription.discount_until is not None and subscription.discount_until <= now:
        last = subscription.events.order_by("-sequence").first()
        after = {**last.after, "discount_percent": 0, "discount_until": None}
        SubscriptionEvent.objects.create(
            subscription=subscription,
            sequence=last.sequence + 1,
            kind=EventKind.UPDATED,
            channel=Channel.SYSTEM,
            actor_label="scheduler",
            before=last.after,
            after=after,
            note="discount ended",
            created_at=subscription.discount_until,
        )
        updates.update(discount_percent=0, discount_until=None)
    period_end = subscription.current_period_end
    while period_end <= now:
        period_end = add_months(period_end, 1)
    updates["current_period_end"] = period_end
    Subscription.objects.filter(pk=subscription.pk).update(**updates)
