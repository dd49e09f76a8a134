import io

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from apps.catalog.estimate import estimate_messages_tokens, estimate_request_tokens
from apps.catalog.models import Model, Provider
from apps.catalog.pricing import (
    dollars_per_million_to_micro,
    request_cost,
    tokens_cost,
)
from apps.catalog.selectors import catalog_routes

pytestmark = pytest.mark.django_db

SEED_MODELS = {"deepseek-chat", "gpt-4o", "claude-3-sonnet"}


def sync(path=None):
    out = io.StringIO()
    call_command("sync_catalog", *(["--file", str(path)] if path else []), stdout=out)
    return out.getvalue()


def test_the_shipped_catalog_loads_with_the_seed_models_and_families():
    output = sync()
    assert "models created" in output
    ids = set(Model.objects.values_list("public_id", flat=True))
    assert ids >= SEED_MODELS
    families = set(Model.objects.values_list("family", flat=True))
    assert {"DeepSeek", "GPT-4", "Claude", "Qwen", "Gemini"} <= families
    deepseek = Model.objects.get(public_id="deepseek-chat")
    assert (deepseek.input_price, deepseek.output_price) == (27_000_000, 110_000_000)
    assert (deepseek.context_length, deepseek.max_output) == (65536, 8192)
    assert Provider.objects.get(slug="deepseek").api_key_env == "DEEPSEEK_API_KEY"
    assert Provider.objects.get(slug="deepseek").protocols == []
    assert Provider.objects.get(slug="anthropic").protocols == ["messages"]
    assert Provider.objects.get(slug="openai").protocols == ["responses"]


def test_cache_and_request_prices_and_the_output_limit_field(tmp_path):
    path = tmp_path / "catalog.toml"
    path.write_text(
        """
[providers.p]
base_url = "https://p.example/v1"

[[models]]
id = "cached"
provider = "p"
input_price = "3.00"
output_price = "15.00"
cached_input_price = "0.30"
cache_write_price = "3.75"
cache_write_1h_price = "6.00"
request_price = "0.0001"
max_tokens_param = "max_completion_tokens"
context_length = 200000
max_output = 8192

[[models]]
id = "plain"
provider = "p"
input_price = "1.00"
output_price = "2.00"
context_length = 8192
max_output = 1024
"""
    )
    sync(path)
    routes = catalog_routes()
    cached, plain = routes["cached"], routes["plain"]
    assert (cached.cached_price, cached.write_price, cached.request_price) == (
        30_000_000,
        375_000_000,
        10_000,  # US$0.0001 = 0.01 credits
    )
    assert cached.max_tokens_param == "max_completion_tokens"
    assert cached.long_write_price == 600_000_000
    assert plain.long_write_price == 200_000_000  # 1-hour writes: twice the input price
    # Without their own prices, cache reads and writes cost what input costs.
    assert (plain.cached_price, plain.write_price, plain.request_price) == (100_000_000,) * 2 + (0,)
    assert plain.max_tokens_param == "max_tokens"


def test_sync_is_repeatable_and_disables_models_no_longer_listed(tmp_path):
    sync()
    small = tmp_path / "catalog.toml"
    small.write_text(
        """
[providers.deepseek]
base_url = "https://api.deepseek.com/v1"
api_key_env = "DEEPSEEK_API_KEY"

[[models]]
id = "deepseek-chat"
provider = "deepseek"
input_price = "0.30"
output_price = "1.20"
context_length = 65536
max_output = 8192
"""
    )
    output = sync(small)
    assert "1 updated" in output and "gpt-4o" in output
    assert Model.objects.get(public_id="deepseek-chat").input_price == 30_000_000
    assert not Model.objects.get(public_id="gpt-4o").enabled
    assert sync(small).count("disabled") == 1  # nothing left to disable


@pytest.mark.parametrize(
    ("text", "error"),
    [
        ("not toml [", "not valid TOML"),
        ('[[models]]\nid = "x"\nprovider = "nope"', "unknown provider"),
        (
            '[providers.p]\nbase_url = "https://x"\n[[models]]\nid = "x"\nprovider = "p"\n'
            'input_price = "abc"\noutput_price = "1"\ncontext_length = 10\nmax_output = 5',
            "model 'x'",
        ),
        (
            '[providers.p]\nbase_url = "https://x"\n[[models]]\nid = "x"\nprovider = "p"\n'
            'input_price = "1"\noutput_price = "1"\ncontext_length = 10\nmax_output = 50',
            "max_output <= context_length",
        ),
        ('[providers.p]\nbase_url = "ftp://x"', "http(s) URL"),
        ('[providers.p]\nbase_url = "https://x"\nprotocols = ["gopher"]', "unknown protocol"),
        ('[providers.p]\nbase_url = "https://x"\nprotocols = "messages"', "list of names"),
        (
            '[providers.p]\nbase_url = "https://x"\n[[models]]\nid = "x"\nprovider = "p"\n'
            'input_price = "1"\noutput_price = "1"\ncontext_length = 10\nmax_output = 5\n'
            "cached_input_price = 0.5",
            "'cached_input_price' must be a string",
        ),
        (
            '[providers.p]\nbase_url = "https://x"\n[[models]]\nid = "x"\nprovider = "p"\n'
            'input_price = "1"\noutput_price = "1"\ncontext_length = 10\nmax_output = 5\n'
            'request_price = "-1"',
            "model 'x'",
        ),
        (
            '[providers.p]\nbase_url = "https://x"\n[[models]]\nid = "x"\nprovider = "p"\n'
            'input_price = "1"\noutput_price = "1"\ncontext_length = 10\nmax_output = 5\n'
            'max_tokens_param = "max_output_tokens"',
            "max_tokens_param",
        ),
        (
            '[providers.p]\nbase_url = "https://x"\n[[models]]\nid = "x"\nprovider = "p"\n'
            'input_price = "1"\noutput_price = "1"\ncontext_length = 10\nmax_output = 5\n'
            'rpm = "500"',
            "'rpm' must be a whole number",
        ),
        (
            '[providers.p]\nbase_url = "https://x"\n[[models]]\nid = "x"\nprovider = "p"\n'
            'input_price = "1"\noutput_price = "1"\ncontext_length = 10\nmax_output = 5\n'
            '[[models.deployments]]\nprovider = "p"\nupstream_id = "y"\ntpm = -1',
            "'tpm' must be a whole number",
        ),
    ],
)
def test_bad_catalogs_are_refused_and_change_nothing(tmp_path, text, error):
    path = tmp_path / "bad.toml"
    path.write_text(text)
    with pytest.raises(CommandError, match=error.replace("(", r"\(").replace(")", r"\)")):
        sync(path)
    assert not Model.objects.exists()


def test_routes_use_the_provider_when_its_key_is_set_else_the_demo(settings, monkeypatch):
    sync()
    monkeypatch.setenv("DEEPSEEK_API_KEY", "sk-upstream")
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    routes = catalog_routes()
    assert routes["deepseek-chat"].base_url == "https://api.deepseek.com/v1"
    assert routes["deepseek-chat"].api_key == "sk-upstream" and not routes["deepseek-chat"].demo
    assert routes["gpt-4o"].demo and routes["gpt-4o"].base_url.endswith("/_demo/v1")
    settings.DEMO_UPSTREAM_ENABLED = False  # production: models without a key are absent
    routes = catalog_routes()
    assert "deepseek-chat" in routes and "gpt-4o" not in routes


def test_prices_and_costs_are_exact_integers():
    assert dollars_per_million_to_micro("0.075") == 7_500_000
    with pytest.raises(ValueError):
        dollars_per_million_to_micro("0.000000001")
    assert tokens_cost(1, 27_000_000) == 27  # µcr, rounded up
    assert tokens_cost(3, 1) == 1
    assert (
        request_cost(prompt_tokens=1_000_000, completion_tokens=0, input_price=5, output_price=9)
        == 5
    )


def test_prompt_estimate_is_generous():
    english = [{"role": "user", "content": "Hello! How are you today, my friend?"}]
    assert estimate_messages_tokens(english) >= 10 + 4
    chinese = [{"role": "user", "content": "你好，今天过得怎么样？"}]
    assert estimate_messages_tokens(chinese) >= 11
    parts = [{"role": "user", "content": [{"type": "text", "text": "hi"}, {"type": "image_url"}]}]
    assert estimate_messages_tokens(parts) > 1000


@pytest.mark.parametrize(
    ("text", "tokens"),
    [("", 0), ("part part part ", 3), ("Hello, world!", 4), ("你好世界", 4), ("GPT-4o", 3)],
)
def test_count_text_tokens(text, tokens):
    from apps.catalog.pricing import count_text_tokens

    assert count_text_tokens(text) == tokens


def test_tools_and_response_formats_are_part_of_the_prompt_estimate():
    messages = [{"role": "user", "content": "hi"}]
    plain = estimate_request_tokens({"messages": messages})
    tools = [{"type": "function", "function": {"name": "f", "parameters": {"x": "y" * 3000}}}]
    assert estimate_request_tokens({"messages": messages, "tools": tools}) >= plain + 1000
    assert estimate_request_tokens({"messages": messages, "temperature": 1}) == plain


def test_deployment_limits_are_loaded_for_the_router(tmp_path, monkeypatch):
    from apps.catalog.models import Deployment
    from apps.catalog.selectors import catalog_routes

    monkeypatch.setenv("P_KEY", "k")
    path = tmp_path / "limits.toml"
    path.write_text(
        '[providers.p]\nbase_url = "https://x"\napi_key_env = "P_KEY"\n'
        '[[models]]\nid = "x"\nprovider = "p"\nrpm = 60\n'
        'input_price = "1"\noutput_price = "1"\ncontext_length = 10\nmax_output = 5\n'
        '[[models.deployments]]\nprovider = "p"\nupstream_id = "y"\ntpm = 1000\npriority = 1\n'
    )
    sync(path)
    rows = {(d.upstream_id, d.rpm, d.tpm) for d in Deployment.objects.all()}
    assert rows == {("x", 60, 0), ("y", 0, 1000)}
    own, other = catalog_routes()["x"].deployments
    assert (own.rpm, own.tpm, other.rpm, other.tpm) == (60, 0, 0, 1000)
