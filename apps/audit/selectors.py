"""Reading the audit log, and who may read whose."""

from datetime import datetime

from django.db.models import QuerySet

from .models import AuditEvent


def audit_account_id(request) -> int | None:
    """The account the request acts for: today always the signed-in user's own (an
    organisation's principal user, once the request can act for one)."""
    user = getattr(request, "user", None)
    return user.pk if user is not None and user.is_authenticated else None


def can_read_audit(request, *, account_id: int | None) -> bool:
    """Whether the request may read the account's audit log: its own user. The one place to
    let an organisation's owners and admins in."""
    user = getattr(request, "user", None)
    return (
        bool(account_id is not None and user is not None and user.is_authenticated)
        and user.pk == account_id
    )


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
