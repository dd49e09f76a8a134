"""The model browser: search, filters (provider, context length, price, modality, native
protocol) and sorts (price, context, latency) from GET parameters, with a description per model
and prices in credits and dollars."""

from datetime import timedelta

import pytest
from django.core.cache import cache
from django.core.management import call_command
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import override

from apps.console.browser import LATENCY_CACHE_KEY
from tests.factories import UserFactory
from tests.usage.factories import record

pytestmark = pytest.mark.django_db
MODELS = reverse("console:models")


@pytest.fixture(autouse=True)
def catalog():
    cache.delete(LATENCY_CACHE_KEY)
    call_command("sync_catalog", stdout=open("/dev/null", "w"))  # noqa: SIM115
    yield
    cache.delete(LATENCY_CACHE_KEY)


def shown(client, query=""):
    return [m.id for m in client.get(MODELS + query).context["models"]]


def test_every_model_has_a_description_and_prices_in_credits_and_dollars(client):
    response = client.get(MODELS)
    cards = response.context["models"]
    assert len(cards) == 14 and all(c.description and c.description_zh for c in cards)
    body = response.content.decode()
    row = body.split('data-model="gpt-4o-mini"')[1].split("</tr>")[0]
    assert "small, cheap GPT-4o" in row
    assert "15.00 credits" in row and "($0.15)" in row  # US$0.15 per 1M = 15 credits
    with override("zh-hans"):
        zh = client.get(MODELS, HTTP_ACCEPT_LANGUAGE="zh-hans").content.decode()
    assert "小巧便宜的 GPT-4o" in zh


def test_search_finds_by_name_provider_and_description(client):
    assert shown(client, "?q=gemini") == ["gemini-1.5-flash", "gemini-1.5-pro", "gemini-2.0-flash"]
    assert shown(client, "?q=claude+code") == ["claude-3-5-sonnet"]  # from its description
    assert shown(client, "?q=nothing-like-this") == []
    response = client.get(MODELS + "?q=nothing-like-this")
    assert "No model matches these filters." in response.content.decode()
    assert 'value="nothing-like-this"' in response.content.decode()  # the box keeps its text


def test_filters_narrow_the_models(client):
    assert shown(client, "?provider=deepseek") == ["deepseek-chat", "deepseek-reasoner"]
    assert set(shown(client, "?context=1000000")) == {
        "gemini-1.5-pro",
        "gemini-1.5-flash",
        "gemini-2.0-flash",
        "qwen-turbo",
    }
    cheap = shown(client, "?price=0.25")  # at most US$0.25 per 1M input tokens
    assert set(cheap) == {
        "gpt-4o-mini",
        "qwen-turbo",
        "claude-3-haiku",
        "gemini-1.5-flash",
        "gemini-2.0-flash",
    }
    assert set(shown(client, "?modality=audio")) == {
        "gemini-1.5-pro",
        "gemini-1.5-flash",
        "gemini-2.0-flash",
    }
    assert set(shown(client, "?protocol=messages")) == {
        "claude-3-sonnet",
        "claude-3-5-sonnet",
        "claude-3-haiku",
    }
    assert shown(client, "?provider=openai&protocol=responses&price=1") == ["gpt-4o-mini"]
    body = client.get(MODELS + "?provider=nope").content.decode()
    assert 'role="alert"' in body  # a bad value is said, and every model still shown


def test_sorts_by_price_context_and_latency(client):
    by_price = shown(client, "?sort=price")
    assert by_price[0] == "qwen-turbo" and by_price[-1] == "gpt-4-turbo"
    assert shown(client, "?sort=-price")[0] == "gpt-4-turbo"
    assert shown(client, "?sort=-context")[0] == "gemini-1.5-pro"
    user = UserFactory()
    now = timezone.now()
    for i, (model, ms) in enumerate([("qwen-max", 900), ("gpt-4o", 300), ("gpt-4o", 500)]):
        record(user, at=now - timedelta(minutes=i), model=model, latency_ms=ms)
    record(user, at=now, model="deepseek-chat", latency_ms=50, status=502)  # failures: not counted
    cache.delete(LATENCY_CACHE_KEY)  # the medians are kept five minutes
    by_latency = shown(client, "?sort=latency")
    assert by_latency[:2] == ["gpt-4o", "qwen-max"]  # then the unmeasured ones
    body = client.get(MODELS + "?sort=latency").content.decode()
    assert 'data-testid="latency">500 ms' in body  # the median of 300 and 500: the upper one


def test_htmx_swaps_only_the_results(client):
    response = client.get(MODELS + "?q=qwen", HTTP_HX_REQUEST="true")
    body = response.content.decode()
    assert body.lstrip().startswith('<section class="card" id="model-results"')
    assert "<html" not in body and body.count("<tr data-model=") == 3


def test_the_back_buttons_history_restore_gets_the_whole_page(client):
    response = client.get(
        MODELS + "?q=qwen", HTTP_HX_REQUEST="true", HTTP_HX_HISTORY_RESTORE_REQUEST="true"
    )
    assert "<html" in response.content.decode()
