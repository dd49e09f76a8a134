"""The admin's Deployments page shows each deployment's last hour: attempts, error rate, the last
error, p50 time to answer and p50 time to the first token, from the usage records' attempt
chains."""

from datetime import timedelta

import pytest
from django.core.management import call_command
from django.utils import timezone

from apps.catalog.models import Deployment
from apps.usage.selectors import deployment_health
from tests.factories import UserFactory

from .factories import record

pytestmark = pytest.mark.django_db


def test_health_counts_every_attempt_of_the_last_hour_only():
    user = UserFactory()
    now = timezone.now()
    a, b = "p:KEY_A:m", "p:KEY_B:m"
    record(user, at=now - timedelta(minutes=5), deployment=b, stream=True, ttft_ms=80,
           attempts=[[a, 429, 3], [b, 200, 40]])  # fmt: skip
    record(user, at=now - timedelta(minutes=4), deployment=b, stream=True, ttft_ms=120,
           attempts=[[b, 200, 60]])  # fmt: skip
    record(user, at=now - timedelta(minutes=3), deployment=a, attempts=[[a, 200, 20]])
    record(user, at=now - timedelta(minutes=2), deployment=b, stream=True, ttft_ms=100,
           attempts=[[a, 503, 5], [b, 200, 50]])  # fmt: skip
    record(user, at=now - timedelta(hours=2), deployment=a, attempts=[[a, 500, 1]])  # too old
    health = deployment_health()
    assert (health[a].attempts, health[a].errors) == (3, 2)
    assert health[a].last_error.startswith("HTTP 503 at ")
    assert round(health[a].error_rate, 3) == 0.667
    assert health[a].p50_ms == 5 and health[a].p50_ttft_ms is None
    assert (health[b].attempts, health[b].errors, health[b].last_error) == (3, 0, "")
    assert health[b].p50_ms == 50 and health[b].p50_ttft_ms == 100


def test_the_deployments_page_shows_the_last_hour(client):
    call_command("sync_catalog", stdout=open("/dev/null", "w"))  # noqa: SIM115
    deployment = Deployment.objects.select_related("provider").first()
    user = UserFactory()
    now = timezone.now()
    for ms, status in ((30, 200), (40, 429), (50, 200), (60, 200)):
        record(user, at=now - timedelta(minutes=1), deployment=deployment.label,
               attempts=[[deployment.label, status, ms]])  # fmt: skip
    client.force_login(UserFactory(is_staff=True, is_superuser=True))
    page = client.get("/admin/catalog/deployment/")
    assert page.status_code == 200
    text = page.content.decode()
    for heading in ("attempts (1 h)", "error rate (1 h)", "last error", "p50 answer (1 h)"):
        assert heading in text.lower()
    assert "25.0%" in text and "HTTP 429 at" in text and "50 ms" in text


def test_postgresql_sums_the_same_health_as_python():
    """The SQL reading (PostgreSQL) and the Python one (SQLite's) agree on random chains,
    malformed attempts included."""
    import random

    from apps.usage.selectors import deployment_health_span

    rng = random.Random(23)
    user = UserFactory()
    now = timezone.now()
    names = ["p:K1:m", "p:K2:m", "q:K:m"]
    for i in range(300):
        chain = [
            [rng.choice(names), rng.choice([200, 200, 200, 429, 500, 503]), rng.randint(1, 900)]
            for _ in range(rng.randint(1, 3))
        ]
        if i % 50 == 0:
            chain.append(["", 500, 3])  # no name: skipped by both
        if i % 70 == 0:
            chain.append(["p:K1:m", 500])  # too short: skipped by both
        record(user, at=now - timedelta(seconds=rng.randint(1, 3500)),
               deployment=chain[-1][0] if chain[-1][0] else "", stream=rng.random() < 0.5,
               ttft_ms=rng.choice([0, rng.randint(10, 400)]), attempts=chain)  # fmt: skip
    record(user, at=now - timedelta(hours=2), deployment="p:K1:m", attempts=[["p:K1:m", 500, 1]])
    in_sql, span = deployment_health_span()
    in_python, python_span = deployment_health_span(in_python=True)
    assert in_sql == in_python and set(in_sql) == set(names)
    assert (span.records, span.capped) == (python_span.records, False) == (300, False)
    assert span.since == python_span.since
    assert any(h.last_error for h in in_sql.values())
    assert any(h.p50_ttft_ms for h in in_sql.values())
