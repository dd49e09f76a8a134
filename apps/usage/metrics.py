"""The database-backed gauges of /metrics (holds open, rollup lag, Celery queue), read at scrape
time. ``apps.usage``'s ``ready()`` registers ``DATABASE_COLLECTOR`` with ``apps.core.metrics``,
which knows no app."""

from prometheus_client.core import GaugeMetricFamily


class DatabaseCollector:
    """Gauges read from the database at scrape time."""

    def collect(self):
        from django.db.models import Min
        from django.utils import timezone

        from apps.credits.models import Hold
        from apps.usage.rollup import rollup_lag_seconds

        now = timezone.now()
        active = Hold.objects.filter(status=Hold.Status.ACTIVE)
        oldest = active.aggregate(oldest=Min("created_at"))["oldest"]
        holds = GaugeMetricFamily("ocx_holds_open", "Holds of requests in flight")
        holds.add_metric([], active.count())
        yield holds
        age = GaugeMetricFamily("ocx_holds_oldest_seconds", "Age of the oldest open hold")
        age.add_metric([], (now - oldest).total_seconds() if oldest else 0)
        yield age
        lag = rollup_lag_seconds()
        rollup = GaugeMetricFamily(
            "ocx_rollup_lag_seconds", "Age of the oldest usage record not rolled up yet"
        )
        rollup.add_metric([], lag)
        yield rollup
        queued = GaugeMetricFamily(
            "ocx_celery_queue_length",
            "Tasks waiting in the Celery queue (settlement hand-offs among them; Redis broker)",
        )
        queued.add_metric([], celery_queue_length())
        yield queued
        aside = GaugeMetricFamily(
            "ocx_journal_files_set_aside",
            "Settlement journal files not replayed: of another database (foreign) or with "
            "outcomes that could not be settled (failed); see manage.py journal_recover --list",
            labels=["state"],
        )
        for state, count in journal_files_set_aside().items():
            aside.add_metric([state], count)
        yield aside


def journal_files_set_aside() -> dict[str, int]:
    from pathlib import Path

    from django.conf import settings

    directory = Path(settings.GATEWAY_JOURNAL_DIR or "")
    if not settings.GATEWAY_JOURNAL_DIR or not directory.is_dir():
        return {"foreign": 0, "failed": 0}
    return {state: len(list(directory.glob(f"*.{state}"))) for state in ("foreign", "failed")}


def celery_queue_length() -> float:
    """Messages waiting in the default Celery queue, when the broker is Redis (else NaN)."""
    from django.conf import settings

    url = settings.CELERY_BROKER_URL
    if not url.startswith(("redis://", "rediss://")):
        return float("nan")
    import redis

    try:
        client = redis.Redis.from_url(url, socket_timeout=0.5, socket_connect_timeout=0.5)
        try:
            return float(client.llen("celery"))
        finally:
            client.close()
    except redis.RedisError:
        return float("nan")


DATABASE_COLLECTOR = DatabaseCollector()
