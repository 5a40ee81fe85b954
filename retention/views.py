"""The retention dashboard, inside the admin site (same login and look)."""

import csv

from django.conf import settings
from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import Http404, HttpResponse
from django.template.response import TemplateResponse
from django.utils.translation import get_language
from django.utils.translation import gettext_lazy as _

from retention import charts, definitions, formatting, selectors, tables
from retention.forms import (
    PRESETS,
    DashboardFilterForm,
    VoiceFilterForm,
    default_filters,
    default_voice_filters,
)

PERMISSION = "retention.view_dashboard"


TABS = {
    "overview": (_("Overview"), []),
    "reason": (_("Reasons"), ["cases_by_reason", "cancellations_by_reason_per_month"]),
    "offer": (_("Offers"), ["cases_by_offer_kind", "cases_by_offer_rule", "offers", "funnel"]),
    "channel": (_("Channels"), ["cases_by_channel", "winback_by_channel"]),
    "agent": (_("Agents"), ["cases_by_agent"]),
    "plan": (_("Plans"), ["cases_by_plan", "cases_by_tenure"]),
    "churn_group": (
        _("Churn groups"),
        [
            "cases_by_churn_group",
            "winback_by_churn_group",
            "cancellations_by_churn_group_per_month",
        ],
    ),
    "campaign": (_("Campaigns"), ["winback_by_campaign", "winback_by_attempt"]),
    "message": (_("Messages"), ["winback_by_message"]),
    "trends": (_("Weekly and summary"), ["weekly", "summary"]),
}
TAB_CHARTS = {
    "reason": {
        "cases_by_reason": "reasons",
        "cancellations_by_reason_per_month": "reasons_over_time",
    },
    "churn_group": {
        "cases_by_churn_group": "groups",
        "cancellations_by_churn_group_per_month": "groups_over_time",
    },
}


def dashboard(request):
    """Wrapped in ``admin.site.admin_view`` by the URLconf: staff only, then this permission."""
    admin_site = admin.site
    if not request.user.has_perm(PERMISSION):
        raise PermissionDenied
    choices, freshness = selectors.page_meta(get_language())
    form = DashboardFilterForm(request.GET or None, choices=choices)
    status = 200
    if form.is_bound and form.is_valid():
        filters = form.filters()
    else:
        status = 400 if form.is_bound else 200
        filters = default_filters()
    tab = request.GET.get("tab", "overview")
    csv_name = request.GET.get("csv")
    # The overview reads only its cards and weekly rates; the other tabs (and a CSV) read
    # their breakdowns too.
    overview = tab == "overview" and not csv_name
    data = selectors.dashboard(filters, overview=overview)
    minimum = settings.TACK_DASHBOARD_MIN_CASES
    if overview:
        by_name = {"summary": tables.summary_table(data)}
        all_charts = charts.overview_charts(data, minimum=minimum)
    else:
        all_tables = tables.all_tables(data, dict(choices["reason"]))
        if csv_name:
            return _csv(all_tables, csv_name, filters)
        if tab not in TABS:
            raise Http404
        by_name = {table.name: table for table in all_tables}
        all_charts = charts.dashboard_charts({**data, "tables": by_name}, minimum=minimum)
    sort, descending = _sort(request.GET.get("sort", ""))
    shown = []
    for name in TABS[tab][1]:
        table = by_name[name]
        if sort and sort[0] == name:
            table = table.sorted_by(sort[1], descending)
        chart = all_charts.get(TAB_CHARTS.get(tab, {}).get(name, ""))
        shown.append((table, chart))
    keep = request.GET.copy()
    for key in ("tab", "sort", "csv"):
        keep.pop(key, None)
    summary = by_name["summary"].rows
    context = {
        **admin_site.each_context(request),
        "title": _("Retention dashboard"),
        "form": form,
        "data": data,
        "charts": all_charts,
        "tables": by_name,
        "summary": summary,
        "shown": shown,
        "tab": tab,
        "tabs": [(key, label) for key, (label, _names) in TABS.items()],
        "presets": PRESETS.items(),
        "filters_query": keep.urlencode(),
        "query": request.GET.urlencode(),
        "sort": request.GET.get("sort", ""),
        "freshness": freshness,
        "billing_not_carried_out": freshness["billing_not_carried_out"],
        "definitions": definitions.FIGURES,
        "minimum": minimum,
        "retain_vs_winback": formatting.retain_vs_winback_sentence(data["retain_vs_winback"]),
        "revenue_monthly": formatting.money(data["cases"]["revenue_kept_monthly"]),
        "revenue_monthly_before": formatting.money(data["previous_cases"]["revenue_kept_monthly"]),
        "revenue_annual": formatting.money(data["cases"]["revenue_kept_annual"]),
    }
    return TemplateResponse(request, "admin/retention/dashboard.html", context, status=status)


def _sort(value: str) -> tuple[tuple[str, int] | None, bool]:
    """``?sort=<table>.<column>`` (ascending) or ``<table>.-<column>`` (descending)."""
    name, _dot, column = value.partition(".")
    descending = column.startswith("-")
    column = column.lstrip("-")
    if not name or not column.isdigit():
        return None, False
    return (name, int(column)), descending


def _csv(all_tables, name: str, filters) -> HttpResponse:
    table = next((t for t in all_tables if t.name == name), None)
    if table is None:
        raise Http404
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    filename = f"tack-{table.name}-{filters.start}-{filters.end}.csv"
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    writer = csv.writer(response)
    writer.writerow(table.columns)
    writer.writerows([_cell(value) for value in row] for row in table.csv_rows())
    return response


# What a spreadsheet may read as the start of a formula (OWASP's CSV injection list), and
# the full-width forms some spreadsheets fold into them.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r", "\uff1d", "\uff0b", "\uff0d", "\uff20")


def _cell(value):
    """Keep a spreadsheet from reading a name such as "=HYPERLINK(…)" as a formula."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


VOICE_PAGE_SIZE = 50
VOICE_CSV_LIMIT = 50_000


def voice(request):
    """The customers' own words and the competitors they named, for managers (wrapped in
    ``admin.site.admin_view`` by the URLconf, like the dashboard)."""
    if not request.user.has_perm(PERMISSION):
        raise PermissionDenied
    choices, _freshness = selectors.page_meta(get_language())
    reasons = selectors.voice_reasons(get_language())
    form = VoiceFilterForm(request.GET or None, reasons=reasons, plans=choices["plan"])
    status = 200
    if form.is_bound and form.is_valid():
        filters = form.filters()
    else:
        status = 400 if form.is_bound else 200
        filters = default_voice_filters()
    cases = selectors.voice_cases(filters)
    if request.GET.get("csv"):
        return _voice_csv(cases, filters, dict(reasons))
    paginator = Paginator(selectors.voice_rows(cases), VOICE_PAGE_SIZE)
    paginator.count = selectors.voice_count(filters)  # the same cases, counted from an index
    page = paginator.get_page(request.GET.get("page"))
    competitors = selectors.competitor_counts(filters)
    months = [month.strftime("%Y-%m") for month in competitors["months"]]
    labels = dict(reasons)
    keep = request.GET.copy()
    keep.pop("page", None)
    context = {
        **admin.site.each_context(request),
        "title": _("Voice of the customer"),
        "form": form,
        "filters": filters,
        "rows": [
            {
                **row,
                "channel_label": tables.channel_label(row["channel"]),
                "reason_label": labels.get(row["reason_id"], ""),
                "outcome_label": tables.outcome_label(row["outcome"]),
            }
            for row in page.object_list
        ],
        "page": page,
        "competitors": competitors,
        "competitor_months": months,
        "competitor_chart": charts.line_chart(
            _("Competitors named per month"),
            months,
            [
                charts.Series(
                    str(_("Other")) if row["key"] == "other" else row["key"], row["counts"]
                )
                for row in competitors["rows"]
            ],
            percent=False,
        ),
        "query": keep.urlencode(),
        "retention_days": settings.TACK_FREE_TEXT_RETENTION_DAYS,
    }
    return TemplateResponse(request, "admin/retention/voice.html", context, status=status)


def _voice_csv(cases, filters, labels: dict) -> HttpResponse:
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    filename = f"tack-voice-{filters.start}-{filters.end}.csv"
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    writer = csv.writer(response)
    writer.writerow(
        [
            _("Opened"),
            _("Exit reason"),
            _("Plan"),
            _("Channel"),
            _("Outcome"),
            _("In their words"),
            _("Competitor"),
        ]
    )
    for row in selectors.voice_rows(cases)[:VOICE_CSV_LIMIT]:
        writer.writerow(
            _cell(value)
            for value in (
                row["opened_at"].isoformat(),
                labels.get(row["reason_id"], ""),
                row["plan_name"],
                row["channel"],
                row["outcome"],
                row["reason_text"],
                row["competitor"],
            )
        )
    return response
