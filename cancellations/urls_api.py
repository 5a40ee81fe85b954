from django.urls import path

from cancellations import api

urlpatterns = [
    path("exit-reasons/", api.ExitReasonListView.as_view(), name="api-exit-reason-list"),
    path(
        "subscriptions/<str:external_id>/cancel-link/",
        api.CancelLinkView.as_view(),
        name="api-cancel-link",
    ),
    path("cancellations/", api.CaseStartView.as_view(), name="api-case-start"),
    path("cancellations/<int:pk>/", api.CaseDetailView.as_view(), name="api-case-detail"),
    path("cancellations/<int:pk>/accept/", api.OfferAcceptView.as_view(), name="api-case-accept"),
    path("cancellations/<int:pk>/decline/", api.DeclineView.as_view(), name="api-case-decline"),
]
