"""The dashboard's figures read straight from the recorded cases, offers, ledger and outreach.

This is the reference: every figure is SQL aggregation over the raw rows, each family of
breakdowns one statement (a UNION ALL of GROUP BYs). The dashboard reads the daily rollups
instead (``retention.rollups``), which must give exactly these answers; the tests and
``bench/dashboard.py`` hold the two side by side. The expressions that define a fact (a
case's churn group, its tenure band, whether a save held, whether a contact won someone
back) live here and are what the rollups are built from.

Both sources answer the same questions (see ``retention.selectors.Source``):
``case_totals``, ``case_breakdown_rows``, ``offer_rows``, ``funnel``,
``winback_breakdown_rows``, ``winback_totals`` and ``trend_rows``.
"""

from dataclasses import replace
from datetime import date, datetime, timedelta
from decimal import Decimal

from django.db.models import (
    Case,
    CharField,
    Count,
    DateField,
    DecimalField,
    F,
    Func,
    IntegerField,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Sum,
    Value,
    When,
)
from django.db.models.functions import (
    Cast,
    Coalesce,
    Floor,
    Greatest,
    Least,
    NullIf,
    TruncDate,
    TruncMonth,
    TruncWeek,
)
from django.db.models.lookups import IsNull
from django.utils import timezone

from cancellations.enums import CaseOutcome
from cancellations.models import CancellationCase, Offer
from retention.periods import Filters, day_start
from subscriptions.enums import LEAVE_KINDS
from subscriptions.models import Subscription, SubscriptionEvent
from winback.enums import OutreachStatus
from winback.models import Comeback, Outreach
from winback.segmentation import FALLBACK_GROUP, churn_group_rules

ZERO = Decimal("0")
MONEY = DecimalField(max_digits=16, decimal_places=2)
VERIFY_DAYS = (30, 60, 90)
TENURE_BANDS = [(12, "0–1 years"), (36, "1–3 years"), (60, "3–5 years")]
DECIDED = (CaseOutcome.SAVED, CaseOutcome.CANCELLED, CaseOutcome.ABANDONED)
CONTACTED = (OutreachStatus.QUEUED, OutreachStatus.SENT)
SAVED = Q(outcome=CaseOutcome.SAVED)
NO_INT = Value(0, output_field=IntegerField())
NO_MONEY = Value(ZERO, output_field=MONEY)


def money_sum(expression, **kwargs):
    return Coalesce(Sum(expression, **kwargs), ZERO, output_field=MONEY)


def int_sum(expression, **kwargs):
    return Coalesce(Sum(expression, **kwargs), 0, output_field=IntegerField())


# --- Facts about one case --------------------------------------------------------------


def case_churn_group(prefix: str = ""):
    """A case's churn group: the agent's judgment, the reason's default, or the rules."""
    rules = churn_group_rules(
        category=f"{prefix}reason__category", competitor=f"{prefix}competitor"
    )
    return Coalesce(
        NullIf(F(f"{prefix}churn_group"), Value("")),
        NullIf(F(f"{prefix}reason__default_churn_group"), Value("")),
        Case(
            *(When(condition, then=Value(group)) for condition, group in rules),
            default=Value(FALLBACK_GROUP),
            output_field=CharField(),
        ),
    )


def tenure_band():
    return Case(
        *(When(tenure_months__lt=limit, then=Value(label)) for limit, label in TENURE_BANDS),
        default=Value("5+ years"),
        output_field=CharField(),
    )


def left_at():
    """For a saved case: when its subscription next asked to cancel, or was cancelled (one
    probe of the ledger's index of leave events per saved case; other cases are not looked
    up)."""
    first_leave = (
        SubscriptionEvent.objects.filter(
            subscription_id=OuterRef("subscription_id"),
            kind__in=LEAVE_KINDS,
            created_at__gt=OuterRef("decided_at"),
        )
        .order_by("created_at")
        .values("created_at")[:1]
    )
    return Case(When(SAVED, then=Subquery(first_leave)), default=None)


def left_within(days: int) -> Q:
    """A saved case whose subscription asked to leave within ``days`` of the save (needs the
    ``left_at`` annotation)."""
    return SAVED & Q(left_at__lte=F("decided_at") + timedelta(days=days))


def stayed(days: int) -> Q:
    """The opposite of ``left_within`` for a saved case (a save that never left has no
    ``left_at``, which a negated comparison would miss)."""
    return Q(left_at__isnull=True) | Q(left_at__gt=F("decided_at") + timedelta(days=days))


def outcome_counts(prefix: str = "", extra: Q | None = None) -> dict:
    extra = extra or Q()
    return {
        f"{prefix}{outcome}": Count("pk", filter=extra & Q(outcome=outcome)) for outcome in DECIDED
    }


# A lost customer comes back at most once (Comeback is one-to-one), so these are plain
# conditions over a LEFT JOIN rather than a subquery per outreach row.
CAME_BACK_AFTER_CONTACT = Q(lost_customer__comeback__at__gte=F("contacted_at"))
CAME_BACK_AFTER_PLAN = Q(lost_customer__comeback__at__gte=F("due_at"))
ATTRIBUTED_TO_CAMPAIGN = Q(lost_customer__comeback__campaign_id=F("campaign_id"))
ATTRIBUTED_TO_CONTACT = Q(lost_customer__comeback__outreach_id=F("pk"))
ATTRIBUTED = Q(outreach__isnull=False)  # a comeback through a contact, not organic


# --- Cases ---------------------------------------------------------------------------


def _cases(filters: Filters) -> QuerySet[CancellationCase]:
    cases = CancellationCase.objects.annotate(group=case_churn_group())
    if filters.channel:
        cases = cases.filter(channel=filters.channel)
    if filters.plan:
        cases = cases.filter(plan_id=filters.plan)
    if filters.churn_group:
        cases = cases.filter(group=filters.churn_group)
    return cases


def decided_cases(filters: Filters) -> QuerySet[CancellationCase]:
    return _cases(filters).filter(
        decided_at__gte=filters.since, decided_at__lt=filters.until, outcome__in=DECIDED
    )


def case_totals(filters: Filters, *, today: date) -> dict[str, dict]:
    """Totals, by channel, money and billing verification, for the period ("current") and
    the one before it ("previous"): one query (a UNION ALL of the two aggregates)."""
    aggregates = {
        **outcome_counts(),
        **outcome_counts("web_", Q(channel="web")),
        **outcome_counts("phone_", Q(channel="phone")),
        **outcome_counts("api_", Q(channel="api")),
        "kept_monthly": money_sum("monthly_amount", filter=SAVED),
        "offer_cost": money_sum("accepted_offer__accepted_cost", filter=SAVED),
    }
    for days in VERIFY_DAYS:
        eligible = SAVED & Q(decided_at__lt=day_start(today - timedelta(days=days - 1)))
        aggregates[f"eligible_{days}"] = Count("pk", filter=eligible)
        aggregates[f"kept_{days}"] = Count("pk", filter=eligible & stayed(days))
    parts = [
        decided_cases(period)
        .annotate(left_at=left_at(), series=Value(series))
        .values("series")
        .annotate(**aggregates)
        .order_by()
        for series, period in filters.with_previous()
    ]
    return {row.pop("series"): row for row in parts[0].union(parts[1], all=True)}


CASE_KEYS = {
    "reason": Cast(F("reason__label_en"), CharField()),
    "churn_group": F("group"),
    "offer_kind": Cast(F("accepted_offer__kind"), CharField()),
    "offer_rule": Cast(F("accepted_offer__rule__name"), CharField()),
    "channel": Cast(F("channel"), CharField()),
    "plan": Cast(F("plan__name"), CharField()),
    "tenure": tenure_band(),
    "agent": Cast(F("actor__username"), CharField()),
}


def case_breakdown_rows(filters: Filters) -> list[dict]:
    """Saved / cancelled / abandoned and revenue kept by every dimension: one UNION ALL."""
    base = decided_cases(filters)
    parts = [
        base.annotate(dimension=Value(name), key=Coalesce(expression, Value("")))
        .values("dimension", "key")
        .annotate(**outcome_counts(), kept_monthly=money_sum("monthly_amount", filter=SAVED))
        .order_by()
        for name, expression in CASE_KEYS.items()
    ]
    return list(parts[0].union(*parts[1:], all=True))


def offer_rows(filters: Filters) -> list[dict]:
    """Per offer kind and rule: how often it was shown in the period and how often accepted."""
    offers = Offer.objects.filter(
        case__in=_cases(filters).values("pk"),
        presented_at__gte=filters.since,
        presented_at__lt=filters.until,
    )
    return list(
        offers.values("kind", rule_name=Coalesce("rule__name", Value("")))
        .annotate(
            shown=Count("pk"),
            accepted=Count("pk", filter=Q(accepted_at__isnull=False)),
            cost=money_sum("accepted_cost"),
        )
        .order_by()
    )


# A web case opens at the customer's first click (a reason, or cancelling without one),
# never on a page view: "opened" counts people who acted, not link scanners.
FUNNEL = {
    "opened": Q(),
    "reason_chosen": Q(reason_at__isnull=False),
    "reason_skipped": Q(reason_at__isnull=True, outcome=CaseOutcome.CANCELLED),
    "offers_shown": Q(offers_shown_at__isnull=False),
    "accepted": Q(outcome=CaseOutcome.SAVED),
    "declined": Q(outcome=CaseOutcome.CANCELLED),
    "abandoned": Q(outcome=CaseOutcome.ABANDONED),
    "still_open": Q(outcome=CaseOutcome.OPEN),
}


def funnel(filters: Filters) -> dict:
    """Self-service web cases opened in the period: how far they got. A case opened through
    a link staff made (it names the staff member as actor) is assisted, not self-service."""
    cases = _cases(replace(filters, channel="web")).filter(
        opened_at__gte=filters.since, opened_at__lt=filters.until, actor__isnull=True
    )
    return cases.aggregate(
        **{name: Count("pk", filter=condition) for name, condition in FUNNEL.items()}
    )


# --- Win-back --------------------------------------------------------------------------


def winback_filtered(queryset: QuerySet, filters: Filters, *, channel: str = "channel"):
    """Apply the dashboard's filters to outreach or comebacks (``channel`` names the field)."""
    if filters.channel:
        queryset = queryset.filter(**{channel: filters.channel})
    if filters.plan:
        queryset = queryset.filter(lost_customer__plan_id=filters.plan)
    if filters.churn_group:
        queryset = queryset.filter(lost_customer__churn_group=filters.churn_group)
    if filters.campaign:
        queryset = queryset.filter(campaign_id=filters.campaign)
    return queryset


def first_contacts(filters: Filters) -> QuerySet[Outreach]:
    """First attempts made (or, for the holdout, planned) in the period, filtered."""
    outreach = Outreach.objects.filter(attempt=1).filter(
        Q(status__in=CONTACTED, contacted_at__gte=filters.since, contacted_at__lt=filters.until)
        | Q(status=OutreachStatus.HOLDOUT, due_at__gte=filters.since, due_at__lt=filters.until)
    )
    return winback_filtered(outreach, filters)


def attempts(filters: Filters) -> QuerySet[Outreach]:
    """Every contact made in the period, filtered."""
    outreach = Outreach.objects.filter(
        status__in=CONTACTED, contacted_at__gte=filters.since, contacted_at__lt=filters.until
    )
    return winback_filtered(outreach, filters)


WINBACK_KEYS = {
    "campaign": Cast(F("campaign__name"), CharField()),
    "churn_group": Cast(F("lost_customer__churn_group"), CharField()),
    "channel": Cast(F("channel"), CharField()),
    "message": Cast(F("campaign__name"), CharField()),
}


def winback_breakdown_rows(filters: Filters) -> list[dict]:
    """Contacted, comebacks and the holdout by campaign, churn group, channel and message
    (campaign × language) over first contacts, and by attempt over all: one UNION ALL."""
    contacted = Q(status__in=CONTACTED)
    holdout = Q(status=OutreachStatus.HOLDOUT)
    aggregates = {
        "contacted": Count("pk", filter=contacted),
        "comebacks": Count("pk", filter=contacted & ATTRIBUTED_TO_CAMPAIGN),
        "contacted_back": Count("pk", filter=contacted & CAME_BACK_AFTER_CONTACT),
        "holdout": Count("pk", filter=holdout),
        "holdout_back": Count("pk", filter=holdout & CAME_BACK_AFTER_PLAN),
    }
    first = first_contacts(filters)
    parts = [
        first.annotate(
            dimension=Value(name),
            key=Coalesce(expression, Value("")),
            lang=F("language") if name == "message" else Value(""),
        )
        .values("dimension", "key", "lang")
        .annotate(**aggregates)
        .order_by()
        for name, expression in WINBACK_KEYS.items()
    ]
    parts.append(
        attempts(filters)
        .annotate(dimension=Value("attempt"), key=Cast(F("attempt"), CharField()), lang=Value(""))
        .values("dimension", "key", "lang")
        .annotate(
            contacted=Count("pk"),
            comebacks=Count("pk", filter=ATTRIBUTED_TO_CONTACT),
            contacted_back=NO_INT,
            holdout=NO_INT,
            holdout_back=NO_INT,
        )
        .order_by()
    )
    return list(parts[0].union(*parts[1:], all=True))


MONTH_DAYS = 30.4375


class DaysBetween(Func):
    """(later − earlier) in whole days between two dates (PostgreSQL and SQLite)."""

    arity = 2
    output_field = IntegerField()

    def as_postgresql(self, compiler, connection, **extra):
        template = "(%(expressions)s)"
        return self.as_sql(compiler, connection, template=template, arg_joiner=" - ", **extra)

    def as_sqlite(self, compiler, connection, **extra):
        template = "CAST(julianday(%(expressions)s) AS INTEGER)"
        return self.as_sql(
            compiler, connection, template=template, arg_joiner=") - julianday(", **extra
        )


def _months_begun_since(day, today: date):
    """The months begun from local ``day`` to ``today`` (1 in the first month), for up to
    ten years."""
    days = DaysBetween(Value(today, output_field=DateField()), day)
    months = Floor(days / Value(MONTH_DAYS)) + Value(1)
    return Cast(Greatest(Least(months, Value(121)), Value(1)), IntegerField())


def months_active(came_back_on, left_again_on, today: date):
    """Started months from the day of coming back to today, or to the day the subscription
    ended again: counted in local days, so that a daily rollup of the comebacks gives the
    same months as the comebacks themselves (``retention.rollups``)."""
    since_comeback = _months_begun_since(came_back_on, today)
    return Case(
        When(
            IsNull(left_again_on, False),
            then=since_comeback - _months_begun_since(left_again_on, today) + Value(1),
        ),
        default=since_comeback,
        output_field=IntegerField(),
    )


def left_again_on():
    """The local day a comeback's subscription was cancelled again, if it was."""
    # A lookup per comebacks row by primary key, not a join: given the choice, the planner
    # would hash the whole subscription table for a few thousand comebacks.
    return Subquery(
        Subscription.objects.filter(
            pk=OuterRef("subscription_id"), status="cancelled", cancelled_at__gt=OuterRef("at")
        )
        .annotate(day=TruncDate("cancelled_at"))
        .values("day")[:1],
        output_field=DateField(),
    )


def _months_active_expression(now: datetime):
    """A comeback's started months until ``now`` (or until it ended again)."""
    return months_active(TruncDate("at"), left_again_on(), timezone.localdate(now))


def comeback_totals(filters: Filters, *, now: datetime) -> QuerySet:
    """Comebacks in the period and the one before, what they are worth and cost, as a row
    per series of the win-back totals (the contact columns zero)."""
    attributed = ATTRIBUTED
    span = filters.and_previous()
    comebacks = winback_filtered(
        Comeback.objects.filter(at__gte=span.since, at__lt=span.until),
        filters,
        channel="outreach__channel",
    )
    return (
        comebacks.annotate(series=filters.series("at", moment=True))
        .values("series")
        .annotate(
            people=NO_INT,
            hits=NO_INT,
            contacts=NO_INT,
            calls=NO_INT,
            attributed=Count("pk", filter=attributed),
            organic=Count("pk", filter=~attributed),
            value=money_sum("value", filter=attributed),
            offer_cost=money_sum("offer_cost", filter=attributed),
            lifetime_value=money_sum(
                F("monthly_amount") * _months_active_expression(now),
                filter=attributed,
                output_field=MONEY,
            ),
        )
        .order_by()
    )


def winback_totals(filters: Filters, *, now: datetime) -> list[dict]:
    """Contacts made and comebacks in the period and the one before: one UNION ALL, rows
    per (series, part) for the caller to add up."""
    parts = []
    for series, period in filters.with_previous():
        parts.append(
            attempts(period)
            .annotate(series=Value(series))
            .values("series")
            .annotate(
                people=Count("pk", filter=Q(attempt=1)),
                hits=Count("pk", filter=Q(attempt=1) & ATTRIBUTED_TO_CAMPAIGN),
                contacts=Count("pk"),
                calls=Count("pk", filter=Q(channel="phone")),
                attributed=NO_INT,
                organic=NO_INT,
                value=NO_MONEY,
                offer_cost=NO_MONEY,
                lifetime_value=NO_MONEY,
            )
            .order_by()
        )
    parts.append(comeback_totals(filters, now=now))
    return list(parts[0].union(*parts[1:], all=True))


# --- Trends -------------------------------------------------------------------------------


def trend_rows(window: Filters, *, mix: bool = True) -> list[dict]:
    """Per week: saved and cancelled cases, first contacts and their comebacks; per month
    (unless ``mix`` is off): cancellations by exit reason and by churn group. Rows (series,
    period, key, a, b)."""
    cases = (
        decided_cases(window)
        .annotate(series=Value("cases"), period=TruncWeek("decided_at"), key=Value(""))
        .values("series", "period", "key")
        .annotate(
            a=Count("pk", filter=SAVED), b=Count("pk", filter=Q(outcome=CaseOutcome.CANCELLED))
        )
        .order_by()
    )
    contacts = (
        first_contacts(window)
        .filter(status__in=CONTACTED)
        .annotate(series=Value("winback"), period=TruncWeek("contacted_at"), key=Value(""))
        .values("series", "period", "key")
        .annotate(a=Count("pk", filter=ATTRIBUTED_TO_CAMPAIGN), b=Count("pk"))
        .order_by()
    )
    cancelled = decided_cases(window).filter(outcome=CaseOutcome.CANCELLED)
    mixes = [
        cancelled.annotate(
            series=Value(series), period=TruncMonth("decided_at"), key=Coalesce(key, Value(""))
        )
        .values("series", "period", "key")
        .annotate(a=Count("pk"), b=NO_INT)
        .order_by()
        for series, key in (("reason", CASE_KEYS["reason"]), ("churn_group", F("group")))
    ]
    return list(cases.union(contacts, *(mixes if mix else []), all=True))
