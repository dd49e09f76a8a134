"""The operators' page (costs, the staff console, reconcile, price updates) and the webhooks
page (events, payloads, signatures with the standardwebhooks libraries), in every language; the
operators' catalog sample loads and its guard-rail output is what sync_catalog prints."""

import io
import re
import tomllib

import pytest
from django.conf import settings
from django.core.management import call_command
from django.urls import reverse

from apps.catalog.models import Deployment
from apps.webhooks.models import EVENT_TYPES, TEST_EVENT
from tests.docs.test_pages import LANGUAGES, code_blocks

pytestmark = pytest.mark.django_db


def page(client, slug, language):
    response = client.get(
        reverse("docs:page", args=[slug]), HTTP_ACCEPT_LANGUAGE=LANGUAGES[language]
    )
    assert response.status_code == 200
    return response.content.decode()


@pytest.mark.parametrize("language", LANGUAGES)
def test_the_operators_page_covers_costs_the_console_reconcile_and_price_updates(client, language):
    body = page(client, "operators", language)
    for needle in (
        "upstream_cost",
        "UsageHour",
        "DeploymentHour",
        "/admin/console/",
        "manage.py reconcile",
        "MISMATCH",
        "CATALOG_PRICE_FACTOR",
        "--force",
        "--dry-run",
        "check_ledger",
        "check_rollups",
    ):
        assert needle in body, needle
    # The factor it names is the setting's default.
    assert f"<code>{settings.CATALOG_PRICE_FACTOR:g}</code>" in body
    headings = re.findall(r"<h2[^>]*>(.*?)<a", body)
    assert len(headings) == 4  # costs, the console, reconciling, price updates


def test_the_operators_catalog_sample_loads_and_its_refusal_is_sync_catalogs(
    client, tmp_path, monkeypatch
):
    blocks = code_blocks(page(client, "operators", "en"))
    (sample,) = [code for lang, code in blocks if lang == "toml"]
    (output,) = [code for lang, code in blocks if lang == "text"]
    providers = """
[providers.anthropic]
base_url = "https://api.anthropic.example/v1"
api_key_env = "ANTHROPIC_API_KEY"

[providers.bedrock]
base_url = "https://bedrock.example/v1"
api_key_env = "AWS_KEY"
"""
    assert tomllib.loads(sample)["models"][0]["upstream_cost"]
    path = tmp_path / "catalog.toml"
    path.write_text(providers + sample)
    call_command("sync_catalog", "--file", str(path), stdout=io.StringIO())

    def cents(value):  # US$ per 1M tokens, in cents (1 cent = 10**6 µcr)
        return None if value is None else value // 10**6

    costs = {
        d.label: tuple(
            cents(v) for v in (d.cost_input, d.cost_output, d.cost_cached_input, d.cost_cache_write)
        )
        for d in Deployment.objects.filter(model__public_id="claude-sonnet")
    }
    assert costs == {
        "anthropic:ANTHROPIC_API_KEY:claude-sonnet": (300, 1500, 30, 375),
        "bedrock:AWS_KEY:anthropic.claude-sonnet-4": (300, 1500, 30, None),
    }
    path.write_text(providers + sample.replace('output_price = "18.00"', 'output_price = "0.18"'))
    out = io.StringIO()
    call_command("sync_catalog", "--file", str(path), "--dry-run", stdout=out)
    for line in output.strip().splitlines():
        assert line.strip() in out.getvalue(), line


@pytest.mark.parametrize("language", LANGUAGES)
def test_the_webhooks_page_gives_every_event_and_verifies_with_standardwebhooks(client, language):
    body = page(client, "webhooks", language)
    for event in [*EVENT_TYPES, TEST_EVENT]:
        assert f"<code>{event}</code>" in body, event
    for header in ("webhook-id", "webhook-timestamp", "webhook-signature"):
        assert f"<code>{header}</code>" in body
    samples = code_blocks(body)
    python = [code for lang, code in samples if lang == "python"]
    javascript = [code for lang, code in samples if lang == "javascript"]
    assert any("from standardwebhooks.webhooks import Webhook" in c for c in python)
    assert any('from "standardwebhooks"' in c and ".verify(" in c for c in javascript)
    payloads = [code for lang, code in samples if lang == "json"]
    assert len(payloads) >= len(EVENT_TYPES) - 3  # the four key events share one sample
