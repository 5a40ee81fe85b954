from django.urls import path

from privacy import api

urlpatterns = [
    path(
        "customers/<str:external_id>/export/",
        api.CustomerExportView.as_view(),
        name="api-customer-export",
    ),
    path(
        "customers/<str:external_id>/erase/",
        api.CustomerEraseView.as_view(),
        name="api-customer-erase",
    ),
]
