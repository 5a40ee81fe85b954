from django.urls import path

from subscriptions import api

urlpatterns = [
    path("customers/", api.CustomerListView.as_view(), name="api-customer-list"),
    path(
        "customers/<str:external_id>/",
        api.CustomerDetailView.as_view(),
        name="api-customer-detail",
    ),
    path("subscriptions/", api.SubscriptionListView.as_view(), name="api-subscription-list"),
    path(
        "subscriptions/<str:external_id>/",
        api.SubscriptionDetailView.as_view(),
        name="api-subscription-detail",
    ),
]
