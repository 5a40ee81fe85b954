import logging
import sys

from django.db import InterfaceError, OperationalError
from django.http import JsonResponse
from django.shortcuts import render
from django.utils.translation import gettext_lazy as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET
from rest_framework import exceptions

from core.api_errors import error_body
from core.customer_pages import page_language, with_language
from core.health import health_report

logger = logging.getLogger(__name__)


@never_cache
@require_GET
def healthz(request):
    """ok / degraded / down for anyone (a load balancer, a monitor); which part failed and
    why only for signed-in staff, and in the log: error texts name hosts, ports and roles."""
    healthy, report = health_report()
    if report["status"] != "ok":
        logger.warning("health %s: %s", report["status"], report)
    if not getattr(request.user, "is_staff", False):
        report = {"status": report["status"]}
    return JsonResponse(report, status=200 if healthy else 503)


# DRF's own messages (and translations), as the API's views answer them.
API_ERRORS = {
    400: exceptions.ParseError,
    403: exceptions.PermissionDenied,
    404: exceptions.NotFound,
    500: exceptions.APIException,
}


def _error(request, status: int):
    """Errors Django answers before a view runs (no route, bad host, a crash) are JSON on
    the API like every other API error, and a friendly page everywhere else."""
    if request.path.startswith("/api/"):
        error = API_ERRORS[status]
        return JsonResponse(error_body(error.default_detail, error.default_code), status=status)
    return render(request, "core/error.html", {"status": status}, status=status)


def bad_request(request, exception=None):
    return _error(request, 400)


def permission_denied(request, exception=None):
    return _error(request, 403)


def page_not_found(request, exception=None):
    return _error(request, 404)


# How long a client should wait before it tries again while the database is not answering.
RETRY_AFTER_SECONDS = 30
NOT_SAVED = _(
    "Our database is not answering at the moment, so your last step was not saved. "
    "Please try again in a minute."
)


def server_error(request):
    """A crash; or, when the database refused or dropped the connection, a 503 with
    ``Retry-After`` that says plainly that the last step was not saved (its transaction
    was not committed)."""
    if isinstance(sys.exc_info()[1], OperationalError | InterfaceError):
        return database_unavailable(request)
    return _error(request, 500)


def database_unavailable(request):
    if request.path.startswith("/api/"):
        response = JsonResponse(error_body(NOT_SAVED, "database_unavailable"), status=503)
    else:
        response = render(request, "core/error.html", {"status": 503}, status=503)
    response["Retry-After"] = str(RETRY_AFTER_SECONDS)
    return response


def csrf_failure(request, reason=""):
    return with_language(
        request,
        page_language(request),
        lambda: render(request, "core/error.html", {"status": 403, "csrf": True}, status=403),
    )


def ratelimited(request, exception=None):
    return with_language(
        request,
        page_language(request),
        lambda: render(request, "core/error.html", {"status": 429}, status=429),
    )
