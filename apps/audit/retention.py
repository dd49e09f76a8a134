"""Removing events older than ``AUDIT_RETENTION_DAYS`` (unset: kept forever): the one deletion
the append-only trigger allows, batch by batch, each batch in its own short transaction."""

from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from . import triggers
from .models import AuditEvent

BATCH = 5000


def audit_prune(*, now=None, batch: int = BATCH) -> int:
    """Delete the events older than the retention period; returns how many."""
    days = settings.AUDIT_RETENTION_DAYS
    if not days:
        return 0
    cutoff = (now or timezone.now()) - timedelta(days=days)
    total = 0
    while True:
        with transaction.atomic():
            ids = list(
                AuditEvent.objects.filter(created_at__lt=cutoff)
                .order_by("id")
                .values_list("id", flat=True)[:batch]
            )
            total += triggers.delete_rows(ids)
        if len(ids) < batch:
            return total
