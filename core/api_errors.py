"""Every API error is JSON with a clear message.

Shape: ``{"detail": ..., "code": ..., "errors": {field: [messages]}}``.
"""

from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404
from django.utils.translation import gettext as _
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from core.errors import TackError


def error_body(detail, code: str, errors=None) -> dict:
    body = {"detail": str(detail), "code": code}
    if errors:
        body["errors"] = errors
    return body


def _error_codes(detail):
    if isinstance(detail, dict):
        for value in detail.values():
            yield from _error_codes(value)
    elif isinstance(detail, list):
        for value in detail:
            yield from _error_codes(value)
    else:
        yield getattr(detail, "code", None)


def names_only_missing_objects(errors) -> bool:
    codes = set(_error_codes(errors))
    return codes == {"does_not_exist"}


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
        if names_only_missing_objects(errors):
            # Well-formed input naming a plan, customer or reason that does not exist: the
            # same answer as a path naming one (the schema cannot list what exists).
            response.status_code = status.HTTP_404_NOT_FOUND
            response.data = error_body(_("Not found."), "not_found", errors)
        else:
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
