from celery import shared_task

from .retention import audit_prune


@shared_task(name="apps.audit.tasks.prune")
def prune() -> int:
    """The beat: events older than AUDIT_RETENTION_DAYS go (none when it is unset)."""
    return audit_prune()
