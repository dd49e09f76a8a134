"""The client's address of a portal request, for the audit log: the same rule as the rest of
the portal (allauth's, honouring ``ALLAUTH_TRUSTED_PROXY_COUNT``; behind uvicorn's
``--forwarded-allow-ips`` the proxies it trusts are already resolved into REMOTE_ADDR)."""

from contextvars import ContextVar

from allauth.account.adapter import get_adapter
from django.core.exceptions import PermissionDenied

# The portal request being served, for events recorded by services that are not handed the
# client's address (``services.record`` falls back to ``request_ip()``).
current_request: ContextVar[object | None] = ContextVar("audit_request", default=None)


def request_ip() -> str | None:
    """The client's address of the request being served, worked out only when an event needs it."""
    return client_ip(current_request.get())


def client_ip(request) -> str | None:
    if request is None:
        return None
    try:
        return get_adapter(request).get_client_ip(request)
    except PermissionDenied:
        return None


class AuditRequestMiddleware:
    """Remembers the request for its audit events' client address (read only if one is
    recorded)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        token = current_request.set(request)
        try:
            return self.get_response(request)
        finally:
            current_request.reset(token)
