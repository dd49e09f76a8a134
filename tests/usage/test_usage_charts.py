"""The usage page: the totals table ends with a total row, the tokens chart splits input from
output, every chart names its unit, and the From/To dates show for a custom range only."""

import json
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from apps.usage.rollup import rollup_step
from tests.keys.factories import make_key

from .factories import record

pytestmark = pytest.mark.django_db
USAGE = reverse("usage:index")


@pytest.fixture
def traffic(owner):
    key, _ = make_key(owner)
    now = timezone.now()
    record(
        owner,
        key=key,
        at=now - timedelta(hours=1),
        model="a",
        cost=1_000_000,
        prompt_tokens=100,
        completion_tokens=10,
    )
    record(
        owner,
        key=key,
        at=now - timedelta(hours=2),
        model="b",
        cost=2_500_000,
        prompt_tokens=300,
        completion_tokens=40,
        status=502,
    )
    rollup_step()


def chart(body):
    return json.loads(body.split('id="usage-chart-data" type="application/json">')[1].split("<")[0])


def test_the_totals_table_has_a_total_row(owner_client, traffic):
    body = owner_client.get(USAGE + "?range=7d").content.decode()
    foot = body.split('data-testid="usage-total-row"')[1].split("</tr>")[0]
    cells = [c.split(">", 1)[1].split("<")[0] for c in foot.split("<td")[1:]]
    assert cells == ["2", "1", "400", "0%", "50", "3.50"]


def test_the_tokens_chart_splits_input_and_output_and_charts_name_their_units(
    owner_client, traffic
):
    body = owner_client.get(USAGE + "?range=7d").content.decode()
    data = chart(body)
    assert sum(data["token_split"]["Input"]) == 400 and sum(data["token_split"]["Output"]) == 50
    assert 'data-chart="cost" data-unit="credits"' in body
    assert 'data-chart="tokens" data-unit="tokens"' in body
    assert 'data-chart="requests" data-unit="requests"' in body


def test_from_and_to_show_only_for_a_custom_range(owner_client, traffic):
    body = owner_client.get(USAGE + "?range=7d").content.decode()
    assert body.count("<p data-custom-range hidden>") == 2
    today = timezone.now().date()
    custom = owner_client.get(USAGE + f"?range=custom&start={today}&end={today}")
    assert "data-custom-range hidden" not in custom.content.decode()
    assert "data-custom-range hidden" in owner_client.get(USAGE).content.decode()
