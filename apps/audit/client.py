"""The client's address of a portal request, for the audit log: the same rule as the rest of
the portal (allauth's, honouring ``ALLAUTH_TRUSTED_PROXY_COUNT``; behind uvicorn's
``--forwarded-allow-ips`` the proxies it trusts are already resolved into REMOTE_ADDR)."""

from contextvars import ContextVar

from allauth.account.adapter import get_adapter
from django.core.exceptions import PermissionDenied

# The client's address of the portal request being served, for events recorded by services that
# are not handed one (``services.record`` falls back to it).
request_ip: ContextVar[str | None] = ContextVar("audit_request_ip", default=None)


def client_ip(request) -> str | None:
    if request is None:
        return None
    try:
        return get_adapter(request).get_client_ip(request)
    except PermissionDenied:
        return None


class AuditRequestMiddleware:
    """Remembers the client's address for the request's audit events."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        token = request_ip.set(client_ip(request))
        try:
            return self.get_response(request)
        finally:
            request_ip.reset(token)
