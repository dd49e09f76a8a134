"""A Content-Security-Policy for every page of the site (the API answers JSON and SSE only)."""

from django.conf import settings
from django.utils import timezone

from .timezones import user_time_zone

# Scripts and styles come from the site itself (vendored htmx and Chart.js, no inline code);
# images may be data: URLs (the two-factor QR code); nothing may frame the site.
POLICY = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        "font-src 'self'",
        "connect-src 'self'",
        "object-src 'none'",
        "base-uri 'self'",
        "frame-ancestors 'none'",
    ]
)


class ContentSecurityPolicyMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        # Django's admin keeps a few inline scripts of its own; it is for staff only.
        if not request.path.startswith("/admin/"):
            policy = getattr(settings, "CONTENT_SECURITY_POLICY", POLICY)
            response.headers.setdefault("Content-Security-Policy", policy)
        return response


class AccountTimeZoneMiddleware:
    """Every page prints times in the signed-in user's time zone: the zone is activated for the
    request, so the ``date`` filter and ``localtime`` use it (UTC for visitors)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated:
            timezone.activate(user_time_zone(user))
        else:
            timezone.deactivate()
        try:
            return self.get_response(request)
        finally:
            timezone.deactivate()
