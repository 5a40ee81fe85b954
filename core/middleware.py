from django.conf import settings


class ContentSecurityPolicyMiddleware:
    """Adds our Content-Security-Policy (everything from our own origin) to HTML answers."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        if settings.CONTENT_SECURITY_POLICY and "Content-Security-Policy" not in response:
            response["Content-Security-Policy"] = settings.CONTENT_SECURITY_POLICY
        return response
