"""The public models pages: every model on sale with its prices, and a page per model with a code
sample and its recent traffic (volume from the rollups, median latency from recent records)."""

import re
from datetime import timedelta

import pytest
from django.core.management import call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from apps.console import selectors
from apps.usage.models import UsageHour
from tests.factories import UserFactory
from tests.usage.factories import record

pytestmark = pytest.mark.django_db
MODELS = reverse("console:models")

CATALOG = """
[providers.demo]
name = "Demo Labs"
base_url = "https://demo.invalid/v1"
api_key_env = "OPENCODEX_TEST_UNSET_KEY"

[providers.real]
name = "Real AI"
base_url = "https://real.invalid/v1"
api_key_env = "OPENCODEX_TEST_REAL_KEY"
protocols = ["chat", "messages"]

[[models]]
id = "demo-chat"
provider = "demo"
family = "Demo"
input_price = "1.00"
output_price = "2.00"
context_length = 8192
max_output = 1024

[[models]]
id = "real/gpt-4.1"
provider = "real"
upstream_id = "gpt-4.1"
name = "GPT-4.1"
family = "Real"
input_price = "3.00"
output_price = "15.00"
cached_input_price = "0.30"
cache_write_price = "3.75"
request_price = "0.005"
context_length = 200000
max_output = 64000

[[models]]
id = "retired"
provider = "real"
input_price = "1.00"
output_price = "1.00"
context_length = 1000
max_output = 100
enabled = false
"""


@pytest.fixture
def catalog(tmp_path, monkeypatch):
    monkeypatch.setenv("OPENCODEX_TEST_REAL_KEY", "real-key")
    path = tmp_path / "catalog.toml"
    path.write_text(CATALOG)
    call_command("sync_catalog", "--file", str(path), stdout=open("/dev/null", "w"))  # noqa: SIM115


def rows(body: str) -> dict[str, str]:
    return dict(re.findall(r'<tr data-model="([^"]+)">(.*?)</tr>', body, re.S))


def test_the_models_page_is_public_and_lists_prices_and_the_demo_flag(client, catalog):
    with CaptureQueriesContext(connection) as queries:
        response = client.get(MODELS)
    assert response.status_code == 200
    # The routes: the models with their providers, their deployments; and the latencies' one
    # bounded sample of recent requests (cached five minutes).
    assert len(queries) <= 4
    found = rows(response.content.decode())
    assert set(found) == {"demo-chat", "real/gpt-4.1"}  # a disabled model is not on sale
    demo, real = found["demo-chat"], found["real/gpt-4.1"]
    assert "badge-demo" in demo and "badge-demo" not in real
    assert 'href="/models/real/gpt-4.1/"' in real and "Real AI" in real and "GPT-4.1" in real
    cells = re.findall(r"<td[^>]*>(.*?)</td>", real, re.S)
    assert cells[2:4] == ["200,000", "64,000"]  # one rule: grouped
    assert cells[4].startswith("300.00 credits") and "($3.00)" in cells[4]
    assert "+ 0.50 per request ($0.005)" in cells[4]
    assert cells[5].startswith("30.00 ") and "cache write 375.00 ($3.75)" in cells[5]
    assert cells[6].startswith("1,500.00 credits") and "($15.00)" in cells[6]
    demo_cells = re.findall(r"<td[^>]*>(.*?)</td>", demo, re.S)
    assert demo_cells[5].startswith("100.00 ") and "cache write" not in demo_cells[5]


def test_the_models_page_offers_the_playground_to_members(client, catalog, owner):
    assert reverse("account_signup") in client.get(MODELS).content.decode()
    client.force_login(owner)
    body = client.get(MODELS).content.decode()
    assert reverse("console:playground") in body
    assert f'href="{MODELS}" aria-current="page"' in body  # in the menu, marked current


@pytest.mark.parametrize("model_id", ["real/gpt-4.1", "demo-chat"])
def test_a_model_page_has_prices_limits_and_a_code_sample(client, catalog, settings, model_id):
    settings.SITE_URL = "https://opencodex.example"
    response = client.get(reverse("console:model", args=[model_id]))
    assert response.status_code == 200
    body = response.content.decode()
    assert f"<code>{model_id}</code>" in body
    for lang in ("curl", "python", "javascript"):
        assert f'id="code-{lang}"' in body
    assert "https://opencodex.example/api/v1" in body and "sk-live-YOUR_API_KEY" in body
    assert f"model=&quot;{model_id}&quot;" in body  # the Python sample, as HTML
    assert ("badge-demo" in body) == (model_id == "demo-chat")


def test_a_model_page_404s_for_unknown_or_disabled_models(client, catalog):
    assert client.get("/models/no-such-model/").status_code == 404
    assert client.get("/models/retired/").status_code == 404
    assert client.get("/models/real/").status_code == 404


def hour(user, model, at, requests, errors=0, prompt=10, completion=20):
    UsageHour.objects.create(
        hour=at.replace(minute=0, second=0, microsecond=0),
        user=user,
        model=model,
        requests=requests,
        errors=errors,
        prompt_tokens=prompt * requests,
        completion_tokens=completion * requests,
    )


def test_traffic_counts_every_account_and_medians_come_from_successful_requests(client, catalog):
    now = timezone.now()
    alice, bob = UserFactory(), UserFactory()
    model = "real/gpt-4.1"
    # Volume: the hourly rollups of every account.
    hour(alice, model, now - timedelta(hours=1), 4)
    hour(bob, model, now - timedelta(hours=2), 1, errors=1)
    hour(bob, model, now - timedelta(days=3), 1)
    hour(bob, "demo-chat", now - timedelta(hours=1), 7)
    hour(bob, model, now - timedelta(days=9), 50)  # too old
    # Latency: the records themselves.
    for minutes, latency, ttft in ((10, 100, 40), (20, 200, 60), (30, 300, 0), (40, 1000, 80)):
        record(alice, model=model, at=now - timedelta(minutes=minutes), latency_ms=latency,
               ttft_ms=ttft, stream=bool(ttft))  # fmt: skip
    record(bob, model=model, at=now - timedelta(minutes=50), status=500, latency_ms=5)
    record(bob, model=model, at=now - timedelta(days=3), latency_ms=5000)
    record(bob, model="demo-chat", at=now - timedelta(minutes=5), latency_ms=1)
    record(bob, model=model, at=now - timedelta(days=9), latency_ms=9000)  # too old

    stats = selectors.model_stats(model)
    assert (stats.day.requests, stats.day.errors, stats.day.tokens) == (5, 1, 150)
    assert (stats.week.requests, stats.week.errors) == (6, 1)
    assert stats.day.median_latency_ms == 250  # 100, 200, 300, 1000: the 500 is left out
    assert stats.week.median_latency_ms == 300  # and 5000
    assert stats.day.median_ttft_ms == 60  # streamed requests only
    assert stats.day.error_rate == 20.0
    assert sum(n for _, n in stats.daily) == 6 and stats.daily[-1][0] == now.date()

    body = client.get(reverse("console:model", args=[model])).content.decode()
    traffic = body[body.index('data-testid="traffic"') :]
    assert re.search(r'data-testid="requests">5<', traffic)
    assert re.search(r'data-testid="median-latency">250 ms<', traffic)
    assert re.search(r'data-testid="median-latency">300 ms<', traffic)
    assert "<meter" in traffic


def test_median_latency_reads_a_bounded_sample(catalog, monkeypatch):
    monkeypatch.setattr(selectors, "LATENCY_SAMPLE", 3)
    now = timezone.now()
    user = UserFactory()
    for i, latency in enumerate((10, 20, 30, 4000, 5000)):  # newest first
        record(user, model="demo-chat", at=now - timedelta(minutes=i + 1), latency_ms=latency)
    stats = selectors.model_stats("demo-chat", now=now)
    assert stats.day.sampled == 3 and stats.day.median_latency_ms == 20


def test_a_model_without_traffic_says_so(client, catalog):
    body = client.get(reverse("console:model", args=["demo-chat"])).content.decode()
    assert re.search(r'data-testid="requests">0<', body)
    assert re.search(r'data-testid="median-latency">—<', body)
