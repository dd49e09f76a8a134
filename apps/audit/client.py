"""The client's address of a portal request, for the audit log: the same rule as the rest of
the portal (allauth's, honouring ``ALLAUTH_TRUSTED_PROXY_COUNT``; behind uvicorn's
``--forwarded-allow-ips`` the proxies it trusts are already resolved into REMOTE_ADDR)."""

from allauth.account.adapter import get_adapter
from django.core.exceptions import PermissionDenied


def client_ip(request) -> str | None:
    if request is None:
        return None
    try:
        return get_adapter(request).get_client_ip(request)
    except PermissionDenied:
        return None
