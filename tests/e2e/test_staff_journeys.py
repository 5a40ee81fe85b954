"""Staff in the Django admin, in a real browser: an agent logs a phone exit interview, a
manager narrows the retention dashboard to a date range and downloads a table as CSV."""

import csv
import io
from datetime import date, timedelta
from pathlib import Path

import pytest
from django.core.cache import cache
from django.utils import timezone, translation
from django.utils.formats import date_format

from cancellations.enums import CaseChannel, CaseOutcome, OfferKind
from cancellations.models import CancellationCase
from retention import selectors, tables
from retention.views import _cell
from subscriptions.enums import EventKind, SubscriptionStatus
from tests.cancellations.conftest import reason
from tests.e2e.conftest import admin_login
from tests.factories import make_subscription

ADMIN_HEADER = "#header"


def assert_admin_is_styled(page) -> None:
    """The admin's stylesheet loaded: its header has a background colour of its own."""
    colour = page.locator(ADMIN_HEADER).evaluate("el => getComputedStyle(el).backgroundColor")
    assert colour not in ("rgba(0, 0, 0, 0)", "transparent")


def test_an_agent_logs_a_phone_exit_interview_and_applies_a_pause(
    page,
    screenshots,
    agent,
    defaults,
    plans,
):
    subscription = make_subscription(
        plan=plans["standard"],
        name="Astrid Lindqvist",
        period_end=timezone.now() + timedelta(days=12),
    )
    make_subscription(plan=plans["basic"], name="Bertil Lindgren")  # another customer
    shot = screenshots(page, "en", "phone-desk")

    admin_login(page, agent)
    assert_admin_is_styled(page)
    shot("admin-index")
    page.locator("#phone-desk").get_by_role("link", name="Log a phone exit interview").click()
    page.get_by_label("Find the customer").fill("Lindqvist")
    page.get_by_role("button", name="Search").click()
    results = page.locator("#results tbody tr")
    assert results.count() == 1 and "Astrid Lindqvist" in results.inner_text()
    shot("search")
    results.get_by_role("link", name="Open interview").click()
    assert page.get_by_role(
        "heading", name=f"Astrid Lindqvist · {subscription.external_id}"
    ).is_visible()
    assert "Standard, 199.00 SEK/month" in page.locator("#content-main table").first.inner_text()
    proposals = page.locator("#offers tr").filter(has_text=reason("moving").label_en)
    assert "pause" in proposals.inner_text()
    shot("customer-at-a-glance")

    page.get_by_label("Exit reason").select_option(label=reason("moving").label_en)
    page.get_by_label("Churn group (your judgment)").select_option(label="Pulled away")
    page.get_by_label("Notes").fill("Moving to Oslo in the spring")
    page.get_by_label("Saved: the customer accepted an offer").check()
    page.get_by_label("Offer accepted").select_option(label="Pause")
    page.get_by_label("Pause months").fill("2")
    page.get_by_label("Call duration (minutes)").fill("6")
    shot("call-filled-in")
    page.get_by_role("button", name="Log the call").click()
    page.wait_for_url("**/admin/cancellations/cancellationcase/*/change/")
    assert "Logged:" in page.locator(".messagelist").inner_text()
    assert_admin_is_styled(page)
    shot("case-recorded")

    case = CancellationCase.objects.get(subscription=subscription)
    assert (case.channel, case.actor, case.outcome) == (CaseChannel.PHONE, agent, CaseOutcome.SAVED)
    assert (case.reason.code, case.churn_group, case.call_duration_seconds) == (
        "moving",
        "pulled_away",
        360,
    )
    assert case.accepted_offer.kind == OfferKind.PAUSE
    assert case.notes == "Moving to Oslo in the spring"
    subscription.refresh_from_db()
    assert subscription.status == SubscriptionStatus.PAUSED
    last = subscription.events.order_by("-sequence").first()
    assert (last.kind, last.channel, last.actor) == (EventKind.PAUSED, "phone", agent)


def table_csv(name: str, start: date, end: date) -> str:
    """What the server's selectors say the named table is for this range, as CSV."""
    data = selectors.dashboard(selectors.Filters(start=start, end=end))
    with translation.override("en"):
        labels = dict(selectors.page_meta("en")[0]["reason"])
        table = next(t for t in tables.all_tables(data, labels) if t.name == name)
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(table.columns)
    writer.writerows([_cell(value) for value in row] for row in table.csv_rows())
    return out.getvalue()


@pytest.fixture
def no_cached_filter_choices():
    cache.delete("retention:filter-choices")


def test_a_manager_narrows_the_dashboard_and_downloads_a_table(
    page,
    screenshots,
    manager,
    book,
    no_cached_filter_choices,
):
    today = timezone.localdate()
    start = today - timedelta(days=7)
    shot = screenshots(page, "en", "dashboard")

    admin_login(page, manager)
    page.locator("#retention-dashboard").get_by_role("link", name="Retention dashboard").click()
    page.wait_for_url("**/admin/retention/dashboard/")
    assert_admin_is_styled(page)
    assert page.locator("svg.chart").count() == 2  # the overview: save rate and hit rate
    shot("overview")
    page.get_by_role("link", name="Reasons", exact=True).click()
    page.wait_for_url("**tab=reason**")
    by_reason = page.locator("#table-cases_by_reason")
    assert reason("moving").label_en in by_reason.inner_text()  # saved 10 days ago
    shot("last-30-days")

    page.get_by_label("From:", exact=True).fill(start.isoformat())
    page.get_by_label("To:", exact=True).fill(today.isoformat())
    page.get_by_role("button", name="Show").click()
    page.wait_for_url(f"**start={start.isoformat()}**")
    with translation.override("en"):
        period = f"{date_format(start)} \N{EN DASH} {date_format(today)} against"
    assert page.locator(".freshness").inner_text().startswith(period)
    shown = by_reason.inner_text()
    assert reason("price").label_en in shown and reason("moving").label_en not in shown
    shot("last-7-days")

    with page.expect_download() as download_info:
        by_reason.get_by_role("link", name="CSV").click()
    download = download_info.value
    assert download.suggested_filename == f"tack-cases_by_reason-{start}-{today}.csv"
    content = Path(download.path()).read_bytes().decode("utf-8")
    assert content == table_csv("cases_by_reason", start, today)
    rows = list(csv.reader(io.StringIO(content, newline="")))
    assert [row[0] for row in rows[1:]] == [reason("price").label_en, "Total"]
    # The page and the file show the same table (the page writes money with its currency,
    # and a rate on few cases with its count: "50.0% (2)").
    page_rows = [
        [cell.strip() for cell in row.split("\t")]
        for row in by_reason.locator("tbody tr, tfoot tr").all_inner_texts()
    ]
    assert [row[:4] for row in page_rows] == [row[:4] for row in rows[1:]]
    assert [row[4].split(" ")[0] for row in page_rows] == [row[4] for row in rows[1:]]
