"""Issue #24, 4 and 15 for an organization: the dashboard's spend chart and recent requests,
and a team key's page, show the organization's traffic (its principal owns the keys and the
records), in the organization's time zone; a member without the usage permission sees none."""

import json
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from apps.keys.services import api_key_create
from apps.usage.rollup import rollup_step
from tests.usage.factories import record

from .conftest import act_as

pytestmark = pytest.mark.django_db


def _chart(body: str) -> dict:
    data = body.split('id="usage-chart-data" type="application/json">')[1]
    return json.loads(data.split("<")[0])


@pytest.fixture
def traffic(org, team):
    key, _ = api_key_create(
        user_id=org.principal_id, name="team-ci", created_by_id=team["admin"].pk
    )
    now = timezone.now()
    rows = [
        record(org.principal, key=key, at=now - timedelta(days=1), cost=2_000_000),
        record(org.principal, key=key, at=now - timedelta(minutes=2), cost=1_000_000),
    ]
    rollup_step()
    return key, rows


def test_the_dashboard_and_a_team_keys_page_show_the_organizations_traffic(
    client, org, team, traffic
):
    key, rows = traffic
    client.force_login(team["owner"])
    act_as(client, org)
    for url, scope in (
        (reverse("dashboard"), "account"),
        (reverse("keys:detail", args=[key.pk]), "key"),
    ):
        body = client.get(url).content.decode()
        assert f'data-testid="{scope}-insight"' in body
        assert "3.00 credits over 2 requests" in body
        assert sum(sum(s) for s in _chart(body)["cost"].values()) == 3.0
        recent = body.split(f'data-testid="{scope}-recent"')[1]
        assert recent.index(rows[1].request_id) < recent.index(rows[0].request_id)
        assert reverse("console:request_detail", args=[rows[1].request_id]) in recent


def test_a_member_without_the_usage_permission_sees_no_spend_on_the_dashboard(
    client, org, team, traffic
):
    client.force_login(team["member"])
    act_as(client, org)
    body = client.get(reverse("dashboard")).content.decode()
    assert 'data-testid="account-insight"' not in body and "usage-chart-data" not in body
