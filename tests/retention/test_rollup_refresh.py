"""Refreshing the rollups: when a refresh is asked for, how fresh the page says the figures
are, how periods are cut, and two refreshes at once (test_rollups holds the equality with the
raw scan over a mixed book)."""

import threading
from datetime import date, timedelta

import pytest
from django.core.cache import cache
from django.db import connection, transaction
from django.utils import timezone

from cancellations import services as case_services
from cancellations.models import CancellationCase
from core import changes
from core.changes import (
    LAST_REFRESH_SECONDS_KEY,
    REFRESH_REQUESTED_KEY,
    refresh_delay,
    rollup_refresh_finished,
)
from core.models import ChangeMark
from retention.models import CaseDay, RollupState
from retention.periods import whole_months_and_days
from retention.services import rollups_refresh
from tests.factories import make_subscription
from tests.retention.conftest import defaults, plans  # noqa: F401 - shared fixtures
from tests.retention.test_rollups import (
    WEB,
    add_cases,
    assert_rollups_equal_the_scan,
    build_mixed_book,
    periods,
)

pytestmark = pytest.mark.django_db


def test_a_rolled_back_change_leaves_no_mark(defaults, plans):  # noqa: F811
    subscription = make_subscription(plan=plans["standard"])

    with pytest.raises(RuntimeError), transaction.atomic():
        case_services.cancellation_start(subscription=subscription, actor=WEB)
        assert ChangeMark.objects.count() == 1
        raise RuntimeError("the request failed after the change")

    assert ChangeMark.objects.count() == 0
    assert not CancellationCase.objects.exists()


@pytest.mark.rollups_follow_changes
def test_a_write_asks_for_a_refresh_once_it_commits(
    defaults,  # noqa: F811
    plans,  # noqa: F811
    settings,
    django_capture_on_commit_callbacks,
):
    rollups_refresh()
    cache.delete(REFRESH_REQUESTED_KEY)
    subscription = make_subscription(plan=plans["standard"])

    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        case = case_services.cancellation_start(subscription=subscription, actor=WEB)
        case_services.cancellation_decline(case=case, actor=WEB)

    assert callbacks  # the refresh request, run eagerly here (a worker takes it in production)
    assert ChangeMark.objects.count() == 0
    today = timezone.localdate()
    for scope in ("each", "total"):
        rows = CaseDay.objects.filter(day=today, scope=scope)
        assert list(rows.values_list("cancelled", flat=True)) == [1]


@pytest.mark.rollups_follow_changes
def test_a_transaction_asks_for_one_refresh_however_many_marks_it_writes(
    defaults,  # noqa: F811
    plans,  # noqa: F811
    django_capture_on_commit_callbacks,
):
    subscription = make_subscription(plan=plans["standard"])

    with django_capture_on_commit_callbacks() as callbacks, transaction.atomic():
        case = case_services.cancellation_start(subscription=subscription, actor=WEB)
        case_services.cancellation_decline(case=case, actor=WEB)

    kinds = set(ChangeMark.objects.values_list("kind", flat=True))
    assert kinds == {"case", "subscription_left"}
    assert ChangeMark.objects.count() >= 3  # opened, declined, asked to leave
    assert [hook for hook in callbacks if hook is changes.request_rollup_refresh] == [
        changes.request_rollup_refresh
    ]


def test_a_mark_inside_a_rolled_back_savepoint_does_not_take_the_request_with_it(
    defaults,  # noqa: F811
    plans,  # noqa: F811
    django_capture_on_commit_callbacks,
):
    with django_capture_on_commit_callbacks() as callbacks, transaction.atomic():
        with pytest.raises(RuntimeError), transaction.atomic():
            changes.changes_mark(kind="case", ids=[1])
            raise RuntimeError("rolled back")
        changes.changes_mark(kind="case", ids=[2])

    assert list(ChangeMark.objects.values_list("object_id", flat=True)) == [2]
    assert [hook for hook in callbacks if hook is changes.request_rollup_refresh] == [
        changes.request_rollup_refresh
    ]


def test_the_page_says_how_fresh_the_figures_are(client, manager, defaults, plans):  # noqa: F811
    client.force_login(manager)
    rollups_refresh(now=timezone.now() - timedelta(minutes=3))
    make_subscription(plan=plans["standard"])
    case_services.cancellation_start(
        subscription=make_subscription(plan=plans["standard"]), actor=WEB
    )

    html = client.get("/admin/retention/dashboard/").content.decode()

    assert "Figures as of" in html
    assert "1 change is waiting to be counted" in html


def test_before_the_first_count_the_page_says_so(client, manager, defaults):  # noqa: F811
    client.force_login(manager)
    RollupState.objects.all().delete()  # a new installation: never counted

    html = client.get("/admin/retention/dashboard/").content.decode()

    assert "The figures have not been counted yet" in html
    assert "waiting to be counted" not in html


def test_a_period_reads_whole_months_and_the_days_around_them():
    assert whole_months_and_days(date(2026, 1, 15), date(2026, 4, 10)) == (
        [date(2026, 2, 1), date(2026, 3, 1)],
        [(date(2026, 1, 15), date(2026, 1, 31)), (date(2026, 4, 1), date(2026, 4, 10))],
    )
    assert whole_months_and_days(date(2026, 2, 1), date(2026, 2, 28)) == (
        [date(2026, 2, 1)],
        [],
    )
    assert whole_months_and_days(date(2026, 2, 3), date(2026, 2, 20)) == (
        [],
        [(date(2026, 2, 3), date(2026, 2, 20))],
    )
    assert whole_months_and_days(date(2025, 12, 1), date(2026, 1, 31)) == (
        [date(2025, 12, 1), date(2026, 1, 1)],
        [],
    )


def test_a_slow_refresh_spaces_out_the_next_ones(settings):
    """Under a stream of changes a refresh is asked for again as soon as one starts; after a
    slow one the next waits nine times as long, never longer than the periodic interval."""
    settings.TACK_ROLLUP_REFRESH_DELAY_SECONDS = 2
    settings.TACK_ROLLUP_REFRESH_SECONDS = 60
    cache.delete(LAST_REFRESH_SECONDS_KEY)
    assert refresh_delay() == 2

    rollups_refresh()
    took = cache.get(LAST_REFRESH_SECONDS_KEY)
    assert took is not None and 0 <= took < 30

    rollup_refresh_finished(0.2)
    assert refresh_delay() == 2
    rollup_refresh_finished(3.0)
    assert refresh_delay() == 27
    rollup_refresh_finished(40.0)
    assert refresh_delay() == 60
    cache.delete(LAST_REFRESH_SECONDS_KEY)


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_two_refreshes_at_once_count_each_day_once():
    with transaction.atomic():  # committed: the refreshes run on connections of their own
        book = build_mixed_book()
    rollups_refresh()
    add_cases(book["rng"], book["plans"], book["agent"], 6, span=30)
    errors = []

    def refresh():
        try:
            rollups_refresh()
        except Exception as exc:  # reported below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=refresh) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert errors == []
    assert_rollups_equal_the_scan(periods()[:2])
