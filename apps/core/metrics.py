"""Prometheus metrics (prometheus-client). Each process counts in the default registry and
/metrics shows the counts of the process that answers it; with ``PROMETHEUS_MULTIPROC_DIR`` set
(an empty directory, before the server starts) every worker writes its counts there and /metrics
adds them up, at a measurable cost per request on the hot path (file-backed values), so it is
the operator's choice. Database-backed gauges (holds open, rollup lag) are read at scrape
time, from the collectors the apps register (``register_database_collector``)."""

import os

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest

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
UPSTREAM_ATTEMPTS = Counter(
    "ocx_upstream_attempts_total",
    "Attempts at an upstream deployment, by the status it answered (0: no answer)",
    ["deployment", "status"],
)
UPSTREAM_ATTEMPT_SECONDS = Histogram(
    "ocx_upstream_attempt_seconds",
    "Time to an upstream deployment's answer (headers), per attempt",
    ["deployment"],
    buckets=(0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60),
)
DEPLOYMENT_COOLDOWNS = Counter(
    "ocx_deployment_cooldowns_total",
    "Deployments taken out of rotation: rate_limited (a 429), disabled (a refused key or "
    "quota), failing (a burst of errors)",
    ["deployment", "reason"],
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


_database_collectors: list = []


def register_database_collector(collector) -> None:
    """Add ``collector`` (an object with ``collect()``, read at scrape time) to /metrics, after
    the process's counters. The app that owns the data registers it in its ``ready()``; a
    collector already registered is not added twice."""
    if collector not in _database_collectors:
        _database_collectors.append(collector)


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
    for collector in _database_collectors:
        database.register(collector)
    return body + generate_latest(database)
