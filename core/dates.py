"""Calendar arithmetic the domain needs (whole months, tenure)."""

import calendar
from datetime import date, datetime


def add_months(value: datetime | date, months: int):
    """The same day ``months`` later (or earlier), clamped to the month's last day."""
    month_index = value.month - 1 + months
    year, month = value.year + month_index // 12, month_index % 12 + 1
    day = min(value.day, calendar.monthrange(year, month)[1])
    return value.replace(year=year, month=month, day=day)


def whole_months_between(start: date, end: date) -> int:
    """Completed months from ``start`` to ``end`` (0 if ``end`` is earlier)."""
    months = (end.year - start.year) * 12 + end.month - start.month
    if end.day < start.day:
        months -= 1
    return max(months, 0)
