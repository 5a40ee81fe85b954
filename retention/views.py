"""The retention dashboard, inside the admin site (same login and look)."""

import csv

from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpResponse
from django.template.response import TemplateResponse

from retention import charts, definitions, selectors, tables
from retention.forms import DashboardFilterForm, default_filters

PERMISSION = "retention.view_dashboard"


def dashboard(request):
    """Wrapped in ``admin.site.admin_view`` by the URLconf: staff only, then this permission."""
    admin_site = admin.site
    if not request.user.has_perm(PERMISSION):
        raise PermissionDenied
    choices, freshness = selectors.page_meta()
    form = DashboardFilterForm(request.GET or None, choices=choices)
    status = 200
    if form.is_bound and form.is_valid():
        filters = form.filters()
    else:
        status = 400 if form.is_bound else 200
        filters = default_filters()
    data = selectors.dashboard(filters)
    all_tables = tables.all_tables(data)
    if request.GET.get("csv"):
        return _csv(all_tables, request.GET["csv"], filters)
    context = {
        **admin_site.each_context(request),
        "title": "Retention dashboard",
        "form": form,
        "data": data,
        "charts": charts.dashboard_charts(data),
        "tables": {table.name: table for table in all_tables},
        "case_tables": [t for t in all_tables if t.name.startswith("cases_by_")],
        "winback_tables": [t for t in all_tables if t.name.startswith("winback_by_")],
        "query": request.GET.urlencode(),
        "freshness": freshness,
        "definitions": definitions.FIGURES,
    }
    return TemplateResponse(request, "admin/retention/dashboard.html", context, status=status)


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


def _cell(value):
    """Keep a spreadsheet from reading a name such as "=HYPERLINK(…)" as a formula."""
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@"):
        return "'" + value
    return value
