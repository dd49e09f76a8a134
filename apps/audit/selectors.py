"""Reading the audit log, and who may read whose."""

from datetime import datetime

from django.db.models import QuerySet

from apps.core.roles import acting_user, can

from .models import AuditEvent


def audit_account_id(request) -> int | None:
    """The account the request acts for: the signed-in user's own, or the organization's
    (its principal user) when the request acts for one."""
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return None
    return acting_user(request).pk


def can_read_audit(request, *, account_id: int | None) -> bool:
    """Whether the request may read the account's audit log: its own user, or an organization's
    owners and admins (the ``audit`` permission of the roles table)."""
    user = getattr(request, "user", None)
    if account_id is None or user is None or not user.is_authenticated:
        return False
    if account_id != acting_user(request).pk:
        return False
    return account_id == user.pk or can(request, "audit")


def audit_events(
    *,
    account_id: int,
    action: str | None = None,
    start: datetime | None = None,
    end: datetime | None = None,
) -> QuerySet[AuditEvent]:
    """The account's events, newest first; ``start`` inclusive, ``end`` exclusive."""
    events = AuditEvent.objects.filter(account_id=account_id)
    if action:
        events = events.filter(action=action)
    if start is not None:
        events = events.filter(created_at__gte=start)
    if end is not None:
        events = events.filter(created_at__lt=end)
    return events.order_by("-created_at", "-id")
