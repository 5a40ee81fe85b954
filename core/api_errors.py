"""Every API error is JSON with a clear message.

Shape: ``{"detail": ..., "code": ..., "errors": {field: [messages]}}``.
"""

from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from core.errors import TackError


def error_body(detail, code: str, errors=None) -> dict:
    body = {"detail": str(detail), "code": code}
    if errors:
        body["errors"] = errors
    return body


def exception_handler(exc, context):
    if isinstance(exc, TackError):
        return Response(error_body(exc.message, exc.code), status=exc.http_status)
    if isinstance(exc, DjangoValidationError):
        exc = exceptions.ValidationError(
            exc.message_dict if hasattr(exc, "error_dict") else {"non_field_errors": exc.messages}
        )
    if isinstance(exc, Http404):
        exc = exceptions.NotFound()
    response = drf_exception_handler(exc, context)
    if response is None:
        return None
    if isinstance(exc, exceptions.ValidationError):
        errors = exc.detail if isinstance(exc.detail, dict) else {"non_field_errors": exc.detail}
        response.data = error_body("Invalid input.", "invalid", errors)
    elif isinstance(exc, exceptions.APIException):
        detail = exc.detail
        code = getattr(detail, "code", None) or exc.default_code
        response.data = error_body(
            detail if not isinstance(detail, (dict, list)) else exc.default_detail, code
        )
    return response


def conflict_response(message: str) -> Response:
    return Response(error_body(message, "idempotency_conflict"), status=status.HTTP_409_CONFLICT)
