import pytest
from django.core.management import CommandError, call_command

from subscriptions.models import Customer, Subscription, SubscriptionEvent
from tests.factories import make_plan

pytestmark = pytest.mark.django_db

HEADER = (
    "customer_external_id,name,email,phone,locale,country,customer_since,marketing_consent,"
    "subscription_external_id,plan,status,started_at,current_period_end,monthly_amount\n"
)
ROWS = [
    "c1,Anna Berg,anna@example.com,+4670111,sv,SE,2019-03-01,true,s1,standard,,2019-03-01T09:00:00Z,2030-01-01T00:00:00Z,\n",
    "c2,Bo Lund,bo@example.com,,da,DK,2021-06-01,false,s2,gold,,,,\n",
    "c3,,x@example.com,,sv,SE,2020-01-01,,s3,standard,,,,\n",
    "c4,Eli Moen,eli@example.com,,xx,NO,2020-01-01,,s4,standard,,,,\n",
    "c5,Tor Lie,tor@example.com,,nb,NO,2022-02-02,,s5,standard,cancelled,,,149.00\n",
]


@pytest.fixture
def csv_file(tmp_path):
    path = tmp_path / "subs.csv"
    path.write_text(HEADER + "".join(ROWS), encoding="utf-8")
    return path


def test_import_reports_bad_rows_with_line_numbers_and_imports_the_good(csv_file, capsys):
    make_plan(code="standard")

    with pytest.raises(CommandError, match="3 row"):
        call_command("import_subscriptions", str(csv_file))

    err = capsys.readouterr().err
    assert "line 3: plan: Object with code=gold does not exist." in err
    assert "line 4: name: required" in err
    assert "line 5: locale:" in err
    assert set(Subscription.objects.values_list("external_id", "status")) == {
        ("s1", "active"),
        ("s5", "cancelled"),
    }
    assert Customer.objects.get(external_id="c1").marketing_consent is True


def test_import_rerun_changes_nothing(csv_file, capsys):
    make_plan(code="standard")
    with pytest.raises(CommandError):
        call_command("import_subscriptions", str(csv_file))
    events = SubscriptionEvent.objects.count()

    with pytest.raises(CommandError):
        call_command("import_subscriptions", str(csv_file))

    out = capsys.readouterr().out.strip().splitlines()[-1]
    assert out == "0 imported or updated, 2 unchanged, 3 rejected."
    assert SubscriptionEvent.objects.count() == events
    assert Subscription.objects.count() == 2


def test_import_missing_columns_is_reported(tmp_path, capsys):
    path = tmp_path / "bad.csv"
    path.write_text("name,email\nA,a@example.com\n")
    with pytest.raises(CommandError):
        call_command("import_subscriptions", str(path))
    assert "missing columns: customer_external_id" in capsys.readouterr().err
