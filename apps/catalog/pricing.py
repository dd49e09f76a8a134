"""Token estimates and prices. Integer µcr only; prices are µcr per 1,000,000 tokens."""

import re
from decimal import Decimal, InvalidOperation

from apps.core.money import CREDITS_PER_DOLLAR, MICRO

PER = 1_000_000
# 1 credit = US$0.01, so US$1 = 100 credits = 100,000,000 µcr.
MICRO_PER_DOLLAR = CREDITS_PER_DOLLAR * MICRO
# The seed's documented default for max_tokens; capped by each model's max_output.
DEFAULT_MAX_TOKENS = 4096


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


def estimate_text_tokens(text: str) -> int:
    """A deliberately generous token count for ``text`` without a tokenizer download.

    BPE tokenizers average about 4 bytes of English per token and about one token per CJK
    character (3 UTF-8 bytes); a third of the UTF-8 length over-counts both.
    """
    if not text:
        return 0
    return -(-len(text.encode("utf-8")) // 3)


_CJK = "\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af\uf900-\ufaff"
_TOKENS = re.compile(rf"[{_CJK}]|[^\W{_CJK}]+|[^\w\s]")


def count_text_tokens(text: str) -> int:
    """A close count of the tokens in produced text, when an upstream reports none: a word or a
    punctuation mark each, and one per CJK character."""
    return len(_TOKENS.findall(text)) if text else 0


def _content_text(content) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):  # content parts: [{"type": "text", "text": ...}, ...]
        parts = []
        for part in content:
            if isinstance(part, dict):
                parts.append(str(part.get("text") or ""))
                if part.get("type") not in (None, "text"):
                    parts.append("x" * 3000)  # an image or audio part: about 1,000 tokens
        return "".join(parts)
    return ""


# Request fields besides the messages that the model reads as prompt, and is paid for.
PROMPT_FIELDS = ("tools", "functions", "tool_choice", "function_call", "response_format")


def estimate_request_tokens(body: dict, messages: list) -> int:
    """The prompt estimate of a whole request: the messages and every field the model reads."""
    import json

    total = estimate_prompt_tokens(messages)
    for name in PROMPT_FIELDS:
        if body.get(name) is not None:
            total += estimate_text_tokens(json.dumps(body[name], ensure_ascii=False))
    return total


def estimate_prompt_tokens(messages: list) -> int:
    """Generous estimate of the prompt tokens of a chat request (4 tokens of framing each)."""
    total = 3
    for message in messages:
        total += 4 + estimate_text_tokens(_content_text(message.get("content")))
        total += estimate_text_tokens(str(message.get("name") or ""))
        if message.get("tool_calls"):
            total += estimate_text_tokens(str(message["tool_calls"]))
    return total


def price_per_million_credits(micro: int) -> Decimal:
    return Decimal(micro) / MICRO


def price_per_million_dollars(micro: int) -> Decimal:
    return Decimal(micro) / MICRO_PER_DOLLAR
