"""GET /api/v1/metrics/summary: the dashboard's figures as JSON, for API keys only."""

from datetime import timedelta

import pytest
from django.utils import timezone

pytestmark = pytest.mark.django_db
URL = "/api/v1/metrics/summary"


def period() -> dict:
    today = timezone.localdate()
    return {"from": (today - timedelta(days=89)).isoformat(), "to": today.isoformat()}


def test_summary_has_the_dashboards_figures(api, book):
    response = api.get(URL, period())

    assert response.status_code == 200
    body = response.json()
    assert body["period"] == {"start": period()["from"], "end": period()["to"]}
    cases = body["cases"]
    assert (cases["saved"], cases["cancelled"], cases["abandoned"]) == (4, 1, 1)
    assert cases["save_rate"] == 0.8
    assert cases["revenue_kept_annual"] == "8756.00"
    assert body["previous_cases"]["saved"] == 0
    assert body["funnel"]["opened"] == 5
    reasons = {row["key"]: row["saved"] for row in body["breakdowns"]["reason"]}
    assert reasons["I am moving"] == 2
    assert body["winback"]["hit_rate"] is None


def test_filters_apply(api, book):
    response = api.get(URL, {**period(), "channel": "phone"})

    assert response.json()["cases"]["saved"] == 1


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({}, "from"),
        ({"from": "2026-13-01", "to": "2026-01-01"}, "from"),
        ({"from": "2026-03-01", "to": "2026-01-01"}, "to"),
        ({"from": "2020-01-01", "to": "2026-01-01"}, "from"),
        ({"from": "2026-01-01", "to": "2026-01-31", "channel": "fax"}, "channel"),
    ],
)
def test_bad_input_gets_a_clear_json_error(api, params, field):
    response = api.get(URL, params)

    assert response.status_code == 400
    assert response.json()["code"] == "invalid"
    assert field in response.json()["errors"]


def test_an_api_key_is_required(anonymous_api):
    response = anonymous_api.get(URL, period())

    assert response.status_code == 401
    assert response.json()["code"] in ("not_authenticated", "authentication_failed")


def test_it_is_in_the_openapi_schema(client):
    schema = client.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json").json()

    operation = schema["paths"]["/api/v1/metrics/summary"]["get"]
    assert {p["name"] for p in operation["parameters"]} >= {"from", "to", "channel", "plan"}
    assert "200" in operation["responses"] and "400" in operation["responses"]
