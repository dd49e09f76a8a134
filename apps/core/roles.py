"""Who may do what in an organization: the one permissions table, and the decorator every
view that reads or changes an account's data goes through.

An organization's member acts on the organization's account (``request.acting_user`` is the
organization's principal user, ``request.membership`` their membership, both set by
``apps.orgs.middleware.ActingAccountMiddleware``). In the personal account there is no
membership and the person may do everything. Apps below ``apps.orgs`` read the membership only
through these helpers (its ``role``, ``user_id`` and ``spend_cap_id``), never import it.
"""

from functools import wraps

from django.core.exceptions import PermissionDenied
from django.shortcuts import redirect

ROLES = ("owner", "admin", "billing", "member", "viewer")

# Permission → roles that have it.
PERMISSIONS: dict[str, frozenset[str]] = {
    # The dashboard (balance; a member's remaining cap).
    "dashboard": frozenset(ROLES),
    # Keys: a member sees and manages only the keys they created (within their cap).
    "keys": frozenset({"owner", "admin", "member"}),
    "keys.all": frozenset({"owner", "admin"}),
    # Billing: balance, top-ups, card and auto top-up, budget, alerts, payments and invoices.
    "billing": frozenset({"owner", "billing"}),
    # Usage of the whole account (charts, request log, CSV, request details, by member).
    "usage": frozenset({"owner", "admin", "billing", "viewer"}),
    # The usage of one's own keys (the by-member page, restricted to oneself).
    "usage.own": frozenset(ROLES),
    # The playground calls the API with a key of the person.
    "playground": frozenset({"owner", "admin", "member"}),
    # Webhooks of the account.
    "webhooks": frozenset({"owner", "admin"}),
    # Members: invite, change roles, set caps and model allowlists, remove.
    "members": frozenset({"owner", "admin"}),
    # The organization's name, billing details, time zone.
    "org.settings": frozenset({"owner"}),
    "org.billing_details": frozenset({"owner", "billing"}),
    # Deleting the organization, transferring ownership, making or unmaking owners.
    "org.owner": frozenset({"owner"}),
    # Reading (and exporting) the account's audit log.
    "audit": frozenset({"owner", "admin"}),
}


def acting_user(request):
    """The user whose account the request acts on: an organization's principal, or the
    person themself."""
    return getattr(request, "acting_user", None) or request.user


def membership_of(request):
    """The person's membership in the organization they act for, or None (personal)."""
    return getattr(request, "membership", None)


def role_of(request) -> str | None:
    membership = membership_of(request)
    return membership.role if membership is not None else None


def can(request, permission: str) -> bool:
    """May this request do ``permission``? Always in the personal account."""
    role = role_of(request)
    return role is None or role in PERMISSIONS[permission]


def own_keys_only(request) -> int | None:
    """The person whose keys alone this request may see (a plain member), else None (all)."""
    return None if can(request, "keys.all") else request.user.pk


def require_role(permission: str, *, otherwise: str | None = None):
    """A view decorator: 403 unless the request's role has ``permission`` (a page may instead
    send a browser's GET to the ``otherwise`` URL name, e.g. a member's own usage)."""
    if permission not in PERMISSIONS:
        raise ValueError(f"unknown permission {permission!r}")

    def decorator(view):
        @wraps(view)
        def wrapped(request, *args, **kwargs):
            if not can(request, permission):
                if otherwise and request.method == "GET" and not request.headers.get("HX-Request"):
                    return redirect(otherwise)
                raise PermissionDenied("Your role in this organization does not allow this.")
            return view(request, *args, **kwargs)

        wrapped.required_permission = permission
        return wrapped

    return decorator
