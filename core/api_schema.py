"""The OpenAPI description names the API key scope each operation needs."""

from drf_spectacular.openapi import AutoSchema

from core.api_auth import required_scope


class ScopedAutoSchema(AutoSchema):
    """Names each operation's scope in the OpenAPI description: the ``x-tack-scope``
    extension and a line at the top of its description."""

    def get_operation(self, path, path_regex, path_prefix, method, registry):
        operation = super().get_operation(path, path_regex, path_prefix, method, registry)
        scope = required_scope(self.view, method)
        if operation is None or scope is None:
            return operation
        operation["x-tack-scope"] = scope
        line = f"**API key scope:** `{scope}`."
        description = operation.get("description", "")
        operation["description"] = f"{line}\n\n{description}" if description else line
        return operation
