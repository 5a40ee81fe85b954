"""The dashboard's daily rollups: what each holds, how a day is recounted, and how they are
read back into exactly the answers of the raw scan (``retention.scan``).

A rollup row is one combination of dimension values on one local day (and, for the larger
ones, on one month: the sum of its days). Recounting a set of days deletes their rows and
inserts them again from the raw rows with one ``INSERT … SELECT`` per rollup, built from the
same expressions the scan uses; the months those days fall in are then summed again from
their days. What to recount comes from the change marks (``core.changes``): a marked case
touches the days it was opened, decided and shown offers on; a subscription that asked to
leave touches the days its saves were decided; a subscription that ended or came back
touches the days of its comebacks; a lost customer touches the days of its contacts, holdout
plans and comeback.
"""

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta

from django.db import connection
from django.db.models import (
    BigIntegerField,
    BooleanField,
    Case,
    CharField,
    Count,
    F,
    Model,
    Q,
    QuerySet,
    Value,
    When,
)
from django.db.models.functions import Cast, Coalesce, TruncDate, TruncMonth, TruncWeek
from django.utils import timezone

from cancellations.enums import CaseOutcome
from cancellations.models import CancellationCase, Offer
from core.enums import ChangeKind
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
from retention.periods import Filters, month_start, next_month, whole_months_and_days, within_days
from retention.scan import (
    ATTRIBUTED_TO_CAMPAIGN,
    ATTRIBUTED_TO_CONTACT,
    CAME_BACK_AFTER_CONTACT,
    CAME_BACK_AFTER_PLAN,
    CONTACTED,
    DECIDED,
    NO_INT,
    NO_MONEY,
    SAVED,
    VERIFY_DAYS,
    int_sum,
    money_sum,
    outcome_counts,
)
from winback.enums import OutreachStatus
from winback.models import Comeback, Outreach

CASES, OUTREACH, COMEBACKS = "cases", "outreach", "comebacks"
FAMILIES = (CASES, OUTREACH, COMEBACKS)
HOLDOUT = Q(status=OutreachStatus.HOLDOUT)
NO_ID = Cast(Value(None), BigIntegerField())


@dataclass(frozen=True)
class Rollup:
    """One rollup: its raw rows, what a row's day is, the columns it is grouped by and the
    sums it keeps. With ``breakdowns``, each group of rows is kept once per breakdown (a
    ``dimension`` column names it), grouped by the filters and that breakdown's own key
    columns only, the others empty: a breakdown reads its own few rows, not every
    combination of every key."""

    model: type[Model]
    family: str
    rows: Callable[[Iterable[date] | None], QuerySet]  # the raw rows on these days (or all)
    day: object  # the local day of a raw row
    dimensions: dict[str, object]  # column → expression over a raw row
    measures: dict[str, object]  # column → aggregate
    monthly: bool = False
    breakdowns: dict[str, dict[str, object]] = field(default_factory=dict)
    empty_keys: dict[str, object] = field(default_factory=dict)
    # With totals, each day also gets rows summed over these filter columns (left empty,
    # as given here), scope TOTAL beside the rows of scope EACH: a page that filters by
    # none of them reads those.
    totals: dict[str, object] | None = None

    @property
    def day_column(self) -> str:
        return "period" if self.monthly else "day"

    @property
    def scoped(self) -> bool:
        return self.totals is not None

    @property
    def group_columns(self) -> list[str]:
        keys = ["dimension", *self.empty_keys] if self.breakdowns else []
        return [*(["scope"] if self.scoped else []), *self.dimensions, *keys]

    def key_variants(self) -> list[dict[str, object]]:
        """The columns to group by, once per breakdown (or once)."""
        if not self.breakdowns:
            return [dict(self.dimensions)]
        return [
            {
                **self.dimensions,
                "dimension": Value(name),
                **{column: keys.get(column, empty) for column, empty in self.empty_keys.items()},
            }
            for name, keys in self.breakdowns.items()
        ]


def _decided_cases(days):
    return CancellationCase.objects.filter(outcome__in=DECIDED).filter(
        within_days("decided_at", days)
    )


def _outreach_counted(days):
    """Contacts made (on the day made) and holdout members (on the day they were due)."""
    return Outreach.objects.filter(
        (Q(status__in=CONTACTED) & within_days("contacted_at", days))
        | (HOLDOUT & within_days("due_at", days))
    )


CASE_FILTERS = {
    "channel": F("channel"),
    "plan_id": F("plan_id"),
    "churn_group": scan.case_churn_group(),
}
# The case rollups' totals: summed over the plan and the churn group, and the mixes over the
# channel too (the case totals keep it: they split saves by channel).
SUMMED_OVER_PLAN_AND_GROUP = {"plan_id": NO_ID, "churn_group": Value("")}
SUMMED_OVER_FILTERS = {"channel": Value(""), **SUMMED_OVER_PLAN_AND_GROUP}
OUTREACH_FILTERS = {
    "campaign_id": F("campaign_id"),
    "churn_group": F("lost_customer__churn_group"),
    "channel": F("channel"),
    "plan_id": F("lost_customer__plan_id"),
}

ROLLUPS = [
    Rollup(
        model=CaseDay,
        family=CASES,
        rows=lambda days: _decided_cases(days).annotate(left_at=scan.left_at()),
        day=TruncDate("decided_at"),
        dimensions=CASE_FILTERS,
        measures={
            **outcome_counts(),
            "kept_monthly": money_sum("monthly_amount", filter=SAVED),
            "offer_cost": money_sum("accepted_offer__accepted_cost", filter=SAVED),
            **{f"left_{n}": Count("pk", filter=scan.left_within(n)) for n in VERIFY_DAYS},
        },
        totals=SUMMED_OVER_PLAN_AND_GROUP,
    ),
    Rollup(
        model=CaseMix,
        family=CASES,
        rows=_decided_cases,
        day=TruncDate("decided_at"),
        dimensions=CASE_FILTERS,
        measures={**outcome_counts(), "kept_monthly": money_sum("monthly_amount", filter=SAVED)},
        monthly=True,
        breakdowns={
            "all": {},  # by the filters themselves: channel, plan, churn group
            "reason": {"reason_id": F("reason_id")},
            "offer": {
                "offer_kind": Coalesce(F("accepted_offer__kind"), Value("")),
                "offer_rule_id": F("accepted_offer__rule_id"),
            },
            "tenure": {"tenure_band": scan.tenure_band()},
            "agent": {"agent_id": F("actor_id")},
        },
        empty_keys={  # typed, or a UNION of untyped NULLs would settle on text
            "reason_id": NO_ID,
            "offer_kind": Value(""),
            "offer_rule_id": NO_ID,
            "tenure_band": Value(""),
            "agent_id": NO_ID,
        },
        totals=SUMMED_OVER_FILTERS,
    ),
    Rollup(
        model=OfferMix,
        family=CASES,
        rows=lambda days: Offer.objects.filter(within_days("presented_at", days)),
        day=TruncDate("presented_at"),
        dimensions={
            "channel": F("case__channel"),
            "plan_id": F("case__plan_id"),
            "churn_group": scan.case_churn_group("case__"),
            "kind": F("kind"),
            "rule_id": F("rule_id"),
        },
        measures={
            "shown": Count("pk"),
            "accepted": Count("pk", filter=Q(accepted_at__isnull=False)),
            "cost": money_sum("accepted_cost"),
        },
        monthly=True,
        totals=SUMMED_OVER_FILTERS,
    ),
    Rollup(
        model=FunnelDay,
        family=CASES,
        rows=lambda days: CancellationCase.objects.filter(channel="web", actor__isnull=True).filter(
            within_days("opened_at", days)
        ),
        day=TruncDate("opened_at"),
        dimensions={"plan_id": F("plan_id"), "churn_group": scan.case_churn_group()},
        measures={name: Count("pk", filter=condition) for name, condition in scan.FUNNEL.items()},
        totals=SUMMED_OVER_PLAN_AND_GROUP,
    ),
    Rollup(
        model=OutreachMix,
        family=OUTREACH,
        rows=_outreach_counted,
        day=Case(When(HOLDOUT, then=TruncDate("due_at")), default=TruncDate("contacted_at")),
        dimensions={
            **OUTREACH_FILTERS,
            "language": F("language"),
            "attempt": F("attempt"),
            "holdout": Case(When(HOLDOUT, then=True), default=False, output_field=BooleanField()),
        },
        measures={
            "contacts": Count("pk"),
            "comebacks_campaign": Count("pk", filter=ATTRIBUTED_TO_CAMPAIGN),
            "comebacks_contact": Count("pk", filter=ATTRIBUTED_TO_CONTACT),
            "came_back_after": Count(
                "pk",
                filter=(HOLDOUT & CAME_BACK_AFTER_PLAN)
                | (Q(status__in=CONTACTED) & CAME_BACK_AFTER_CONTACT),
            ),
        },
        monthly=True,
        totals={"plan_id": NO_ID},  # the breakdowns are by the other filters
    ),
    Rollup(
        model=OutreachDay,
        family=OUTREACH,
        rows=lambda days: Outreach.objects.filter(status__in=CONTACTED).filter(
            within_days("contacted_at", days)
        ),
        day=TruncDate("contacted_at"),
        dimensions=OUTREACH_FILTERS,
        measures={
            "contacts": Count("pk"),
            "first_contacts": Count("pk", filter=Q(attempt=1)),
            "first_comebacks": Count("pk", filter=Q(attempt=1) & ATTRIBUTED_TO_CAMPAIGN),
        },
        totals=SUMMED_OVER_PLAN_AND_GROUP,
    ),
    Rollup(
        model=ComebackDay,
        family=COMEBACKS,
        rows=lambda days: Comeback.objects.filter(within_days("at", days)),
        day=TruncDate("at"),
        dimensions={
            "campaign_id": F("campaign_id"),
            "churn_group": F("lost_customer__churn_group"),
            "channel": Coalesce(F("outreach__channel"), Value("")),
            "plan_id": F("lost_customer__plan_id"),
            "ended_on": scan.left_again_on(),
        },
        measures={
            "attributed": Count("pk", filter=scan.ATTRIBUTED),
            "organic": Count("pk", filter=~scan.ATTRIBUTED),
            "value": money_sum("value", filter=scan.ATTRIBUTED),
            "offer_cost": money_sum("offer_cost", filter=scan.ATTRIBUTED),
            "monthly_amount": money_sum("monthly_amount", filter=scan.ATTRIBUTED),
        },
        totals={**SUMMED_OVER_FILTERS, "campaign_id": NO_ID},
    ),
]


# --- Counting ------------------------------------------------------------------------------


def _insert(model: type[Model], source: QuerySet, columns: list[str]) -> None:
    """INSERT INTO the rollup SELECT the aggregated source (its columns aliased r_<column>)."""
    sql, params = source.query.sql_with_params()
    table = connection.ops.quote_name(model._meta.db_table)
    names = ", ".join(connection.ops.quote_name(column) for column in columns)
    aliases = ", ".join(connection.ops.quote_name(f"r_{column}") for column in columns)
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {table} ({names}) SELECT {aliases} FROM ({sql}) AS rollup_source",
            params,
        )


def _aliased(expressions: dict[str, object]) -> dict[str, object]:
    return {f"r_{column}": expression for column, expression in expressions.items()}


def recount(rollup: Rollup, days: Iterable[date] | None) -> None:
    """Count these days (None: every day) again from the raw rows, and their months."""
    days = None if days is None else sorted(set(days))
    if days == []:
        return
    model = rollup.model
    grain = {"grain": Value(Grain.DAY)} if rollup.monthly else {}
    scope = {"scope": Value(Scope.EACH)} if rollup.scoped else {}
    parts = [
        rollup.rows(days)
        .values(**_aliased({**grain, **scope, rollup.day_column: rollup.day, **keys}))
        .annotate(**_aliased(rollup.measures))
        .order_by()
        for keys in rollup.key_variants()
    ]
    source = parts[0].union(*parts[1:], all=True) if len(parts) > 1 else parts[0]
    stale = model.objects.all()
    if rollup.monthly:
        stale = stale.filter(grain=Grain.DAY)
    if days is not None:
        stale = stale.filter(**{f"{rollup.day_column}__in": days})
    stale.delete()
    columns = [*grain, *scope, rollup.day_column, *rollup.key_variants()[0], *rollup.measures]
    _insert(model, source, columns)
    if rollup.scoped:
        _insert_totals(rollup, days)
    if rollup.monthly:
        _recount_months(rollup, None if days is None else {month_start(day) for day in days})


def _insert_totals(rollup: Rollup, days: list[date] | None) -> None:
    """The TOTAL rows of these days (None: all), summed from their EACH rows."""
    model = rollup.model
    rows = model.objects.filter(scope=Scope.EACH)
    if rollup.monthly:
        rows = rows.filter(grain=Grain.DAY)
    if days is not None:
        rows = rows.filter(**{f"{rollup.day_column}__in": days})
    keys = {
        **({"grain": F("grain")} if rollup.monthly else {}),
        rollup.day_column: F(rollup.day_column),
        **{column: rollup.totals.get(column, F(column)) for column in rollup.group_columns},
        "scope": Value(Scope.TOTAL),
    }
    sums = {column: int_or_money_sum(model, column) for column in rollup.measures}
    _insert(
        model, rows.values(**_aliased(keys)).annotate(**_aliased(sums)).order_by(), [*keys, *sums]
    )


def _recount_months(rollup: Rollup, months: set[date] | None) -> None:
    model = rollup.model
    days = model.objects.filter(grain=Grain.DAY)
    stale = model.objects.filter(grain=Grain.MONTH)
    if months is not None:
        span = Q(pk__in=[])
        for month in months:
            span |= Q(period__gte=month, period__lt=next_month(month))
        days = days.filter(span)
        stale = stale.filter(period__in=months)
    keys = {
        "grain": Value(Grain.MONTH),
        "period": TruncMonth("period"),
        **{column: F(column) for column in rollup.group_columns},
    }
    sums = {column: int_or_money_sum(model, column) for column in rollup.measures}
    source = days.values(**_aliased(keys)).annotate(**_aliased(sums)).order_by()
    stale.delete()
    _insert(model, source, [*keys, *sums])


def int_or_money_sum(model: type[Model], column: str):
    field = model._meta.get_field(column)
    return money_sum(column) if field.get_internal_type() == "DecimalField" else int_sum(column)


def touched_days(marks: list[tuple[str, int]]) -> dict[str, set[date]]:
    """The days each family must recount for these (kind, object id) change marks: one query."""
    ids: dict[str, list[int]] = {kind: [] for kind in ChangeKind.values}
    for kind, object_id in marks:
        ids[kind].append(object_id)
    cases = CancellationCase.objects.filter(pk__in=ids[ChangeKind.CASE])
    outreach = Outreach.objects.filter(lost_customer_id__in=ids[ChangeKind.LOST_CUSTOMER])
    parts = [
        (CASES, cases, "opened_at"),
        (CASES, cases.filter(decided_at__isnull=False), "decided_at"),
        (CASES, Offer.objects.filter(case_id__in=ids[ChangeKind.CASE]), "presented_at"),
        (
            CASES,
            CancellationCase.objects.filter(
                subscription_id__in=ids[ChangeKind.SUBSCRIPTION_LEFT], outcome=CaseOutcome.SAVED
            ),
            "decided_at",
        ),
        (OUTREACH, outreach.filter(contacted_at__isnull=False), "contacted_at"),
        (OUTREACH, outreach.filter(HOLDOUT), "due_at"),
        (
            COMEBACKS,
            Comeback.objects.filter(lost_customer_id__in=ids[ChangeKind.LOST_CUSTOMER]),
            "at",
        ),
        (
            COMEBACKS,
            Comeback.objects.filter(subscription_id__in=ids[ChangeKind.SUBSCRIPTION_LEFT]),
            "at",
        ),
    ]
    queries = [
        queryset.annotate(family=Value(family), day=TruncDate(field))
        .values_list("family", "day")
        .distinct()
        .order_by()
        for family, queryset, field in parts
    ]
    days: dict[str, set[date]] = {family: set() for family in FAMILIES}
    for family, day in queries[0].union(*queries[1:]):
        days[family].add(day)
    return days


# --- Reading -------------------------------------------------------------------------------

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
