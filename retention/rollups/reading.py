"""Reading the rollups back (the reads) into exactly the answers of the raw scan
(``retention.scan``): the same functions, with the same arguments and results."""

from dataclasses import replace
from datetime import date, datetime, timedelta

from django.db.models import (
    CharField,
    F,
    Model,
    Q,
    QuerySet,
    Value,
)
from django.db.models.functions import Cast, Coalesce, TruncMonth, TruncWeek
from django.utils import timezone

from retention import scan
from retention.models import (
    CaseDay,
    CaseMix,
    ComebackDay,
    FunnelDay,
    Grain,
    OfferMix,
    OutreachDay,
    OutreachMix,
    Scope,
)
from retention.periods import Filters, whole_months_and_days
from retention.rollups.definitions import (
    ROLLUPS,
)
from retention.scan import (
    DECIDED,
    NO_INT,
    NO_MONEY,
    VERIFY_DAYS,
    int_sum,
    money_sum,
)

# Sums are annotated as sum_<name>: an annotation may not share a name with the column it
# adds up, or the next sum of that column would read the annotation.
PREFIX = "sum_"


def _as_sums(aggregates: dict[str, object]) -> dict[str, object]:
    return {f"{PREFIX}{name}": expression for name, expression in aggregates.items()}


def _named(rows) -> list[dict]:
    return [{key.removeprefix(PREFIX): value for key, value in row.items()} for row in rows]


def _in_period(start: date, end: date) -> Q:
    """Rows of a day-and-month rollup that make up [start, end]: whole months, then days."""
    months, day_spans = whole_months_and_days(start, end)
    condition = Q(grain=Grain.MONTH, period__in=months) if months else Q(pk__in=[])
    for first, last in day_spans:
        condition |= Q(grain=Grain.DAY, period__gte=first, period__lte=last)
    return condition


ROLLUP_OF = {rollup.model: rollup for rollup in ROLLUPS}


def _filtered(
    queryset: QuerySet, filters: Filters, *, campaign: bool = False, each: bool = False
) -> QuerySet:
    """The rows for these filters: of scope TOTAL where the rollup keeps totals that no
    filter in use (nor ``each``, for a breakdown by a filter column) sums over."""
    used = {
        column: value
        for column, value in (
            ("channel", filters.channel),
            ("plan_id", filters.plan),
            ("churn_group", filters.churn_group),
            ("campaign_id", filters.campaign if campaign else None),
        )
        if value
    }
    rollup = ROLLUP_OF[queryset.model]
    if rollup.scoped:
        total = not each and not any(column in rollup.totals for column in used)
        queryset = queryset.filter(scope=Scope.TOTAL if total else Scope.EACH)
    return queryset.filter(**used)


def _days(model: type[Model], filters: Filters, **kwargs) -> QuerySet:
    rows = model.objects.filter(day__gte=filters.start, day__lte=filters.end)
    return _filtered(rows, filters, **kwargs)


def _mix(model: type[Model], filters: Filters, **kwargs) -> QuerySet:
    rows = model.objects.filter(_in_period(filters.start, filters.end))
    return _filtered(rows, filters, **kwargs)


def case_totals(filters: Filters, *, today: date) -> dict[str, dict]:
    aggregates = {
        **{outcome: int_sum(outcome) for outcome in DECIDED},
        **{
            f"{channel}_{outcome}": int_sum(outcome, filter=Q(channel=channel))
            for channel in ("web", "phone", "api")
            for outcome in DECIDED
        },
        "kept_monthly": money_sum("kept_monthly"),
        "offer_cost": money_sum("offer_cost"),
    }
    for n in VERIFY_DAYS:
        eligible = Q(day__lte=today - timedelta(days=n))
        aggregates[f"eligible_{n}"] = int_sum("saved", filter=eligible)
        aggregates[f"kept_{n}"] = int_sum(F("saved") - F(f"left_{n}"), filter=eligible)
    rows = (
        _days(CaseDay, filters.and_previous())
        .annotate(series=filters.series("day"))
        .values("series")
        .annotate(**_as_sums(aggregates))
        .order_by()
    )
    return {row.pop("series"): row for row in _named(rows)}


CASE_KEYS = {  # breakdown → (the CaseMix rows it reads, its key)
    "reason": ("reason", Coalesce(Cast(F("reason__label_en"), CharField()), Value(""))),
    "churn_group": ("all", F("churn_group")),
    "offer_kind": ("offer", F("offer_kind")),
    "offer_rule": ("offer", Coalesce(Cast(F("offer_rule__name"), CharField()), Value(""))),
    "channel": ("all", F("channel")),
    "plan": ("all", Cast(F("plan__name"), CharField())),
    "tenure": ("tenure", F("tenure_band")),
    "agent": ("agent", Coalesce(Cast(F("agent__username"), CharField()), Value(""))),
}


def case_breakdown_rows(filters: Filters) -> list[dict]:
    sums = {
        **{outcome: int_sum(outcome) for outcome in DECIDED},
        "kept_monthly": money_sum("kept_monthly"),
    }
    parts = [
        _mix(CaseMix, filters, each=dimension == "all")
        .filter(dimension=dimension)
        .annotate(dimension_name=Value(name), key=key)
        .values("dimension_name", "key")
        .annotate(**_as_sums(sums))
        .order_by()
        for name, (dimension, key) in CASE_KEYS.items()
    ]
    return [
        {"dimension": row.pop("dimension_name"), **row}
        for row in _named(parts[0].union(*parts[1:], all=True))
    ]


def offer_rows(filters: Filters) -> list[dict]:
    return _named(
        _mix(OfferMix, filters)
        .values("kind", rule_name=Coalesce("rule__name", Value("")))
        .annotate(
            **_as_sums(
                {
                    "shown": int_sum("shown"),
                    "accepted": int_sum("accepted"),
                    "cost": money_sum("cost"),
                }
            )
        )
        .order_by()
    )


def funnel(filters: Filters) -> dict:
    rows = _days(FunnelDay, replace(filters, channel=""))  # the funnel is the web's
    return _named([rows.aggregate(**_as_sums({name: int_sum(name) for name in scan.FUNNEL}))])[0]


WINBACK_KEYS = {
    "campaign": Cast(F("campaign__name"), CharField()),
    "churn_group": F("churn_group"),
    "channel": F("channel"),
    "message": Cast(F("campaign__name"), CharField()),
}


def winback_breakdown_rows(filters: Filters) -> list[dict]:
    rows = _mix(OutreachMix, filters, campaign=True)
    made, held = Q(holdout=False), Q(holdout=True)
    sums = {
        "contacted": int_sum("contacts", filter=made),
        "comebacks": int_sum("comebacks_campaign", filter=made),
        "contacted_back": int_sum("came_back_after", filter=made),
        "holdout": int_sum("contacts", filter=held),
        "holdout_back": int_sum("came_back_after", filter=held),
    }
    parts = [
        rows.filter(attempt=1)
        .annotate(
            dimension=Value(name),
            key=key,
            lang=F("language") if name == "message" else Value(""),
        )
        .values("dimension", "key", "lang")
        .annotate(**_as_sums(sums))
        .order_by()
        for name, key in WINBACK_KEYS.items()
    ]
    parts.append(
        rows.filter(made)
        .annotate(dimension=Value("attempt"), key=Cast(F("attempt"), CharField()), lang=Value(""))
        .values("dimension", "key", "lang")
        .annotate(
            **_as_sums(
                {
                    "contacted": int_sum("contacts"),
                    "comebacks": int_sum("comebacks_contact"),
                    "contacted_back": NO_INT,
                    "holdout": NO_INT,
                    "holdout_back": NO_INT,
                }
            )
        )
        .order_by()
    )
    return _named(parts[0].union(*parts[1:], all=True))


def winback_totals(filters: Filters, *, now: datetime) -> list[dict]:
    contacts = (
        _days(OutreachDay, filters.and_previous(), campaign=True)
        .annotate(series=filters.series("day"))
        .values("series")
        .annotate(
            **_as_sums(
                {
                    "people": int_sum("first_contacts"),
                    "hits": int_sum("first_comebacks"),
                    "contacts": int_sum("contacts"),
                    "calls": int_sum("contacts", filter=Q(channel="phone")),
                    "attributed": NO_INT,
                    "organic": NO_INT,
                    "value": NO_MONEY,
                    "offer_cost": NO_MONEY,
                    "lifetime_value": NO_MONEY,
                }
            )
        )
        .order_by()
    )
    today = timezone.localdate(now)
    comebacks = (
        _days(ComebackDay, filters.and_previous(), campaign=True)
        .annotate(series=filters.series("day"))
        .values("series")
        .annotate(
            **_as_sums(
                {
                    "people": NO_INT,
                    "hits": NO_INT,
                    "contacts": NO_INT,
                    "calls": NO_INT,
                    "attributed": int_sum("attributed"),
                    "organic": int_sum("organic"),
                    "value": money_sum("value"),
                    "offer_cost": money_sum("offer_cost"),
                    "lifetime_value": money_sum(
                        F("monthly_amount") * scan.months_active(F("day"), F("ended_on"), today),
                        output_field=scan.MONEY,
                    ),
                }
            )
        )
        .order_by()
    )
    return _named(contacts.union(comebacks, all=True))


def trend_rows(window: Filters, *, mix: bool = True) -> list[dict]:
    cases = (
        _days(CaseDay, window)
        .annotate(series=Value("cases"), period=TruncWeek("day"), key=Value(""))
        .values("series", "period", "key")
        .annotate(a=int_sum("saved"), b=int_sum("cancelled"))
        .order_by()
    )
    contacts = (
        _days(OutreachDay, window, campaign=True)
        .filter(first_contacts__gt=0)
        .annotate(series=Value("winback"), period=TruncWeek("day"), key=Value(""))
        .values("series", "period", "key")
        .annotate(a=int_sum("first_comebacks"), b=int_sum("first_contacts"))
        .order_by()
    )
    mixes = [
        _mix(CaseMix, window, each=dimension == "all")
        .filter(dimension=dimension, cancelled__gt=0)
        .annotate(series=Value(series), month=TruncMonth("period"), key=key)
        .values("series", "month", "key")  # the union names the column after the first part
        .annotate(a=int_sum("cancelled"), b=NO_INT)
        .order_by()
        for series, (dimension, key) in (
            ("reason", CASE_KEYS["reason"]),
            ("churn_group", CASE_KEYS["churn_group"]),
        )
    ]
    return list(cases.union(contacts, *(mixes if mix else []), all=True))
