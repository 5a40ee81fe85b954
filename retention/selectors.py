"""The managers' figures, read straight from the recorded cases, offers, ledger and outreach.

Every figure is SQL aggregation (conditional counts and sums, grouped in SQL); Python only
divides the few totals that come back. Each breakdown family is one statement (a UNION ALL
of GROUP BYs), so a page costs the same number of queries at ten rows as at a million.

Definitions (also shown on the dashboard):

* A case counts in the period its outcome was decided (``decided_at``).
* **Save rate** = saved ÷ (saved + cancelled). **Deflection rate** = (saved + abandoned) ÷
  (saved + cancelled + abandoned). Abandoned cases are reported on their own.
* **Billing-verified save rate (N days)** = saved cases whose subscription has no
  cancellation request or cancellation in the ledger within N days after the save ÷ saved
  cases decided at least N days ago.
* **Revenue kept** (annualised) = 12 × the monthly amount of the saved subscriptions − the
  cost of the accepted offers (a downgrade's cost is its yearly saving, so a downgrade keeps
  the new price); monthly = annualised ÷ 12.
* **Hit rate** = lost customers won back ÷ lost customers contacted (first contact in the
  period; a comeback counts for the campaign it is attributed to).
* **Uplift** = hit rate of the contacted − hit rate of the holdout (any comeback after the
  planned first contact, attributed or not), with a 95% normal-approximation interval;
  "not enough data" while either group is smaller than ``TACK_UPLIFT_MIN_GROUP``.
* **Value of win-back sales** = the comebacks' first-year values. **Lifetime value** =
  revenue since coming back: the monthly amount for every started month since the comeback,
  until now or until the subscription ended again.
* **Campaign cost** = come-back offers + contacts × ``TACK_COST_PER_EMAIL`` /
  ``TACK_COST_PER_CALL``. **ROI** = (value − cost) ÷ cost.
* **Cost per saved customer** = the saves' offer costs ÷ saves; **cost per won-back
  customer** = campaign costs ÷ comebacks.
"""

import math
from dataclasses import dataclass, field, replace
from datetime import date, datetime, time, timedelta
from decimal import Decimal

from django.conf import settings
from django.core.cache import cache
from django.db.models import (
    Case,
    CharField,
    Count,
    DecimalField,
    F,
    IntegerField,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Sum,
    Value,
    When,
)
from django.db.models.functions import Cast, Coalesce, NullIf, TruncMonth, TruncWeek
from django.utils import timezone

from cancellations.enums import CaseOutcome
from cancellations.models import CancellationCase, Offer
from subscriptions.enums import EventKind
from subscriptions.models import Plan, SubscriptionEvent
from winback.enums import OutreachStatus
from winback.models import Campaign, Comeback, Outreach
from winback.segmentation import FALLBACK_GROUP, churn_group_rules

ZERO = Decimal("0")
CENT = Decimal("0.01")
MONEY = DecimalField(max_digits=16, decimal_places=2)
VERIFY_DAYS = (30, 60, 90)
TENURE_BANDS = [(12, "0–1 years"), (36, "1–3 years"), (60, "3–5 years")]
CONTACTED = (OutreachStatus.QUEUED, OutreachStatus.SENT)


@dataclass(frozen=True)
class Filters:
    start: date
    end: date  # inclusive
    channel: str = ""
    plan: int | None = None
    churn_group: str = ""
    campaign: int | None = None

    @property
    def since(self) -> datetime:
        return timezone.make_aware(datetime.combine(self.start, time.min))

    @property
    def until(self) -> datetime:
        return timezone.make_aware(datetime.combine(self.end + timedelta(days=1), time.min))

    def previous(self) -> "Filters":
        """The period of the same length just before this one."""
        length = (self.end - self.start).days + 1
        return replace(
            self, start=self.start - timedelta(days=length), end=self.start - timedelta(days=1)
        )


def ratio(part, whole) -> float | None:
    return None if not whole else float(part) / float(whole)


# --- Cases ---------------------------------------------------------------------------


def case_churn_group():
    """A case's churn group: the agent's judgment, the reason's default, or the rules."""
    rules = churn_group_rules(category="reason__category", competitor="competitor")
    return Coalesce(
        NullIf(F("churn_group"), Value("")),
        NullIf(F("reason__default_churn_group"), Value("")),
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
        decided_at__gte=filters.since,
        decided_at__lt=filters.until,
        outcome__in=[CaseOutcome.SAVED, CaseOutcome.CANCELLED, CaseOutcome.ABANDONED],
    )


def _outcome_counts(prefix: str = "", extra: Q | None = None) -> dict:
    extra = extra or Q()
    return {
        f"{prefix}saved": Count("pk", filter=extra & Q(outcome=CaseOutcome.SAVED)),
        f"{prefix}cancelled": Count("pk", filter=extra & Q(outcome=CaseOutcome.CANCELLED)),
        f"{prefix}abandoned": Count("pk", filter=extra & Q(outcome=CaseOutcome.ABANDONED)),
    }


def _left_at():
    """For a saved case: when its subscription next asked to cancel, or was cancelled (one
    index lookup per saved case; other cases are not looked up)."""
    first_leave = (
        SubscriptionEvent.objects.filter(
            subscription_id=OuterRef("subscription_id"),
            kind__in=[EventKind.CANCEL_REQUESTED, EventKind.CANCELLED],
            created_at__gt=OuterRef("decided_at"),
        )
        .order_by("sequence")  # the ledger's own order: walks the (subscription, sequence) key
        .values("created_at")[:1]
    )
    return Case(When(outcome=CaseOutcome.SAVED, then=Subquery(first_leave)), default=None)


def case_summaries(filters: Filters, *, now: datetime | None = None) -> tuple[dict, dict]:
    """Totals, by channel, money and billing verification, for the period and the one before
    it: one query (a UNION ALL of the two aggregates)."""
    now = now or timezone.now()
    saved = Q(outcome=CaseOutcome.SAVED)
    aggregates = {
        **_outcome_counts(),
        **_outcome_counts("web_", Q(channel="web")),
        **_outcome_counts("phone_", Q(channel="phone")),
        **_outcome_counts("api_", Q(channel="api")),
        "kept_monthly": Coalesce(Sum("monthly_amount", filter=saved), ZERO, output_field=MONEY),
        "offer_cost": Coalesce(
            Sum("accepted_offer__accepted_cost", filter=saved), ZERO, output_field=MONEY
        ),
    }
    for days in VERIFY_DAYS:
        eligible = saved & Q(decided_at__lte=now - timedelta(days=days))
        aggregates[f"eligible_{days}"] = Count("pk", filter=eligible)
        stayed = Q(left_at__isnull=True) | Q(left_at__gt=F("decided_at") + timedelta(days=days))
        aggregates[f"kept_{days}"] = Count("pk", filter=eligible & stayed)
    parts = []
    for series, period in (("current", filters), ("previous", filters.previous())):
        cases = decided_cases(period).annotate(left_at=_left_at())
        parts.append(
            cases.annotate(series=Value(series)).values("series").annotate(**aggregates).order_by()
        )
    rows = {row.pop("series"): row for row in parts[0].union(parts[1], all=True)}
    empty = dict.fromkeys(aggregates, 0) | {"kept_monthly": ZERO, "offer_cost": ZERO}
    return (
        _derive_case_figures(rows.get("current", empty)),
        _derive_case_figures(rows.get("previous", empty)),
    )


def case_summary(filters: Filters, *, now: datetime | None = None) -> dict:
    return case_summaries(filters, now=now)[0]


def _derive_case_figures(row: dict) -> dict:
    figures = dict(row)
    for prefix in ("", "web_", "phone_", "api_"):
        s, c, a = row[f"{prefix}saved"], row[f"{prefix}cancelled"], row[f"{prefix}abandoned"]
        figures[f"{prefix}closed"] = s + c + a
        figures[f"{prefix}save_rate"] = ratio(s, s + c)
        figures[f"{prefix}deflection_rate"] = ratio(s + a, s + c + a)
    for days in VERIFY_DAYS:
        figures[f"verified_{days}"] = ratio(row[f"kept_{days}"], row[f"eligible_{days}"])
    annual = (row["kept_monthly"] * 12 - row["offer_cost"]).quantize(CENT)
    figures["revenue_kept_annual"] = annual
    figures["revenue_kept_monthly"] = (annual / 12).quantize(CENT)
    figures["cost_per_save"] = (
        (row["offer_cost"] / row["saved"]).quantize(CENT) if row["saved"] else None
    )
    return figures


CASE_DIMENSIONS = {
    "reason": ("exit reason", Cast(F("reason__label_en"), CharField())),
    "churn_group": ("churn group", F("group")),
    "offer_kind": ("offer kind", Cast(F("accepted_offer__kind"), CharField())),
    "offer_rule": ("offer rule", Cast(F("accepted_offer__rule__name"), CharField())),
    "channel": ("channel", Cast(F("channel"), CharField())),
    "plan": ("plan", Cast(F("plan__name"), CharField())),
    "tenure": ("tenure", tenure_band()),
    "agent": ("agent", Cast(F("actor__username"), CharField())),
}


def case_breakdowns(filters: Filters) -> dict[str, list[dict]]:
    """Saved / cancelled / abandoned and the rates by every dimension: one UNION ALL query."""
    base = decided_cases(filters)
    parts = [
        base.annotate(dimension=Value(name), key=Coalesce(expression, Value("")))
        .values("dimension", "key")
        .annotate(
            **_outcome_counts(), kept_monthly=Sum("monthly_amount", filter=Q(outcome="saved"))
        )
        .order_by()
        for name, (_, expression) in CASE_DIMENSIONS.items()
    ]
    rows = parts[0].union(*parts[1:], all=True)
    result: dict[str, list[dict]] = {name: [] for name in CASE_DIMENSIONS}
    for row in rows:
        s, c, a = row["saved"], row["cancelled"], row["abandoned"]
        result[row["dimension"]].append({**row, "save_rate": ratio(s, s + c), "closed": s + c + a})
    for rows_ in result.values():
        rows_.sort(key=lambda r: (-r["closed"], r["key"]))
    return result


def offer_acceptance(filters: Filters) -> list[dict]:
    """Per offer rule and kind: how often it was shown and how often accepted."""
    offers = Offer.objects.filter(
        case__in=_cases(filters).values("pk"),
        presented_at__gte=filters.since,
        presented_at__lt=filters.until,
    )
    rows = list(
        offers.values("kind", rule_name=Coalesce("rule__name", Value("")))
        .annotate(
            shown=Count("pk"),
            accepted=Count("pk", filter=Q(accepted_at__isnull=False)),
            cost=Coalesce(Sum("accepted_cost"), ZERO, output_field=MONEY),
        )
        .order_by("-shown", "kind", "rule_name")
    )
    for row in rows:
        row["acceptance_rate"] = ratio(row["accepted"], row["shown"])
    return rows


def web_funnel(filters: Filters) -> dict:
    """Web cases opened in the period: how far they got."""
    cases = _cases(replace(filters, channel="web")).filter(
        opened_at__gte=filters.since, opened_at__lt=filters.until
    )
    return cases.aggregate(
        opened=Count("pk"),
        reason_chosen=Count("pk", filter=Q(reason_at__isnull=False)),
        offers_shown=Count("pk", filter=Q(offers_shown_at__isnull=False)),
        accepted=Count("pk", filter=Q(outcome=CaseOutcome.SAVED)),
        declined=Count("pk", filter=Q(outcome=CaseOutcome.CANCELLED)),
        abandoned=Count("pk", filter=Q(outcome=CaseOutcome.ABANDONED)),
        still_open=Count("pk", filter=Q(outcome=CaseOutcome.OPEN)),
    )


# --- Win-back --------------------------------------------------------------------------


def _winback_filtered(queryset: QuerySet, filters: Filters, *, channel: str = "channel"):
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


def _first_contacts(filters: Filters) -> QuerySet[Outreach]:
    """First attempts made (or, for the holdout, planned) in the period, filtered."""
    outreach = Outreach.objects.filter(attempt=1).filter(
        Q(status__in=CONTACTED, contacted_at__gte=filters.since, contacted_at__lt=filters.until)
        | Q(status=OutreachStatus.HOLDOUT, due_at__gte=filters.since, due_at__lt=filters.until)
    )
    return _winback_filtered(outreach, filters)


# A lost customer comes back at most once (Comeback is one-to-one), so these are plain
# conditions over a LEFT JOIN rather than a subquery per outreach row.
CAME_BACK_AFTER_CONTACT = Q(lost_customer__comeback__at__gte=F("contacted_at"))
CAME_BACK_AFTER_PLAN = Q(lost_customer__comeback__at__gte=F("due_at"))
ATTRIBUTED_TO_CAMPAIGN = Q(lost_customer__comeback__campaign_id=F("campaign_id"))
ATTRIBUTED_TO_CONTACT = Q(lost_customer__comeback__outreach_id=F("pk"))


def winback_breakdowns(filters: Filters) -> dict[str, list[dict]]:
    """Contacted, comebacks, hit rate and the holdout's hit rate by campaign, churn group,
    channel and message (campaign × language): one UNION ALL query over first contacts,
    and the attempts in a second part of it."""
    first = _first_contacts(filters)
    contacted = Q(status__in=CONTACTED)
    holdout = Q(status=OutreachStatus.HOLDOUT)
    aggregates = {
        "contacted": Count("pk", filter=contacted),
        "comebacks": Count("pk", filter=contacted & ATTRIBUTED_TO_CAMPAIGN),
        "contacted_back": Count("pk", filter=contacted & CAME_BACK_AFTER_CONTACT),
        "holdout": Count("pk", filter=holdout),
        "holdout_back": Count("pk", filter=holdout & CAME_BACK_AFTER_PLAN),
    }
    keys = {
        "campaign": Cast(F("campaign__name"), CharField()),
        "churn_group": Cast(F("lost_customer__churn_group"), CharField()),
        "channel": Cast(F("channel"), CharField()),
        "message": Cast(F("campaign__name"), CharField()),
    }
    parts = []
    for name, expression in keys.items():
        annotated = first.annotate(dimension=Value(name), key=Coalesce(expression, Value("")))
        if name == "message":
            annotated = first.annotate(
                dimension=Value(name),
                key=Coalesce(expression, Value("")),
                lang=Coalesce(NullIf(F("language"), Value("")), F("customer__locale")),
            )
            parts.append(
                annotated.values("dimension", "key", "lang").annotate(**aggregates).order_by()
            )
            continue
        parts.append(
            annotated.annotate(lang=Value(""))
            .values("dimension", "key", "lang")
            .annotate(**aggregates)
            .order_by()
        )
    attempts = _attempts(filters).annotate(
        dimension=Value("attempt"),
        key=Cast(F("attempt"), CharField()),
        lang=Value(""),
    )
    parts.append(
        attempts.values("dimension", "key", "lang")
        .annotate(
            contacted=Count("pk"),
            comebacks=Count("pk", filter=ATTRIBUTED_TO_CONTACT),
            contacted_back=Value(0, output_field=IntegerField()),
            holdout=Value(0, output_field=IntegerField()),
            holdout_back=Value(0, output_field=IntegerField()),
        )
        .order_by()
    )
    rows = parts[0].union(*parts[1:], all=True)
    result: dict[str, list[dict]] = {name: [] for name in [*keys, "attempt"]}
    for row in rows:
        if row["dimension"] == "message":
            row["key"] = f"{row['key']} ({row['lang']})"
        row["hit_rate"] = ratio(row["comebacks"], row["contacted"])
        row["uplift"] = uplift(
            row["contacted_back"], row["contacted"], row["holdout_back"], row["holdout"]
        )
        result[row["dimension"]].append(row)
    for rows_ in result.values():
        rows_.sort(key=lambda r: (-r["contacted"], r["key"]))
    return result


def _attempts(filters: Filters) -> QuerySet[Outreach]:
    """Every contact made in the period, filtered."""
    outreach = Outreach.objects.filter(
        status__in=CONTACTED, contacted_at__gte=filters.since, contacted_at__lt=filters.until
    )
    return _winback_filtered(outreach, filters)


@dataclass(frozen=True)
class Uplift:
    enough_data: bool
    difference: float | None = None
    low: float | None = None
    high: float | None = None
    contacted_rate: float | None = None
    holdout_rate: float | None = None


def uplift(hits: int, contacted: int, holdout_hits: int, holdout: int) -> Uplift:
    """Hit rate of the contacted minus the holdout's, with a 95% (normal) interval."""
    minimum = settings.TACK_UPLIFT_MIN_GROUP
    if contacted < minimum or holdout < minimum:
        return Uplift(
            False, contacted_rate=ratio(hits, contacted), holdout_rate=ratio(holdout_hits, holdout)
        )
    p1, p0 = hits / contacted, holdout_hits / holdout
    margin = 1.96 * math.sqrt(p1 * (1 - p1) / contacted + p0 * (1 - p0) / holdout)
    difference = p1 - p0
    return Uplift(True, difference, difference - margin, difference + margin, p1, p0)


@dataclass
class WinbackSummary:
    contacted: int = 0
    contacts: int = 0
    calls: int = 0
    comebacks: int = 0
    organic: int = 0
    value: Decimal = ZERO
    offer_cost: Decimal = ZERO
    lifetime_value: Decimal = ZERO
    extra: dict = field(default_factory=dict)

    @property
    def hit_rate(self) -> float | None:
        return ratio(self.comebacks, self.contacted)

    @property
    def cost(self) -> Decimal:
        emails = self.contacts - self.calls
        per_email = Decimal(str(settings.TACK_COST_PER_EMAIL))
        per_call = Decimal(str(settings.TACK_COST_PER_CALL))
        return (self.offer_cost + emails * per_email + self.calls * per_call).quantize(CENT)

    @property
    def roi(self) -> float | None:
        return None if not self.cost else float((self.value - self.cost) / self.cost)

    @property
    def cost_per_comeback(self) -> Decimal | None:
        return (self.cost / self.comebacks).quantize(CENT) if self.comebacks else None


def _comebacks(filters: Filters) -> QuerySet[Comeback]:
    comebacks = Comeback.objects.filter(at__gte=filters.since, at__lt=filters.until)
    return _winback_filtered(comebacks, filters, channel="outreach__channel")


WINBACK_TOTALS = ("people", "contacts", "calls", "attributed", "organic")
WINBACK_MONEY = ("value", "offer_cost", "lifetime_value")


def winback_summaries(
    filters: Filters, *, now: datetime | None = None
) -> tuple[WinbackSummary, WinbackSummary]:
    """Contacts made and comebacks in the period and the one before, what they are worth and
    what they cost: one query (contacts and comebacks of both periods, UNION ALL)."""
    now = now or timezone.now()
    none = Value(0, output_field=IntegerField())
    nothing = Value(ZERO, output_field=MONEY)
    attributed = Q(outreach__isnull=False)
    parts = []
    for series, period in (("current", filters), ("previous", filters.previous())):
        parts.append(
            _attempts(period)
            .annotate(series=Value(series))
            .values("series")
            .annotate(
                people=Count("lost_customer_id", distinct=True),
                contacts=Count("pk"),
                calls=Count("pk", filter=Q(channel="phone")),
                attributed=none,
                organic=none,
                value=nothing,
                offer_cost=nothing,
                lifetime_value=nothing,
            )
            .order_by()
        )
        parts.append(
            _comebacks(period)
            .annotate(series=Value(series))
            .values("series")
            .annotate(
                people=none,
                contacts=none,
                calls=none,
                attributed=Count("pk", filter=attributed),
                organic=Count("pk", filter=Q(outreach__isnull=True)),
                value=Coalesce(Sum("value", filter=attributed), ZERO, output_field=MONEY),
                offer_cost=Coalesce(Sum("offer_cost", filter=attributed), ZERO, output_field=MONEY),
                lifetime_value=Coalesce(
                    Sum(
                        F("monthly_amount") * _months_active_expression(now),
                        filter=attributed,
                        output_field=MONEY,
                    ),
                    ZERO,
                    output_field=MONEY,
                ),
            )
            .order_by()
        )
    totals = {
        "current": dict.fromkeys(WINBACK_TOTALS, 0) | dict.fromkeys(WINBACK_MONEY, ZERO),
        "previous": dict.fromkeys(WINBACK_TOTALS, 0) | dict.fromkeys(WINBACK_MONEY, ZERO),
    }
    for row in parts[0].union(*parts[1:], all=True):
        target = totals[row["series"]]
        for key in (*WINBACK_TOTALS, *WINBACK_MONEY):
            target[key] += row[key] or 0
    current, previous = (
        WinbackSummary(
            contacted=t["people"],
            contacts=t["contacts"],
            calls=t["calls"],
            comebacks=t["attributed"],
            organic=t["organic"],
            value=Decimal(t["value"]),
            offer_cost=Decimal(t["offer_cost"]),
            lifetime_value=Decimal(t["lifetime_value"]),
        )
        for t in (totals["current"], totals["previous"])
    )
    return current, previous


def winback_summary(filters: Filters, *, now: datetime | None = None) -> WinbackSummary:
    return winback_summaries(filters, now=now)[0]


MONTH = timedelta(days=30.4375)


def _started_months_since(field_name: str, now: datetime):
    """ceil((now - field) / month), for up to ten years, as a CASE over the one column."""
    return Case(
        *(
            When(**{f"{field_name}__gt": now - MONTH * months}, then=Value(months))
            for months in range(1, 121)
        ),
        default=Value(121),
        output_field=IntegerField(),
    )


def _months_active_expression(now: datetime):
    """Started months from the comeback to now, or to when the subscription ended again."""
    since_comeback = _started_months_since("at", now)
    ended_again = Q(subscription__status="cancelled", subscription__cancelled_at__gt=F("at"))
    return Case(
        When(
            ended_again,
            then=since_comeback
            - _started_months_since("subscription__cancelled_at", now)
            + Value(1),
        ),
        default=since_comeback,
        output_field=IntegerField(),
    )


# --- Trends -------------------------------------------------------------------------------


def trends(filters: Filters, *, now: datetime | None = None) -> dict:
    """Over the last 12 months: save rate and hit rate per week, and cancellations per month
    by exit reason and by churn group (the top five of each, the rest as "other").

    One UNION ALL query of four GROUP BYs, each row (series, period start, key, a, b).
    """
    now = now or timezone.now()
    end = timezone.localdate(now)
    window = replace(filters, start=end - timedelta(weeks=52), end=end)
    cases = (
        decided_cases(window)
        .annotate(series=Value("cases"), period=TruncWeek("decided_at"), key=Value(""))
        .values("series", "period", "key")
        .annotate(
            a=Count("pk", filter=Q(outcome=CaseOutcome.SAVED)),
            b=Count("pk", filter=Q(outcome=CaseOutcome.CANCELLED)),
        )
        .order_by()
    )
    contacts = (
        _first_contacts(window)
        .filter(status__in=CONTACTED)
        .annotate(
            series=Value("winback"),
            period=TruncWeek("contacted_at"),
            key=Value(""),
        )
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
        .annotate(a=Count("pk"), b=Value(0, output_field=IntegerField()))
        .order_by()
        for series, key in (
            ("reason", Cast(F("reason__label_en"), CharField())),
            ("churn_group", F("group")),
        )
    ]
    by_week: dict[date, dict] = {}
    mix: dict[str, dict] = {"reason": {}, "churn_group": {}}
    for row in cases.union(contacts, *mixes, all=True):
        day = row["period"].date() if isinstance(row["period"], datetime) else row["period"]
        if row["series"] in mix:
            mix[row["series"]].setdefault(row["key"] or "(none)", {})[day] = row["a"]
            continue
        entry = by_week.setdefault(day, {"week": day, "save_rate": None, "hit_rate": None})
        a, b = row["a"], row["b"]
        if row["series"] == "cases":
            entry.update(saved=a, cancelled=b, save_rate=ratio(a, a + b))
        else:
            entry.update(comebacks=a, contacted=b, hit_rate=ratio(a, b))
    return {
        "weekly": [by_week[week] for week in sorted(by_week)],
        "mix": {name: _top(series, 5) for name, series in mix.items()},
    }


def _top(series: dict[str, dict], count: int) -> dict:
    totals = sorted(series, key=lambda key: (-sum(series[key].values()), key))
    months = sorted({month for values in series.values() for month in values})
    top = totals[:count]
    rows = [{"key": key, "counts": [series[key].get(m, 0) for m in months]} for key in top]
    rest = totals[count:]
    if rest:
        rows.append(
            {
                "key": "other",
                "counts": [sum(series[key].get(m, 0) for key in rest) for m in months],
            }
        )
    return {"months": months, "rows": rows}


FILTER_CHOICES_CACHE_SECONDS = 60


def filter_choices() -> dict[str, list[tuple[int, str]]]:
    """Plans and campaigns for the filter form: one query, cached for a minute."""
    cached = cache.get("retention:filter-choices")
    if cached is not None:
        return cached
    plans = Plan.objects.annotate(kind=Value("plan")).values("kind", "pk", "name").order_by()
    campaigns = (
        Campaign.objects.annotate(kind=Value("campaign")).values("kind", "pk", "name").order_by()
    )
    choices: dict[str, list[tuple[int, str]]] = {"plan": [], "campaign": []}
    for row in plans.union(campaigns, all=True):
        choices[row["kind"]].append((row["pk"], row["name"]))
    for values in choices.values():
        values.sort(key=lambda choice: choice[1])
    cache.set("retention:filter-choices", choices, FILTER_CHOICES_CACHE_SECONDS)
    return choices


def dashboard(filters: Filters, *, now: datetime | None = None) -> dict:
    """Everything the dashboard shows, in a fixed number of queries whatever the data size."""
    now = now or timezone.now()
    cases, previous_cases = case_summaries(filters, now=now)
    winback, previous_winback = winback_summaries(filters, now=now)
    saves = cases["saved"]
    return {
        "filters": filters,
        "now": now,
        "cases": cases,
        "previous_cases": previous_cases,
        "breakdowns": case_breakdowns(filters),
        "offers": offer_acceptance(filters),
        "funnel": web_funnel(filters),
        "winback": winback,
        "previous_winback": previous_winback,
        "winback_breakdowns": winback_breakdowns(filters),
        **trends(filters, now=now),
        "retain_vs_winback": {
            "cost_per_save": cases["cost_per_save"],
            "cost_per_comeback": winback.cost_per_comeback,
            "ratio": (
                float(winback.cost_per_comeback / cases["cost_per_save"])
                if saves and winback.cost_per_comeback and cases["cost_per_save"]
                else None
            ),
        },
    }
