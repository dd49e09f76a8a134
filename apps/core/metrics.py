"""Prometheus metrics (prometheus-client). Each process counts in the default registry and
/metrics shows the counts of the process that answers it; with ``PROMETHEUS_MULTIPROC_DIR`` set
(an empty directory, before the server starts) every worker writes its counts there and /metrics
adds them up, at a measurable cost per request on the hot path (file-backed values), so it is
the operator's choice. Database-backed gauges (holds open, rollup lag) are read at scrape
time."""

import os

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily

LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120)

REQUESTS = Counter(
    "ocx_requests_total",
    "API requests answered, by status, model and protocol",
    ["status", "model", "protocol"],
)
UPSTREAM_SECONDS = Histogram(
    "ocx_upstream_seconds",
    "Time until the upstream answered (the whole answer, or a stream's headers)",
    ["provider"],
    buckets=LATENCY_BUCKETS,
)
UPSTREAM_ERRORS = Counter(
    "ocx_upstream_errors_total",
    "Upstream failures seen by clients, by provider and status",
    ["provider", "status"],
)
FIRST_BYTE_SECONDS = Histogram(
    "ocx_time_to_first_byte_seconds",
    "From the request's arrival to the first byte of its stream's body",
    ["protocol"],
    buckets=LATENCY_BUCKETS,
)
SETTLEMENT_FAILURES = Counter(
    "ocx_settlement_failures_total", "Settlement attempts that failed (and were retried)"
)
SETTLEMENT_HANDOFFS = Counter(
    "ocx_settlement_handoffs_total", "Settlements handed to Celery after the gateway's retries"
)
SETTLEMENT_LAG = Histogram(
    "ocx_settlement_lag_seconds",
    "From a request's end to its settlement's commit (charge, record, hold closed)",
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 5, 30),
)


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


def exposition() -> bytes:
    registry = CollectorRegistry()
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        multiprocess.MultiProcessCollector(registry)
    else:
        from prometheus_client import REGISTRY

        registry = REGISTRY
    body = generate_latest(registry)
    database = CollectorRegistry()
    database.register(DatabaseCollector())
    return body + generate_latest(database)
