from datetime import datetime

from celery import shared_task

from . import services


@shared_task(name="apps.usage.tasks.recover_settlement_journals")
def recover_settlement_journals() -> dict:
    """Settle what gateway processes that died had delivered (their journals on this host)."""
    from pathlib import Path

    from django.conf import settings

    from .journal import journal_recover

    if not settings.GATEWAY_JOURNAL_DIR:
        return {}
    return journal_recover(directory=Path(settings.GATEWAY_JOURNAL_DIR))


@shared_task(name="apps.usage.tasks.release_expired_holds")
def release_expired_holds() -> int:
    return services.holds_release_expired()


@shared_task(
    name="apps.usage.tasks.settle_request",
    autoretry_for=(Exception,),
    retry_backoff=5,
    retry_backoff_max=300,
    max_retries=20,
)
def settle_request(outcome: dict) -> str:
    """The durable fallback when the gateway could not settle a request in time."""
    fields = dict(outcome)
    fields["created_at"] = datetime.fromisoformat(fields["created_at"])
    record = services.request_settle(outcome=services.RequestOutcome(**fields))
    return record.request_id


@shared_task(name="apps.usage.tasks.rollup_recent_usage")
def rollup_recent_usage() -> int:
    """Every minute: count the records that arrived since the last run into the hourly
    rollups and post their charges to the ledger (apps/usage/rollup.py)."""
    from .rollup import RollupBusy, rollup_step

    try:
        return rollup_step().records
    except RollupBusy:
        return 0


@shared_task(name="apps.usage.tasks.maintain_usage_partitions")
def maintain_usage_partitions() -> dict:
    """Hourly: create the request table's partitions for the days ahead and drop those past
    the retention (apps/usage/partitions.py)."""
    from .partitions import partitions_ensure, retention_apply

    created = partitions_ensure()
    purged = services.content_purge_expired()
    return {"created": created, "contents_purged": purged, **retention_apply()}
