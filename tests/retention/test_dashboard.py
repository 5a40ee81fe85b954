"""The dashboard page: who may see it, what it shows, CSV, and a constant number of queries."""

import csv
import io
from datetime import date, timedelta

import pytest
from django.urls import reverse

from retention.models import CaseDay, CaseMix, FunnelDay, OfferMix

pytestmark = pytest.mark.django_db
URL = "/admin/retention/dashboard/"
START = (date.today() - timedelta(days=700)).isoformat()


def test_managers_see_the_dashboard_with_charts_tables_and_definitions(client, manager, book):
    client.force_login(manager)

    response = client.get(URL)

    assert response.status_code == 200
    html = response.content.decode()
    assert "Retention dashboard" in html
    assert html.count('<svg class="chart"') == 2  # the overview's two; the tabs have more
    for text in (
        "Save rate",
        "deflection",
        "Billing-verified",
        "Hit rate",
        'id="definitions"',
        "Retain vs win back",
    ):
        assert text in html
    assert "Web funnel" in client.get(URL, {"tab": "offer"}).content.decode()


def test_agents_outsiders_and_anonymous_are_refused(client, agent, outsider):
    assert client.get(URL).status_code == 302  # to the login page
    client.force_login(outsider)
    assert client.get(URL).status_code == 302
    client.force_login(agent)
    assert client.get(URL).status_code == 403


def test_the_admin_index_links_to_it_for_managers_only(client, manager, agent):
    client.force_login(manager)
    assert URL in client.get(reverse("admin:index")).content.decode()
    client.force_login(agent)
    assert URL not in client.get(reverse("admin:index")).content.decode()


def test_filters_change_the_figures_and_bad_dates_are_refused(client, manager, book, plans):
    client.force_login(manager)

    phone = client.get(URL, {"channel": "phone", "start": START})
    backwards = client.get(URL, {"start": "2026-02-01", "end": "2026-01-01"})

    assert phone.context["data"]["cases"]["saved"] == 1
    assert backwards.status_code == 400
    assert "must start before it ends" in backwards.content.decode()


def test_every_table_downloads_as_csv(client, manager, book):
    client.force_login(manager)
    page = client.get(URL, {"start": START, "tab": "trends"})  # a tab reads every table

    assert len(page.context["tables"]) > 15
    for name in page.context["tables"]:
        response = client.get(URL, {"start": START, "csv": name})
        assert response.status_code == 200
        assert response["Content-Type"].startswith("text/csv")
        rows = list(csv.reader(io.StringIO(response.content.decode())))
        assert rows[0] == page.context["tables"][name].columns
    reasons = client.get(URL, {"start": START, "csv": "cases_by_reason"}).content.decode()
    assert "It costs too much,1,1,1,50.0%" in reasons
    assert client.get(URL, {"csv": "nope"}).status_code == 404


@pytest.mark.slow
def test_a_page_load_costs_the_same_queries_with_ten_rows_or_a_hundred_thousand(
    client, manager, django_assert_max_num_queries, book, plans
):
    client.force_login(manager)
    client.get(URL)  # warm the session
    with django_assert_max_num_queries(15) as few:
        small = client.get(URL, {"start": START})
    many_rollup_rows(100_000, plans["basic"].pk)
    with django_assert_max_num_queries(15) as many:
        big = client.get(URL, {"start": START})

    assert len(few.captured_queries) == len(many.captured_queries)
    saved = [page.context["data"]["cases"]["saved"] for page in (small, big)]
    assert saved[1] == saved[0] + 100_000 // 8
    # The overview reads its cards and weekly rates only, not the other tabs' breakdowns.
    with django_assert_max_num_queries(15) as tab:
        client.get(URL, {"start": START, "tab": "reason"})
    assert len(few.captured_queries) < len(tab.captured_queries)


def many_rollup_rows(count: int, plan_id: int) -> None:
    """A year of day rows in every rollup the page reads, both scopes (what a big book
    leaves)."""
    today = date.today()
    days = [today - timedelta(days=n % 365) for n in range(count // 8)]
    each = {"scope": "each", "plan_id": plan_id, "churn_group": "self_switcher"}
    total = {"scope": "total", "plan_id": None, "churn_group": ""}
    CaseDay.objects.bulk_create(
        (
            CaseDay(day=day, channel="web", saved=1, cancelled=1, **scope)
            for day in days
            for scope in (each, total)
        ),
        batch_size=5000,
    )
    CaseMix.objects.bulk_create(
        (
            CaseMix(grain="day", period=day, tenure_band="5+ years", saved=1, **scope)
            for day in days
            for scope in ({**each, "channel": "web"}, {**total, "channel": ""})
        ),
        batch_size=5000,
    )
    OfferMix.objects.bulk_create(
        (
            OfferMix(grain="day", period=day, kind="pause", shown=1, **scope)
            for day in days
            for scope in ({**each, "channel": "web"}, {**total, "channel": ""})
        ),
        batch_size=5000,
    )
    FunnelDay.objects.bulk_create(
        (FunnelDay(day=day, opened=1, **scope) for day in days for scope in (each, total)),
        batch_size=5000,
    )


def test_csv_cells_are_never_read_as_formulas(client, manager, book):
    from cancellations.models import ExitReason

    ExitReason.objects.filter(code="price").update(label_en='=HYPERLINK("http://evil")')
    client.force_login(manager)

    body = client.get(URL, {"start": START, "csv": "cases_by_reason"}).content.decode()

    assert "'=HYPERLINK" in body
    assert "\n=HYPERLINK" not in body


@pytest.mark.parametrize(
    ("language", "words"),
    [
        ("sv", ["Andel räddade", "Behålla eller återvinna"]),
        ("da", ["Fastholdelsesrate", "Fastholde eller genvinde"]),
        ("nb", ["Andel beholdt", "Beholde eller gjenvinne"]),
    ],
)
def test_the_dashboard_speaks_the_managers_language(client, manager, book, language, words):
    client.force_login(manager)

    html = client.get(URL, {"start": START}, headers={"accept-language": language}).content
    groups = client.get(
        URL, {"start": START, "tab": "churn_group"}, headers={"accept-language": language}
    ).content.decode()

    for word in words:
        assert word in html.decode()
    assert ">self_switcher<" not in groups  # a label, never the code
    assert ">unintentionally_pushed<" not in groups


def test_money_has_its_currency_and_the_locales_separators(client, manager, book):
    client.force_login(manager)

    english = client.get(URL, {"start": START}).content.decode()
    swedish = client.get(URL, {"start": START}, headers={"accept-language": "sv"}).content.decode()

    # 896.00 a month kept x 12 - 1,996.00 in offers = 8,756.00 a year
    assert "SEK 8,756 a year" in english
    assert "8\xa0756 SEK per år" in swedish
