"""The ``Idempotency-Key`` header on API POSTs: same key and body → the same answer."""

from collections.abc import Callable

from django.utils.translation import gettext as _
from drf_spectacular.utils import OpenApiParameter
from rest_framework.response import Response

from core.api_errors import conflict_response, exception_handler
from core.services import IdempotencyConflict, idempotent_call, request_fingerprint

IDEMPOTENCY_HEADER = OpenApiParameter(
    name="Idempotency-Key",
    location=OpenApiParameter.HEADER,
    required=False,
    description=(
        "Any unique string (a UUID). Repeating a POST with the same key and body returns the "
        "first answer without doing anything again; the same key with a different body is "
        "answered 409."
    ),
)


def idempotent_post(request, view, handler: Callable[[], Response]) -> Response:
    """Run ``handler`` honouring the request's Idempotency-Key header, if any."""
    key = request.headers.get("Idempotency-Key", "").strip()
    if not key:
        return handler()
    if len(key) > 255:
        return conflict_response(_("The Idempotency-Key header is longer than 255 characters."))

    def call():
        try:
            response = handler()
        except Exception as exc:
            # 4xx answers are stored like successes; anything else rolls back and re-raises.
            response = exception_handler(exc, {"view": view, "request": request})
            if response is None or response.status_code >= 500:
                raise
        return response.status_code, response.data

    fingerprint = request_fingerprint(method=request.method, path=request.path, body=request.data)
    try:
        stored = idempotent_call(api_key=request.auth, key=key, fingerprint=fingerprint, call=call)
    except IdempotencyConflict:
        return conflict_response(
            _("This Idempotency-Key was already used with a different request.")
        )
    response = Response(stored.body, status=stored.status)
    if stored.replayed:
        response["Idempotent-Replayed"] = "true"
    return response
