from datetime import UTC, date, datetime, timedelta

import pytest
from django.db import connection, transaction

from core.dates import add_months
from demo.dates import months_after, period_end_after
from demo.writer import RowSink, bulk_load, copy_line, write_rows
from subscriptions.models import Customer

pytestmark = pytest.mark.django_db

COLUMNS = ("id", "external_id", "name", "email", "phone", "locale", "country")
COLUMNS += ("customer_since", "marketing_consent", "marketing_consent_at")
COLUMNS += ("marketing_consent_source", "created_at", "updated_at")


def _customer(pk: int, name: str, consent_at=None) -> tuple:
    at = datetime(2026, 3, 4, 5, 6, 7, tzinfo=UTC)
    return (pk, f"X{pk}", name, "", "", "sv", "SE", date(2020, 1, 31), True, consent_at, "", at, at)


def test_write_rows_keeps_tabs_newlines_backslashes_and_nulls():
    names = ["Tab\there", "Two\nlines", "Back\\slash \\N", "Plain Åsa"]
    write_rows(
        "subscriptions_customer", COLUMNS, [_customer(n, name) for n, name in enumerate(names, 1)]
    )
    assert list(Customer.objects.order_by("pk").values_list("name", "marketing_consent_at")) == [
        (name, None) for name in names
    ]


def test_a_row_sink_writes_every_batch_in_order():
    rows = [_customer(n, f"Name {n}", datetime(2025, 1, 1, tzinfo=UTC)) for n in range(1, 2001)]
    with RowSink({"subscriptions_customer": COLUMNS}) as sink:
        for row in rows:
            sink.rows["subscriptions_customer"].append(row)
            if len(sink.rows["subscriptions_customer"]) == 300:
                sink.flush()
    assert sink.written == {"subscriptions_customer": 2000}
    assert Customer.objects.count() == 2000
    assert Customer.objects.get(pk=1234).marketing_consent_at == datetime(2025, 1, 1, tzinfo=UTC)


def test_a_failed_copy_is_raised_and_rolls_back():
    duplicate = [_customer(1, "One"), _customer(1, "One again")]
    with (
        pytest.raises(Exception, match="duplicate key"),
        transaction.atomic(),
        RowSink({"subscriptions_customer": COLUMNS}) as sink,
    ):
        sink.rows["subscriptions_customer"].extend(duplicate)
    assert not Customer.objects.exists()


@pytest.mark.skipif(connection.vendor != "postgresql", reason="PostgreSQL's bulk load")
def test_bulk_load_checks_the_foreign_keys_it_put_back():
    from subscriptions.models import Subscription

    with (
        pytest.raises(Exception, match="foreign key"),
        transaction.atomic(),
        bulk_load("subscriptions_subscription"),
    ):
        Subscription.objects.bulk_create([_orphan_subscription()])


def _orphan_subscription():
    from subscriptions.models import Plan, Subscription

    plan = Plan.objects.create(code="orphan", name="Orphan", monthly_price=1, rank=1)
    at = datetime(2026, 1, 1, tzinfo=UTC)
    return Subscription(
        external_id="S-orphan",
        customer_id=987_654,
        plan=plan,
        started_at=at,
        current_period_end=at + timedelta(days=30),
        monthly_amount=1,
    )


def test_copy_line_writes_timestamps_dates_and_booleans_as_postgresql_reads_them():
    row = (7, True, False, None, date(2026, 2, 1), datetime(2026, 2, 1, 9, 5, 3, tzinfo=UTC))
    assert copy_line(row) == "7\tt\tf\t\x7f\t2026-02-01\t2026-02-01 09:05:03+00"


def test_months_after_and_period_ends_agree_with_the_services_calendar():
    start = datetime(2024, 1, 31, 8, 30, tzinfo=UTC)
    for months in range(-30, 30):
        assert months_after(start, months) == add_months(start, months)
    for day in range(0, 800, 7):
        moment = start + timedelta(days=day, hours=3)
        end = period_end_after(start, moment)
        assert end > moment
        months = (end.year - start.year) * 12 + end.month - start.month
        assert end == add_months(start, months) and add_months(start, months - 1) <= moment
