"""What a response produced, counted when a provider reports no usage."""

import orjson

from apps.catalog.pricing import (
    count_text_tokens,
)


def count_output(text: str, chunks: int) -> int:
    """Output tokens when the upstream reports none: one per streamed chunk at least (providers
    stream about a token a chunk), or the words and marks of the text if that is more."""
    return max(chunks, count_text_tokens(text))


def reasoning_text(message: dict) -> str:
    value = message.get("reasoning_content") or message.get("reasoning")
    return value if isinstance(value, str) else ""


def output_text(message: dict) -> str:
    """Everything a message (or a streamed delta) produced: its text, refusal, reasoning and
    tool calls (names and arguments), for counting when the provider reports no usage."""
    parts = [reasoning_text(message)]
    for name in ("content", "refusal"):
        value = message.get(name)
        if isinstance(value, str):
            parts.append(value)
    calls = message.get("tool_calls")
    if isinstance(calls, list):
        for call in calls:
            function = (call or {}).get("function") if isinstance(call, dict) else None
            if isinstance(function, dict):
                parts.extend(str(function.get(k) or "") for k in ("name", "arguments"))
    function = message.get("function_call")
    if isinstance(function, dict):
        parts.extend(str(function.get(k) or "") for k in ("name", "arguments"))
    return " ".join(p for p in parts if p)


def native_text(value) -> str:
    """The text, thinking and tool input in a native answer's content (for counting)."""
    if isinstance(value, str):
        return value
    if isinstance(value, list):
        return " ".join(native_text(v) for v in value)
    if isinstance(value, dict):
        parts = [
            value[k] if isinstance(value[k], str) else orjson.dumps(value[k]).decode()
            for k in ("text", "thinking", "arguments", "input", "partial_json")
            if value.get(k)
        ]
        for k in ("content", "summary"):
            if value.get(k):
                parts.append(native_text(value[k]))
        return " ".join(parts)
    return ""
