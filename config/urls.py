from django.conf import settings
from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from core import views as core_views
from retention import views as retention_views
from subscriptions.stripe_billing import views as stripe_views

admin.site.site_header = "Tack"
admin.site.site_title = "Tack"
admin.site.index_title = "Keep the customers who are about to leave, win back the ones who left"

api_v1 = [
    path("", include("subscriptions.urls_api")),
    path("", include("cancellations.urls_api")),
    path("", include("privacy.urls_api")),
    path("", include("retention.urls_api")),
]

urlpatterns = [
    path("healthz", core_views.healthz, name="healthz"),
    path(
        "admin/retention/dashboard/",
        admin.site.admin_view(retention_views.dashboard),
        name="retention-dashboard",
    ),
    path(
        "admin/retention/voice/",
        admin.site.admin_view(retention_views.voice),
        name="retention-voice",
    ),
    path("billing/stripe/webhook/", stripe_views.stripe_webhook, name="stripe-webhook"),
    path("admin/", admin.site.urls),
    path("cancel/", include("cancellations.urls")),
    path("", include("winback.urls")),
    path("api/v1/", include(api_v1)),
    path("api/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path("api/docs/", SpectacularSwaggerSplitView.as_view(url_name="api-schema"), name="api-docs"),
]

if settings.TACK_BENCH_VIEWS:
    from config import bench_views

    urlpatterns.append(path("bench/bare/<int:pk>/", bench_views.bare, name="bench-bare"))

handler400 = "core.views.bad_request"
handler403 = "core.views.permission_denied"
handler404 = "core.views.page_not_found"
handler500 = "core.views.server_error"
