from django.urls import path

from retention import api

urlpatterns = [
    path("metrics/summary", api.MetricsSummaryView.as_view(), name="api-metrics-summary"),
]
