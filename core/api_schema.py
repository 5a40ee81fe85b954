"""The OpenAPI description: each operation's scope, and every error it can answer.

Every error is the same JSON shape (``core.api_errors.error_body``). Errors that come from
the machinery rather than the view — a missing or bad key (401), a missing scope (403), the
rate limit (429), a page past the end of a list (404 "Invalid page."), a reused
Idempotency-Key (409 ``idempotency_conflict``) — are added here to every operation they can
happen on, so that generated clients know them.
"""

from drf_spectacular.openapi import AutoSchema
from drf_spectacular.plumbing import ResolvedComponent
from rest_framework import serializers

from core.api_auth import required_scope

ERROR_SCHEMA = {
    "type": "object",
    "properties": {
        "detail": {"type": "string", "description": "What went wrong, for a person."},
        "code": {"type": "string", "description": "What went wrong, for a program."},
        "errors": {
            "type": "object",
            "description": "Invalid input: the messages per field.",
            "additionalProperties": {"type": "array", "items": {"type": "string"}},
        },
    },
    "required": ["detail", "code"],
}


ERROR_COMPONENT = ResolvedComponent(
    name="Error", type=ResolvedComponent.SCHEMA, object="Error", schema=ERROR_SCHEMA
)
ERROR_CONTENT = {"application/json": {"schema": ERROR_COMPONENT.ref}}


# What a text field refuses, as patterns: NUL always (DRF), every control character and bidi
# override where the model says so (names and phone numbers); and a required field that is
# blank once trimmed. Without them a schema-valid "\u0000" or " " was refused.
_NUL = "\\u0000"
_CONTROL = "\\u0000-\\u001f\\u007f-\\u009f\\u202a-\\u202e\\u2066-\\u2069"


def text_pattern(*, refused: str, blank_allowed: bool) -> str:
    if blank_allowed:
        # drf-spectacular offers "" as a second branch of a oneOf: this one must not match it.
        return f"^[^{refused}]+$"
    return f"^[^{refused}]*[^\\s{refused}][^{refused}]*$"


class ScopedAutoSchema(AutoSchema):
    """Names each operation's scope in the OpenAPI description: the ``x-tack-scope``
    extension and a line at the top of its description; and documents the errors every
    operation can answer."""

    def get_operation(self, path, path_regex, path_prefix, method, registry):
        operation = super().get_operation(path, path_regex, path_prefix, method, registry)
        scope = required_scope(self.view, method)
        if operation is None or scope is None:
            return operation
        operation["x-tack-scope"] = scope
        line = f"**API key scope:** `{scope}`."
        description = operation.get("description", "")
        operation["description"] = f"{line}\n\n{description}" if description else line
        registry.register_on_missing(ERROR_COMPONENT)
        self._add_errors(operation)
        return operation

    def _map_serializer_field(self, field, direction, bypass_extensions=False):
        schema = super()._map_serializer_field(field, direction, bypass_extensions)
        free_text = schema.get("type") == "string" and not {"pattern", "format", "enum"} & set(
            schema
        )
        if direction == "request" and free_text:
            validators = getattr(field, "validators", [])
            controls = any(getattr(v, "refuses_control_characters", False) for v in validators)
            if isinstance(field, serializers.CharField):
                schema["pattern"] = text_pattern(
                    refused=_CONTROL if controls else _NUL,
                    blank_allowed=field.allow_blank or not field.trim_whitespace,
                )
            else:
                schema["pattern"] = f"^[^{_CONTROL if controls else _NUL}]*$"
        return schema

    def _add_errors(self, operation: dict) -> None:
        responses = operation["responses"]
        common = {
            "401": "No API key, or an invalid, expired or revoked one (`not_authenticated`, "
            "`authentication_failed`).",
            "403": "The API key lacks the scope this operation needs (`missing_scope`).",
            "429": "Too many requests for this API key: wait and try again (`throttled`).",
        }
        if self.method == "GET" and getattr(self.view, "pagination_class", None):
            common["404"] = "The page is past the end of the list (`Invalid page.`)."
        if any(p["name"] == "Idempotency-Key" for p in operation.get("parameters", [])):
            common["409"] = (
                "The Idempotency-Key was already used with another request "
                "(`idempotency_conflict`)."
            )
        for status, description in common.items():
            responses.setdefault(status, {"description": description})
        for status, existing in responses.items():
            if status.startswith("4") and "content" not in existing:
                existing["content"] = ERROR_CONTENT
