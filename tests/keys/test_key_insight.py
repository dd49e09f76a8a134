"""A key's page shows its spend over time (a chart of the rollups, by day) and its latest
requests, each linking to its request page; another key's traffic is not counted."""

import json
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from apps.usage.rollup import rollup_step
from tests.usage.factories import record

from .factories import make_key

pytestmark = pytest.mark.django_db


def test_the_key_page_shows_its_spend_per_day_and_its_recent_requests(owner_client, owner):
    key, _ = make_key(owner, name="ci")
    other, _ = make_key(owner, name="laptop")
    now = timezone.now()
    mine = [
        record(owner, key=key, at=now - timedelta(days=2), cost=2_000_000),
        record(owner, key=key, at=now - timedelta(minutes=3), cost=1_500_000, status=429),
        record(owner, key=key, at=now - timedelta(minutes=1), cost=500_000),
    ]
    theirs = record(owner, key=other, at=now - timedelta(minutes=2), cost=9_000_000)
    rollup_step()
    response = owner_client.get(reverse("keys:detail", args=[key.pk]))
    body = response.content.decode()
    assert 'data-testid="key-insight"' in body
    assert "4.00 credits over 3 requests" in body  # 2 + 1.5 + 0.5, not the other key's 9
    data = body.split('id="usage-chart-data" type="application/json">')[1]
    chart = json.loads(data.split("<")[0])
    assert len(chart["labels"]) == 30 and sum(sum(s) for s in chart["cost"].values()) == 4.0
    assert chart["cost"]["demo-chat"][-3] == 2.0  # two days ago, on its own day
    recent = body.split('data-testid="key-recent"')[1]
    for r in reversed(mine):
        link = reverse("console:request_detail", args=[r.request_id])
        assert f'href="{link}"' in recent
    assert theirs.request_id not in recent
    assert recent.index(mine[2].request_id) < recent.index(mine[1].request_id)  # newest first
    assert "vendor/chartjs" in body


def test_a_key_without_traffic_says_so(owner_client, owner):
    key, _ = make_key(owner, name="idle")
    body = owner_client.get(reverse("keys:detail", args=[key.pk])).content.decode()
    assert 'data-testid="key-no-spend"' in body and "No requests with this key" in body
