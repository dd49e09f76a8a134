"""The built-in demo upstream: an OpenAI-compatible model served by the project itself over HTTP,
so the embedded default works without any network and the gateway uses its real upstream path.

The reply is deterministic and starts with "[demo]"; usage numbers are the tokens it really
produced (one word, with its trailing space, per token) and a count of the prompt. It behaves
like a real model for what SDK users try: ``n`` choices, JSON mode and JSON schemas (valid,
conforming JSON), tool calls (when tools are required, named, or offered on a user turn; arguments
streamed in pieces), ``stop``, ``max_tokens`` / ``max_completion_tokens``, and
``reasoning_content`` when ``reasoning_effort`` is set.
"""

import json
import re
import time
import uuid

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

WORD = re.compile(r"\S+\s*")
THINKING = "The user wrote to the demo model; a short, friendly, deterministic answer will do."
MAX_DEPTH = 12


def _text(content) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return " ".join(str(p.get("text", "")) for p in content if isinstance(p, dict))
    return ""


def prompt_tokens(messages: list, extra: str = "") -> int:
    """About four bytes a token, four tokens of framing a message, and the tool definitions and
    response schema the model reads too."""
    total = 3 + -(-len(extra.encode()) // 4)
    for message in messages:
        if isinstance(message, dict):
            total += 4 + -(-len(_text(message.get("content")).encode()) // 4)
    return total


def reply_words(model: str, messages: list, choice: int = 0) -> list[str]:
    last_user = next(
        (
            _text(m.get("content"))
            for m in reversed(messages)
            if isinstance(m, dict) and m.get("role") == "user"
        ),
        "",
    )
    said = " ".join(last_user.split())
    which = f"(choice {choice + 1}) " if choice else ""
    text = (
        f"[demo] {which}Hello from {model}, OpenCodex's built-in demo model. "
        f"You said: {said} "
        "This reply is generated locally, so it is the same every time."
    )
    return WORD.findall(text)


# --- JSON values that conform to a schema --------------------------------------------------------


def _resolve(schema, root):
    ref = schema.get("$ref") if isinstance(schema, dict) else None
    if isinstance(ref, str) and ref.startswith("#/"):
        node = root
        for part in ref[2:].split("/"):
            node = node.get(part, {}) if isinstance(node, dict) else {}
        return node
    return schema


def instance(schema, root=None, name: str = "value", depth: int = 0):
    """A small deterministic JSON value that conforms to ``schema`` (the subset of JSON Schema
    structured outputs and tool parameters use)."""
    root = schema if root is None else root
    schema = _resolve(schema, root)
    if not isinstance(schema, dict) or depth > MAX_DEPTH:
        return None if depth > MAX_DEPTH else "demo"
    if "const" in schema:
        return schema["const"]
    if schema.get("enum"):
        return schema["enum"][0]
    for key in ("anyOf", "oneOf", "allOf"):
        options = schema.get(key)
        if isinstance(options, list) and options:
            non_null = [o for o in options if _resolve(o, root).get("type") != "null"]
            return instance((non_null or options)[0], root, name, depth + 1)
    kind = schema.get("type")
    if isinstance(kind, list):
        kind = next((k for k in kind if k != "null"), "null")
    if kind is None:
        kind = "object" if "properties" in schema else "string"
    if kind == "object":
        properties = schema.get("properties") or {}
        return {
            key: instance(value, root, key, depth + 1)
            for key, value in properties.items()
            if isinstance(value, dict)
        }
    if kind == "array":
        count = max(int(schema.get("minItems") or 0), 1)
        if schema.get("maxItems") is not None:
            count = min(count, int(schema["maxItems"]))
        return [instance(schema.get("items") or {}, root, name, depth + 1) for _ in range(count)]
    if kind in ("integer", "number"):
        low = schema.get("minimum", schema.get("exclusiveMinimum"))
        high = schema.get("maximum", schema.get("exclusiveMaximum"))
        value = 1 if low is None else low + (1 if "exclusiveMinimum" in schema else 0)
        if high is not None and value > high:
            value = high
        return int(value) if kind == "integer" else float(value)
    if kind == "boolean":
        return True
    if kind == "null":
        return None
    formats = {
        "date": "2026-01-01",
        "date-time": "2026-01-01T00:00:00Z",
        "time": "00:00:00",
        "email": "demo@example.com",
        "uri": "https://example.com/",
        "uuid": "00000000-0000-4000-8000-000000000000",
    }
    value = formats.get(schema.get("format"), f"demo {name}")
    minimum = int(schema.get("minLength") or 0)
    if len(value) < minimum:
        value += "x" * (minimum - len(value))
    if schema.get("maxLength") is not None:
        value = value[: int(schema["maxLength"])]
    return value


# --- answers -----------------------------------------------------------------------------------


def _error(status: int, message: str, param: str | None = None) -> JSONResponse:
    return JSONResponse(
        {
            "error": {
                "message": message,
                "type": "invalid_request_error",
                "code": None,
                "param": param,
            }
        },
        status_code=status,
    )


def _tool_to_call(body: dict, messages: list):
    """The function the demo calls, or None to answer in text."""
    tools = [t for t in body.get("tools") or [] if isinstance(t, dict) and t.get("function")]
    choice = body.get("tool_choice")
    if not tools or choice == "none":
        return None
    if isinstance(choice, dict):
        wanted = (choice.get("function") or {}).get("name")
        return next((t["function"] for t in tools if t["function"].get("name") == wanted), None)
    if choice == "required":
        return tools[0]["function"]
    last = messages[-1] if messages and isinstance(messages[-1], dict) else {}
    return tools[0]["function"] if last.get("role") == "user" else None


def _text_reply(body: dict, model: str, messages: list, choice: int) -> str:
    last = messages[-1] if messages and isinstance(messages[-1], dict) else {}
    if last.get("role") == "tool":
        result = " ".join(_text(last.get("content")).split())
        return f"[demo] The tool returned: {result}"
    response_format = body.get("response_format")
    kind = response_format.get("type") if isinstance(response_format, dict) else None
    if kind == "json_schema":
        schema = (response_format.get("json_schema") or {}).get("schema") or {}
        return json.dumps(instance(schema), ensure_ascii=False)
    if kind == "json_object":
        said = " ".join(_text(last.get("content")).split())
        return json.dumps({"demo": True, "model": model, "choice": choice + 1, "you_said": said})
    return "".join(reply_words(model, messages, choice))


def _cut_at_stop(text: str, stop) -> tuple[str, bool]:
    stops = [stop] if isinstance(stop, str) else [s for s in stop or [] if isinstance(s, str)]
    cut = min((text.find(s) for s in stops if s and s in text), default=-1)
    return (text[:cut], True) if cut >= 0 else (text, False)


def _choice(body: dict, model: str, messages: list, index: int, limit: int) -> dict:
    """One choice: its message fields, output words, finish reason and reasoning words."""
    reasoning = WORD.findall(THINKING) if body.get("reasoning_effort") else []
    reasoning = reasoning[:limit]
    room = limit - len(reasoning)
    function = _tool_to_call(body, messages)
    if function is not None:
        arguments = json.dumps(instance(function.get("parameters") or {"type": "object"}))
        call = {
            "id": f"call_demo{index}{uuid.uuid4().hex[:12]}",
            "type": "function",
            "function": {"name": function.get("name", "tool"), "arguments": arguments},
        }
        return {
            "calls": [call],
            "words": [],
            "reasoning": reasoning,
            "finish": "tool_calls",
            "tokens": len(reasoning) + max(1, -(-len(arguments) // 4)),
        }
    text, stopped = _cut_at_stop(_text_reply(body, model, messages, index), body.get("stop"))
    words = WORD.findall(text)
    finish = "stop"
    if len(words) > room:
        words, finish = words[: max(room, 0)], "length"
    return {
        "calls": [],
        "words": words,
        "reasoning": reasoning,
        "finish": finish if not stopped or finish == "length" else "stop",
        "tokens": len(reasoning) + len(words),
    }


async def chat_completions(request: Request) -> Response:
    try:
        body = json.loads(await request.body())
        model = str(body["model"])
        messages = list(body["messages"])
    except (ValueError, KeyError, TypeError):
        return _error(400, "model and messages are required")
    if not isinstance(body, dict):
        return _error(400, "the body must be a JSON object")
    n = 1 if body.get("n") is None else body["n"]
    if not isinstance(n, int) or isinstance(n, bool) or not 1 <= n <= 8:
        return _error(400, "'n' must be an integer from 1 to 8", "n")
    limit = body.get("max_completion_tokens") or body.get("max_tokens") or 4096
    extra = json.dumps([body.get("tools"), body.get("response_format")])
    choices = [_choice(body, model, messages, i, limit) for i in range(n)]
    prompt = prompt_tokens(
        messages, extra if body.get("tools") or body.get("response_format") else ""
    )
    completion = sum(c["tokens"] for c in choices)
    usage = {
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "total_tokens": prompt + completion,
        "prompt_tokens_details": {"cached_tokens": 0},
        "completion_tokens_details": {
            "reasoning_tokens": sum(len(c["reasoning"]) for c in choices)
        },
    }
    completion_id = f"chatcmpl-demo{uuid.uuid4().hex[:20]}"
    created = int(time.time())
    if not body.get("stream"):
        out = []
        for index, c in enumerate(choices):
            message = {
                "role": "assistant",
                "content": "".join(c["words"]) if not c["calls"] else None,
            }
            if c["calls"]:
                message["tool_calls"] = c["calls"]
            if c["reasoning"]:
                message["reasoning_content"] = "".join(c["reasoning"])
            out.append({"index": index, "message": message, "finish_reason": c["finish"]})
        return JSONResponse(
            {
                "id": completion_id,
                "object": "chat.completion",
                "created": created,
                "model": model,
                "choices": out,
                "usage": usage,
            }
        )
    stream_options = body.get("stream_options")
    include_usage = isinstance(stream_options, dict) and bool(stream_options.get("include_usage"))

    def chunk(index, delta, finish_reason=None, **extra):
        event = {
            "id": completion_id,
            "object": "chat.completion.chunk",
            "created": created,
            "model": model,
            "choices": [{"index": index, "delta": delta, "finish_reason": finish_reason}]
            if delta is not None
            else [],
            **extra,
        }
        return f"data: {json.dumps(event, ensure_ascii=False)}\n\n"

    async def events():
        for index, c in enumerate(choices):
            yield chunk(index, {"role": "assistant", "content": "" if not c["calls"] else None})
            for word in c["reasoning"]:
                yield chunk(index, {"reasoning_content": word})
            for word in c["words"]:
                yield chunk(index, {"content": word})
            for position, call in enumerate(c["calls"]):
                head = {**call, "index": position, "function": {"name": call["function"]["name"]}}
                head["function"]["arguments"] = ""
                yield chunk(index, {"tool_calls": [head]})
                arguments = call["function"]["arguments"]
                for start in range(0, len(arguments), 8):
                    piece = {
                        "index": position,
                        "function": {"arguments": arguments[start : start + 8]},
                    }
                    yield chunk(index, {"tool_calls": [piece]})
            yield chunk(index, {}, c["finish"])
        if include_usage:
            yield chunk(0, None, usage=usage)
        yield "data: [DONE]\n\n"

    return StreamingResponse(events(), media_type="text/event-stream")


app = Starlette(routes=[Route("/v1/chat/completions", chat_completions, methods=["POST"])])
