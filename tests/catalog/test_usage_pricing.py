"""Usage as providers report it, normalised, and priced to the µcr."""

import pytest

from apps.catalog.pricing import Usage, usage_cost, usage_from_provider
from apps.catalog.selectors import Route


def route(**prices):
    fields = {
        "public_id": "m",
        "upstream_id": "m",
        "base_url": "http://x",
        "api_key": None,
        "provider": "p",
        "family": "",
        "input_price": 300_000_000,  # $3 per 1M
        "output_price": 1_500_000_000,  # $15 per 1M
        "context_length": 200_000,
        "max_output": 8192,
        "created": 0,
    }
    return Route(**{**fields, **prices})


@pytest.mark.parametrize(
    ("reported", "expected"),
    [
        (None, None),
        ("nope", None),
        ({}, Usage()),
        (  # OpenAI: prompt_tokens includes the cached part
            {
                "prompt_tokens": 2006,
                "completion_tokens": 300,
                "prompt_tokens_details": {"cached_tokens": 1920, "audio_tokens": 0},
                "completion_tokens_details": {"reasoning_tokens": 192},
            },
            Usage(prompt=2006, completion=300, cached=1920, reasoning=192),
        ),
        (  # DeepSeek
            {
                "prompt_tokens": 100,
                "completion_tokens": 5,
                "prompt_cache_hit_tokens": 64,
                "prompt_cache_miss_tokens": 36,
            },
            Usage(prompt=100, completion=5, cached=64),
        ),
        (  # OpenRouter-style cache writes
            {
                "prompt_tokens": 5000,
                "completion_tokens": 10,
                "prompt_tokens_details": {"cached_tokens": 0, "cache_write_tokens": 4800},
            },
            Usage(prompt=5000, completion=10, cache_write=4800),
        ),
        (  # Anthropic's own shape: input_tokens excludes what was read or written
            {
                "input_tokens": 50,
                "output_tokens": 20,
                "cache_read_input_tokens": 1000,
                "cache_creation_input_tokens": 200,
            },
            Usage(prompt=1250, completion=20, cached=1000, cache_write=200),
        ),
        (  # nonsense is clamped, never negative or beyond the prompt
            {
                "prompt_tokens": 10,
                "completion_tokens": -4,
                "prompt_tokens_details": {"cached_tokens": 50},
                "completion_tokens_details": {"reasoning_tokens": "x"},
            },
            Usage(prompt=10, completion=0, cached=10),
        ),
        ({"prompt_tokens": True, "completion_tokens": 3.0}, Usage(completion=3)),
        (  # the Responses API: input_tokens includes the cached part
            {
                "input_tokens": 900,
                "input_tokens_details": {"cached_tokens": 800},
                "output_tokens": 50,
                "output_tokens_details": {"reasoning_tokens": 20},
                "total_tokens": 950,
            },
            Usage(prompt=900, completion=50, cached=800, reasoning=20),
        ),
    ],
)
def test_usage_from_provider(reported, expected):
    assert usage_from_provider(reported) == expected


def test_each_part_at_its_price_rounded_up_per_part():
    priced = route(cached_input_price=30_000_000, cache_write_price=375_000_000, request_price=7)
    usage = Usage(prompt=12_000, completion=100, cached=10_000, cache_write=1_500, reasoning=40)
    assert usage.uncached == 500
    assert usage_cost(priced, usage) == 500 * 300 + 10_000 * 30 + 1_500 * 375 + 100 * 1_500 + 7
    # Without cache prices, cached and written tokens cost what input costs.
    assert usage_cost(route(), usage) == 12_000 * 300 + 100 * 1_500
    # 1 token at $0.07 per 1M is 7 µcr; at $0.075 it is 7.5, rounded up to 8.
    assert usage_cost(route(input_price=7_500_000, output_price=0), Usage(prompt=1)) == 8


def test_one_hour_cache_writes_are_read_from_anthropics_usage_and_priced_apart():
    reported = {
        "input_tokens": 50,
        "cache_read_input_tokens": 1000,
        "cache_creation_input_tokens": 300,
        "cache_creation": {"ephemeral_5m_input_tokens": 100, "ephemeral_1h_input_tokens": 200},
        "output_tokens": 12,
    }
    usage = usage_from_provider(reported)
    assert (usage.prompt, usage.cache_write, usage.cache_write_long) == (1350, 300, 200)
    priced = route(cached_input_price=30_000_000, cache_write_price=375_000_000)
    assert usage_cost(priced, usage) == (
        50 * 300 + 1000 * 30 + 100 * 375 + 200 * 600 + 12 * 1_500  # 1-hour: twice the input
    )
    declared = route(cache_write_price=375_000_000, cache_write_long_price=500_000_000)
    assert usage_cost(declared, usage) == 1050 * 300 + 100 * 375 + 200 * 500 + 12 * 1_500
