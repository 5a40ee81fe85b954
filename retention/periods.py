"""The dashboard's filters, and how a period maps onto local days and whole months."""

from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import date, datetime, time, timedelta

from django.db.models import Case, CharField, Q, Value, When
from django.utils import timezone


def day_start(day: date) -> datetime:
    """Midnight at the start of ``day`` in the local time zone."""
    return timezone.make_aware(datetime.combine(day, time.min))


def month_start(day: date) -> date:
    return day.replace(day=1)


def next_month(day: date) -> date:
    return (day.replace(day=28) + timedelta(days=4)).replace(day=1)


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
        return day_start(self.start)

    @property
    def until(self) -> datetime:
        return day_start(self.end + timedelta(days=1))

    def with_previous(self) -> tuple[tuple[str, "Filters"], tuple[str, "Filters"]]:
        """("current", this period) and ("previous", the one before), for side-by-side sums."""
        return ("current", self), ("previous", self.previous())

    def and_previous(self) -> "Filters":
        """This period and the one before it, as one span (read with ``series``)."""
        return replace(self, start=self.previous().start)

    def series(self, field: str, *, moment: bool = False) -> Case:
        """ "current" for rows whose ``field`` falls in this period, else "previous" (a row
        of ``and_previous()``); ``moment`` for a timestamp rather than a local day."""
        bound = self.since if moment else self.start
        return Case(
            When(**{f"{field}__gte": bound}, then=Value("current")),
            default=Value("previous"),
            output_field=CharField(),
        )

    def previous(self) -> "Filters":
        """The period of the same length just before this one."""
        length = (self.end - self.start).days + 1
        return replace(
            self, start=self.start - timedelta(days=length), end=self.start - timedelta(days=1)
        )


def whole_months_and_days(start: date, end: date) -> tuple[list[date], list[tuple[date, date]]]:
    """Split [start, end] into the months it covers whole and the ranges of days around
    them (each range inclusive)."""
    first = start if start.day == 1 else next_month(start)
    months = []
    month = first
    while next_month(month) - timedelta(days=1) <= end:
        months.append(month)
        month = next_month(month)
    if not months:
        return [], [(start, end)]
    days = []
    if start < months[0]:
        days.append((start, months[0] - timedelta(days=1)))
    after = next_month(months[-1])
    if after <= end:
        days.append((after, end))
    return months, days


def day_ranges(days: Iterable[date]) -> list[tuple[date, date]]:
    """Runs of consecutive days, each as an inclusive (first, last)."""
    runs: list[tuple[date, date]] = []
    for day in sorted(set(days)):
        if runs and runs[-1][1] + timedelta(days=1) == day:
            runs[-1] = (runs[-1][0], day)
        else:
            runs.append((day, day))
    return runs


def within_days(field: str, days: Iterable[date] | None) -> Q:
    """Rows whose timestamp ``field`` falls on one of ``days`` (local dates); all rows when
    ``days`` is None. Written as ranges, so an index on the field serves it."""
    if days is None:
        return Q()
    condition = Q(pk__in=[])
    for first, last in day_ranges(days):
        condition |= Q(
            **{f"{field}__gte": day_start(first), f"{field}__lt": day_start(last + timedelta(1))}
        )
    return condition
