from datetime import datetime

from django.db.models import Count, Exists, OuterRef, Subquery
from django.db.models.functions import Coalesce
from django.utils import timezone

from .models import WebhookAttempt, WebhookDelivery, WebhookEndpoint

Status = WebhookDelivery.Status


def endpoints_for_user(*, user_id: int) -> list[WebhookEndpoint]:
    """The user's endpoints, each with ``pending`` (deliveries waiting) and the outcome of its
    latest attempt (``last_ok``, ``last_status``, ``last_error``, ``last_at``): one query."""
    latest = WebhookAttempt.objects.filter(endpoint_id=OuterRef("pk")).order_by(
        "-attempted_at", "-id"
    )
    pending = (
        WebhookDelivery.objects.filter(endpoint_id=OuterRef("pk"), status=Status.PENDING)
        .values("endpoint_id")
        .annotate(n=Count("id"))
        .values("n")
    )
    return list(
        WebhookEndpoint.objects.filter(user_id=user_id)
        .annotate(
            pending=Coalesce(Subquery(pending), 0),
            last_ok=Subquery(latest.values("ok")[:1]),
            last_status=Subquery(latest.values("status_code")[:1]),
            last_error=Subquery(latest.values("error")[:1]),
            last_at=Subquery(latest.values("attempted_at")[:1]),
        )
        .order_by("created_at", "id")
    )


def endpoint_for_user(*, user_id: int, endpoint_id: int) -> WebhookEndpoint:
    """``WebhookEndpoint.DoesNotExist`` for an endpoint that is not the user's (views: 404)."""
    return WebhookEndpoint.objects.get(pk=endpoint_id, user_id=user_id)


def endpoint_log(*, endpoint_id: int, limit: int = 50) -> list[WebhookAttempt]:
    """The endpoint's latest attempts, newest first, with their delivery and event type."""
    return list(
        WebhookAttempt.objects.filter(endpoint_id=endpoint_id)
        .select_related("delivery__event")
        .defer("delivery__event__body")
        .order_by("-attempted_at", "-id")[:limit]
    )


def endpoint_pending(*, endpoint_id: int) -> int:
    return WebhookDelivery.objects.filter(endpoint_id=endpoint_id, status=Status.PENDING).count()


def endpoints_due(*, now: datetime | None = None) -> list[int]:
    """Endpoints (on) whose first pending delivery is due: what the beat sends. Only the first
    counts: the ones behind it wait for it, however long ago they were recorded."""
    now = now or timezone.now()
    earlier = WebhookDelivery.objects.filter(
        endpoint_id=OuterRef("endpoint_id"), status=Status.PENDING, id__lt=OuterRef("id")
    )
    return list(
        WebhookDelivery.objects.filter(
            status=Status.PENDING, next_attempt_at__lte=now, endpoint__enabled=True
        )
        .exclude(Exists(earlier))
        .values_list("endpoint_id", flat=True)
        .distinct()
    )


def users_with_endpoints():
    """The ids of users with an endpoint that is on (a subquery, for other apps' sweeps)."""
    return WebhookEndpoint.objects.filter(enabled=True).values("user_id")
