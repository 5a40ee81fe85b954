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


@pytest.mark.django_db
def test_many_rows_get_values_of_their_own_in_one_statement():
    from datetime import UTC, datetime

    from core.models import OutboundEmail
    from core.sql import update_from_values

    def email(n):
        return OutboundEmail.objects.create(
            dedupe_key=f"k{n}", kind="test", to_email=f"{n}@example.com", subject="before"
        )

    first, second, untouched = email(1), email(2), email(3)
    at = datetime(2026, 12, 8, 3, 0, tzinfo=UTC)

    with CaptureQueriesContext(connection) as captured:
        changed = update_from_values(
            OutboundEmail,
            fields=["subject", "claimed_at"],
            rows=[(first.pk, "första", at), (second.pk, "", None)],
        )

    assert changed == 2
    assert _statements(captured) == ["UPDATE"]
    rows = OutboundEmail.objects.order_by("pk").values_list("subject", "claimed_at")
    assert list(rows) == [("första", at), ("", None), ("before", None)]
    assert untouched.pk == OutboundEmail.objects.order_by("pk").last().pk


@pytest.mark.django_db(transaction=True)
def test_a_write_may_skip_waiting_for_the_disk_only_outside_a_transaction():
    from django.db import transaction

    from core.sql import execute_prepared

    setting = "SELECT current_setting('synchronous_commit')"

    def read(**options) -> str:
        with connection.cursor() as cursor:
            execute_prepared(cursor, setting, [], **options)
            return cursor.fetchone()[0]

    with connection.cursor() as cursor:  # the test databases turn it off for speed
        cursor.execute("SET synchronous_commit TO on")
    try:
        assert read(without_waiting_for_disk=True) == "off"  # that statement alone
        assert read() == "on"
        with transaction.atomic():  # the caller's transaction keeps its durability
            assert read(without_waiting_for_disk=True) == "on"
    finally:
        with connection.cursor() as cursor:
            cursor.execute("RESET synchronous_commit")


@pytest.mark.django_db(transaction=True)
def test_an_email_is_claimed_waiting_for_the_disk_and_recorded_sent_without(mailoutbox):
    from core.models import OutboundEmail
    from core.outbox.email import email_send

    email = OutboundEmail.objects.create(
        dedupe_key="receipt", kind="test", to_email="a@example.com", subject="Thanks"
    )
    with CaptureQueriesContext(connection) as captured:
        assert email_send(email_id=email.pk)

    executed = [q["sql"] for q in captured.captured_queries if "EXECUTE" in q["sql"]]
    assert len(executed) == 2  # the claim, then the record
    assert not executed[0].startswith("SET LOCAL")
    assert executed[1].startswith("SET LOCAL synchronous_commit TO OFF; EXECUTE")
    assert OutboundEmail.objects.get(pk=email.pk).status == "sent"
    assert [message.subject for message in mailoutbox] == ["Thanks"]
