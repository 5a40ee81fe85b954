"""API key authentication for the company's own systems (``Authorization: Bearer <key>``)."""

from dataclasses import dataclass

from django.utils.translation import gettext_lazy as _
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import authentication, exceptions, permissions, throttling

from core.enums import ApiScope
from core.models import ApiKey
from core.services import api_key_authenticate


@dataclass(frozen=True)
class ApiClient:
    """Stands in for ``request.user`` on API calls: the system that owns the key."""

    api_key: ApiKey
    is_authenticated: bool = True
    is_staff: bool = False

    @property
    def label(self) -> str:
        return f"api:{self.api_key.name}"


class ApiKeyAuthentication(authentication.BaseAuthentication):
    keywords = ("bearer", "token")

    def authenticate(self, request):
        header = authentication.get_authorization_header(request).decode("latin-1").split()
        if not header or header[0].lower() not in self.keywords:
            return None
        if len(header) != 2:
            raise exceptions.AuthenticationFailed(_("Malformed Authorization header."))
        api_key = api_key_authenticate(raw_key=header[1])
        if api_key is None:
            raise exceptions.AuthenticationFailed(_("Invalid or revoked API key."))
        return ApiClient(api_key=api_key), api_key

    def authenticate_header(self, request) -> str:
        return 'Bearer realm="api"'


def required_scope(view, method: str) -> str | None:
    """The scope an API operation needs: the view's ``required_scopes`` names one per HTTP
    method. HEAD is a GET; OPTIONS (the description) needs ``read``."""
    method = method.upper()
    if method == "HEAD":
        method = "GET"
    scopes = getattr(view, "required_scopes", {})
    return scopes.get(method) or (ApiScope.READ if method == "OPTIONS" else None)


class HasApiKey(permissions.BasePermission):
    """An API key that holds the scope the operation needs; an operation that names no scope
    is refused to every key (so a new endpoint cannot be open by mistake)."""

    message = _("An API key is required: send 'Authorization: Bearer <key>'.")

    def has_permission(self, request, view) -> bool:
        if not isinstance(request.auth, ApiKey):
            return False
        scope = required_scope(view, request.method)
        if scope is None or not request.auth.allows(scope):
            raise exceptions.PermissionDenied(
                _("This API key lacks the scope this operation needs: %(scope)s.")
                % {"scope": scope or "(none)"},
                code="missing_scope",
            )
        return True


class ApiKeyRateThrottle(throttling.SimpleRateThrottle):
    scope = "api_key"

    def get_cache_key(self, request, view):
        ident = request.auth.pk if isinstance(request.auth, ApiKey) else self.get_ident(request)
        return self.cache_format % {"scope": self.scope, "ident": ident}


class ApiKeyAuthenticationScheme(OpenApiAuthenticationExtension):
    target_class = "core.api_auth.ApiKeyAuthentication"
    name = "ApiKey"

    def get_security_definition(self, auto_schema):
        return {"type": "http", "scheme": "bearer", "description": "A Tack API key."}
