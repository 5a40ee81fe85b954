from datetime import date, timedelta

import pytest
from django.apps import apps
from django.utils import timezone

from cancellations.defaults import ensure_defaults
from cancellations.models import ExitReason
from tests.factories import make_plan, make_subscription


@pytest.fixture
def defaults(db):
    """The shipped exit reasons and offer rules (transactional tests flush the migration's)."""
    ensure_defaults(apps)


@pytest.fixture
def plans(db):
    return {
        "basic": make_plan(code="basic", price="129.00", rank=1),
        "standard": make_plan(code="standard", price="199.00", rank=2),
        "premium": make_plan(code="premium", price="299.00", rank=3),
    }


@pytest.fixture
def subscription(defaults, plans):
    """A Swedish customer since March 2019 on the standard plan, period ending in 12 days."""
    return make_subscription(
        plan=plans["standard"],
        since=date(2019, 3, 14),
        period_end=timezone.now() + timedelta(days=12),
    )


def reason(code: str) -> ExitReason:
    return ExitReason.objects.get(code=code)
