"""Counting the rollups (the writes): a set of days is deleted and inserted again from the
raw rows with one ``INSERT … SELECT`` per rollup, then the months those days fall in are
summed again from their days; the days to recount come from the change marks."""

from collections.abc import Iterable
from datetime import date, datetime, timedelta

from django.db import connection
from django.db.models import (
    F,
    Model,
    Q,
    QuerySet,
    Value,
)
from django.db.models.functions import TruncDate, TruncMonth

from cancellations.enums import CaseOutcome
from cancellations.models import CancellationCase, Offer
from core.enums import ChangeKind
from retention.models import (
    Grain,
    Scope,
)
from retention.periods import month_start, next_month
from retention.rollups.definitions import (
    CASES,
    COMEBACKS,
    FAMILIES,
    HOLDOUT,
    OUTREACH,
    Rollup,
)
from retention.scan import (
    VERIFY_DAYS,
    int_sum,
    money_sum,
)
from winback.models import Comeback, Outreach


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


def touched_days(marks: list[tuple[str, int, datetime]]) -> dict[str, set[date]]:
    """The days each family must recount for these (kind, object id, time) change marks: one
    query.

    A subscription that asked to leave changes whether its earlier saves count as
    billing-verified, but only saves decided within the longest verification window
    (``VERIFY_DAYS``) before it asked: an older save counted as kept already and stays so
    (``scan.left_within``). So only those saves' days are recounted, not every day the
    subscription was ever saved on.
    """
    ids: dict[str, list[int]] = {kind: [] for kind in ChangeKind.values}
    left_since = None
    for kind, object_id, at in marks:
        ids[kind].append(object_id)
        if kind == ChangeKind.SUBSCRIPTION_LEFT:
            left_since = at if left_since is None else min(left_since, at)
    if left_since is not None:
        left_since -= timedelta(days=max(VERIFY_DAYS))
    cases = CancellationCase.objects.filter(pk__in=ids[ChangeKind.CASE])
    outreach = Outreach.objects.filter(lost_customer_id__in=ids[ChangeKind.LOST_CUSTOMER])
    parts = [
        (CASES, cases, "opened_at"),
        (CASES, cases.filter(decided_at__isnull=False), "decided_at"),
        (CASES, Offer.objects.filter(case_id__in=ids[ChangeKind.CASE]), "presented_at"),
        (
            CASES,
            CancellationCase.objects.filter(
                subscription_id__in=ids[ChangeKind.SUBSCRIPTION_LEFT],
                outcome=CaseOutcome.SAVED,
                **({"decided_at__gte": left_since} if left_since else {}),
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
