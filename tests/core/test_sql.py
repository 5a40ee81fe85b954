"""The customer flow's hand-written reads are prepared once per database connection."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from cancellations.selectors import flow_subscription
from tests.factories import make_subscription

# transaction=True: the test closes its connection to open a new one.


def _statements(captured) -> list[str]:
    return [query["sql"].split(" ", 1)[0] for query in captured.captured_queries]


def _prepared_here() -> int:
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM pg_prepared_statements WHERE name LIKE 'tack_%%'")
        return cursor.fetchone()[0]


@pytest.mark.django_db(transaction=True)
def test_a_flow_read_is_prepared_once_per_connection_and_again_on_a_new_one(settings):
    subscription = make_subscription()
    connection.close()  # a new connection: nothing prepared on it yet
    with CaptureQueriesContext(connection) as first:
        read = flow_subscription(pk=subscription.pk, case="latest")
    with CaptureQueriesContext(connection) as second:
        again = flow_subscription(pk=subscription.pk, case="latest")

    assert _statements(first) == ["PREPARE", "EXECUTE"]
    assert _statements(second) == ["EXECUTE"]
    assert _prepared_here() == 1
    assert (read.pk, read.customer.pk, read.plan.pk, read.flow_case) == (
        subscription.pk,
        subscription.customer_id,
        subscription.plan_id,
        None,
    )
    assert (again.pk, again.status, again.current_period_end) == (
        subscription.pk,
        subscription.status,
        subscription.current_period_end,
    )

    connection.close()
    with CaptureQueriesContext(connection) as reconnected:
        flow_subscription(pk=subscription.pk, case="latest")
    assert _statements(reconnected) == ["PREPARE", "EXECUTE"]

    settings.TACK_PREPARED_STATEMENTS = False  # behind a pooler that shares sessions
    with CaptureQueriesContext(connection) as plain:
        unprepared = flow_subscription(pk=subscription.pk, case="latest")
    assert _statements(plain) == ["SELECT"]
    assert unprepared.__dict__.keys() == read.__dict__.keys()
    assert (unprepared.pk, unprepared.customer.email) == (read.pk, read.customer.email)
