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


def test_the_days_are_named_in_the_organizations_zone(client, org, team, traffic):
    """The 30 days are counted in the organization's zone; the label names that zone, not the
    zone of the person looking (UTC here)."""
    principal = org.principal
    principal.time_zone = "Asia/Shanghai"
    principal.save(update_fields=["time_zone"])
    client.force_login(team["owner"])
    act_as(client, org)
    body = client.get(reverse("dashboard")).content.decode()
    assert 'data-testid="account-days-zone">(Asia/Shanghai)' in body


def test_a_member_sees_their_keys_numbers_without_links_that_would_refuse_them(client, org, team):
    key, _ = api_key_create(user_id=org.principal_id, name="mine", created_by_id=team["member"].pk)
    row = record(org.principal, key=key, at=timezone.now() - timedelta(minutes=1), cost=1_000_000)
    rollup_step()
    client.force_login(team["member"])
    act_as(client, org)
    body = client.get(reverse("keys:detail", args=[key.pk])).content.decode()
    assert "1.00 credits over 1 requests" in body
    recent = body.split('data-testid="key-recent"')[1]
    assert row.request_id in recent
    assert reverse("console:request_detail", args=[row.request_id]) not in recent
    assert "/usage/" not in body.split('data-testid="key-insight"')[1]
    assert client.get(reverse("console:request_detail", args=[row.request_id])).status_code == 403
