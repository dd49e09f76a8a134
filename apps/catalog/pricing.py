"""Prices and charges. Integer µcr only; prices are µcr per 1,000,000 tokens. (The prompt
estimate a request is held for is in ``apps.catalog.estimate``.)"""

import re
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

from apps.core.money import CREDITS_PER_DOLLAR, MICRO

PER = 1_000_000
# 1 credit = US$0.01, so US$1 = 100 credits = 100,000,000 µcr.
MICRO_PER_DOLLAR = CREDITS_PER_DOLLAR * MICRO


def dollars_per_million_to_micro(price: str | Decimal) -> int:
    """``"0.27"`` US$ per 1M tokens → 27,000,000 µcr per 1M tokens (exact, or ValueError)."""
    try:
        value = Decimal(str(price)) * MICRO_PER_DOLLAR
    except InvalidOperation as exc:
        raise ValueError(f"price {price!r} is not a number") from exc
    if not value.is_finite() or value != value.to_integral_value() or value < 0:
        raise ValueError(f"price {price!r} is not a whole number of µcr per 1M tokens")
    return int(value)


def tokens_cost(tokens: int, price_per_million: int) -> int:
    """µcr for ``tokens`` at ``price_per_million``, rounded up to a whole µcr."""
    return -(-tokens * price_per_million // PER)


def request_cost(
    *, prompt_tokens: int, completion_tokens: int, input_price: int, output_price: int
) -> int:
    return tokens_cost(prompt_tokens, input_price) + tokens_cost(completion_tokens, output_price)


@dataclass(frozen=True)
class Usage:
    """What a provider billed for one request, normalised. ``prompt`` is every input token,
    ``cached`` (read from the provider's prompt cache) and ``cache_write`` included;
    ``completion`` is every output token, ``reasoning`` included."""

    prompt: int = 0
    completion: int = 0
    cached: int = 0
    cache_write: int = 0
    reasoning: int = 0
    cache_write_long: int = 0  # of ``cache_write``: written to a 1-hour cache (priced apart)
    # Nothing useful came back (no output, no finish reason): not even the request's price.
    insured: bool = False

    @property
    def uncached(self) -> int:
        return max(self.prompt - self.cached - self.cache_write, 0)


def _count(value) -> int:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return 0
    return max(int(value), 0)


def usage_from_provider(usage) -> Usage | None:
    """A provider's usage object → ``Usage``, or None when there is none.

    OpenAI: ``prompt_tokens`` includes ``prompt_tokens_details.cached_tokens``; DeepSeek reports
    ``prompt_cache_hit_tokens``; cache writes appear as ``prompt_tokens_details.cache_write_tokens``
    (OpenRouter), ``cache_creation_tokens`` or Anthropic's ``cache_creation_input_tokens``.
    Anthropic's own shape (``input_tokens`` without the cached parts) and the Responses API's
    (``input_tokens`` with ``input_tokens_details.cached_tokens`` among them) are accepted too.
    """
    if not isinstance(usage, dict):
        return None
    prompt_details = usage.get("prompt_tokens_details")
    prompt_details = prompt_details if isinstance(prompt_details, dict) else {}
    completion_details = usage.get("completion_tokens_details")
    completion_details = completion_details if isinstance(completion_details, dict) else {}
    long = 0
    cache_write = _count(
        prompt_details.get("cache_write_tokens")
        or prompt_details.get("cache_creation_tokens")
        or usage.get("cache_creation_input_tokens")
    )
    responses = usage.get("input_tokens_details") or usage.get("output_tokens_details")
    if "prompt_tokens" not in usage and isinstance(responses, dict):  # OpenAI's Responses shape
        input_details = usage.get("input_tokens_details")
        input_details = input_details if isinstance(input_details, dict) else {}
        output_details = usage.get("output_tokens_details")
        output_details = output_details if isinstance(output_details, dict) else {}
        prompt = _count(usage.get("input_tokens"))
        completion = _count(usage.get("output_tokens"))
        cached = min(_count(input_details.get("cached_tokens")), prompt)
        write = min(_count(input_details.get("cache_write_tokens")), prompt - cached)
        reasoning = min(_count(output_details.get("reasoning_tokens")), completion)
        return Usage(prompt, completion, cached, write, reasoning)
    if "prompt_tokens" not in usage and "input_tokens" in usage:  # Anthropic's Messages shape
        cached = _count(usage.get("cache_read_input_tokens"))
        prompt = _count(usage.get("input_tokens")) + cached + cache_write
        completion = _count(usage.get("output_tokens"))
        durations = usage.get("cache_creation")
        if isinstance(durations, dict):  # 5-minute and 1-hour writes, priced apart
            long = _count(durations.get("ephemeral_1h_input_tokens"))
    else:
        prompt = _count(usage.get("prompt_tokens"))
        cached = _count(
            prompt_details.get("cached_tokens")
            or usage.get("prompt_cache_hit_tokens")
            or usage.get("cache_read_input_tokens")
        )
        completion = _count(usage.get("completion_tokens"))
    cached = min(cached, prompt)
    cache_write = min(cache_write, prompt - cached)
    reasoning = min(_count(completion_details.get("reasoning_tokens")), completion)
    return Usage(prompt, completion, cached, cache_write, reasoning, min(long, cache_write))


def usage_cost(route, usage: Usage) -> int:
    """µcr for ``usage`` at ``route``'s prices: uncached input, cached input read, cache
    writes (5-minute and 1-hour apart) and output (reasoning included) each at its price per
    1M tokens, each rounded up to a whole µcr, plus the model's price per request."""
    return (
        tokens_cost(usage.uncached, route.input_price)
        + tokens_cost(usage.cached, route.cached_price)
        + tokens_cost(usage.cache_write - usage.cache_write_long, route.write_price)
        + tokens_cost(usage.cache_write_long, route.long_write_price)
        + tokens_cost(usage.completion, route.output_price)
        + (0 if usage.insured else route.request_price)
    )


def upstream_usage_cost(target, usage: Usage) -> int | None:
    """µcr the upstream charges us for ``usage`` at the serving deployment's cost prices
    (``Target.cost_*``), priced as ``usage_cost`` prices the sale, from the same usage: uncached
    input, cached reads (at the input cost when none is declared), cache writes (likewise) and
    output, each rounded up. None when unknown: no deployment, or it declares no input or
    output cost."""
    if target is None:
        return None
    cost_input = getattr(target, "cost_input", None)
    cost_output = getattr(target, "cost_output", None)
    if cost_input is None or cost_output is None:
        return None
    cached = target.cost_cached_input
    write = target.cost_cache_write
    return (
        tokens_cost(usage.uncached, cost_input)
        + tokens_cost(usage.cached, cost_input if cached is None else cached)
        + tokens_cost(usage.cache_write, cost_input if write is None else write)
        + tokens_cost(usage.completion, cost_output)
    )


_CJK = "\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af\uf900-\ufaff"
_TOKENS = re.compile(rf"[{_CJK}]|[^\W{_CJK}]+|[^\w\s]")


def count_text_tokens(text: str) -> int:
    """A close count of the tokens in produced text, when an upstream reports none: a word or a
    punctuation mark each, and one per CJK character."""
    return len(_TOKENS.findall(text)) if text else 0


def price_per_million_credits(micro: int) -> Decimal:
    return Decimal(micro) / MICRO


def price_per_million_dollars(micro: int) -> Decimal:
    return Decimal(micro) / MICRO_PER_DOLLAR
