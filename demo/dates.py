"""Calendar arithmetic for the demo's hot loop: the same answers as ``core.dates`` and the
services give, without their per-call cost (``calendar.monthrange``, time-zone lookups)."""

from datetime import date, datetime
from functools import cache
from zoneinfo import ZoneInfo

from django.conf import settings

from core.dates import whole_months_between

_DAYS_IN_MONTH = (31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)


def _days_in(year: int, month: int) -> int:
    if month == 2 and year % 4 == 0 and (year % 100 != 0 or year % 400 == 0):
        return 29
    return _DAYS_IN_MONTH[month - 1]


def months_after(value: datetime, months: int) -> datetime:
    """``core.dates.add_months``: the same day ``months`` later, clamped to the month's end."""
    index = value.month - 1 + months
    year, month = value.year + index // 12, index % 12 + 1
    day = min(value.day, _days_in(year, month))
    return value.replace(year=year, month=month, day=day)


def period_end_after(started: datetime, moment: datetime) -> datetime:
    """The end of the monthly billing period (counted from ``started``) running at ``moment``."""
    months = (moment.year - started.year) * 12 + moment.month - started.month
    end = months_after(started, months)
    return end if end > moment else months_after(started, months + 1)


@cache
def company_zone() -> ZoneInfo:
    return ZoneInfo(settings.TIME_ZONE)


def local_date(moment: datetime) -> date:
    """``timezone.localdate``: the day it was in the company's time zone."""
    return moment.astimezone(company_zone()).date()


def tenure_at(since: date, moment: datetime) -> int:
    """Whole months a customer had been with us at ``moment``, as the services count them."""
    return whole_months_between(since, local_date(moment))
