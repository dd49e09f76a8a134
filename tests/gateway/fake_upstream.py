"""A scripted OpenAI-compatible upstream for the gateway's tests that behaves like real providers
(their error bodies and headers, rate limits, keep-alives, cache and reasoning usage, error
events mid-stream). The upstream model id chooses the behaviour."""

import asyncio
import json
import re
from collections import Counter

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, StreamingResponse
from starlette.routing import Route

from apps.catalog.estimate import estimate_messages_tokens

attempts: Counter = Counter()  # upstream model id -> requests received
received: list[dict] = []  # bodies received by the "record" model (and every scripted one)
headers_seen: list[dict] = []  # request headers, in the same order as ``received``
# What the scripted "bills" model reports as usage for the next request (a provider's own count).
billed: dict = {}
# What the "scripted" model answers, one assistant message (content, tool_calls) per request.
scripted: list[dict] = []
SCRIPTED_USAGE = {"prompt_tokens": 40, "completion_tokens": 20, "total_tokens": 60}

RATE_LIMITED = {
    "error": {
        "message": "Rate limit reached for gpt-4o in organization org-test on requests per min "
        "(RPM): Limit 3, Used 3, Requested 1. Please try again in 20ms.",
        "type": "requests",
        "param": None,
        "code": "rate_limit_exceeded",
    }
}
CONTEXT_TOO_LONG = {
    "error": {
        "message": "This model's maximum context length is 8192 tokens. However, your messages "
        "resulted in 9001 tokens. Please reduce the length of the messages.",
        "type": "invalid_request_error",
        "param": "messages",
        "code": "context_length_exceeded",
    }
}
UNSUPPORTED_MAX_TOKENS = {
    "error": {
        "message": "Unsupported parameter: 'max_tokens' is not supported with this model. "
        "Use 'max_completion_tokens' instead.",
        "type": "invalid_request_error",
        "param": "max_tokens",
        "code": "unsupported_parameter",
    }
}


def completion(model, text, usage, finish="stop"):
    body = {
        "id": "chatcmpl-fake",
        "object": "chat.completion",
        "created": 1700000000,
        "model": model,
        "choices": [
            {"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": finish}
        ],
    }
    if usage:
        body["usage"] = usage
    return body


def chunk(model, delta, finish=None, usage=None, choices=True):
    event = {
        "id": "chatcmpl-fake",
        "object": "chat.completion.chunk",
        "created": 1700000000,
        "model": model,
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish}] if choices else [],
    }
    if usage is not None:
        event["usage"] = usage
    return f"data: {json.dumps(event)}\n\n"


def empty_answer(model: str, stream: bool):
    billed_usage = {"prompt_tokens": 9, "completion_tokens": 0, "total_tokens": 9}
    usage = billed_usage if model == "empty-billed" else None
    if not stream:
        return JSONResponse(completion(model, "", usage, finish=None))

    async def events():
        yield chunk(model, {"role": "assistant", "content": ""})
        if model == "empty-stream-error":
            yield f"data: {json.dumps(STREAM_ERROR)}\n\n"
            return
        if usage is not None:
            yield chunk(model, {}, usage=usage, choices=False)
        yield "data: [DONE]\n\n"

    return StreamingResponse(events(), media_type="text/event-stream")


async def chat(request: Request):
    body = json.loads(await request.body())
    model = body["model"]
    attempts[model] += 1
    stream = bool(body.get("stream"))
    max_tokens = body.get("max_tokens") or 16
    words = ["word "] * 10
    usage = {"prompt_tokens": 7, "completion_tokens": len(words), "total_tokens": 17}

    if model != "ok":
        received.append(body)
        headers_seen.append(dict(request.headers))
    if model in ("pool-429", "pool-429-soon"):  # a deployment at its provider's rate limit
        wait = "30" if model == "pool-429" else "7"
        return JSONResponse(RATE_LIMITED, status_code=429, headers={"retry-after": wait})
    if model == "pool-500":
        return JSONResponse({"error": {"message": "boom", "type": "server_error"}}, 500)
    if model == "pool-hang":  # a deployment that hangs past the gateway's first-byte timeout
        await asyncio.sleep(5)
    if model == "pool-no-quota":  # OpenAI's answer for an account out of quota
        error = {"message": "You exceeded your current quota, please check your plan and "
                 "billing details.", "type": "insufficient_quota", "param": None,
                 "code": "insufficient_quota"}  # fmt: skip
        return JSONResponse({"error": error}, status_code=429)
    if model == "pool-keyed" and request.headers.get("authorization") == "Bearer dead-key":
        error = {"message": "Incorrect API key provided.", "type": "invalid_request_error",
                 "code": "invalid_api_key"}  # fmt: skip
        return JSONResponse({"error": error}, status_code=401)
    if model == "fail-500":
        return JSONResponse(
            {"error": {"message": "boom", "type": "server_error", "code": None}}, status_code=500
        )
    if model == "flaky" and attempts[model] % 2 == 1:
        return JSONResponse({"error": {"message": "try again"}}, status_code=503)
    if model == "reject-400":
        return JSONResponse(CONTEXT_TOO_LONG, status_code=400)
    if model == "rate-limited":
        return JSONResponse(
            RATE_LIMITED,
            status_code=429,
            headers={
                "retry-after-ms": "20",
                "retry-after": "1",
                "x-ratelimit-limit-requests": "3",
                "x-ratelimit-remaining-requests": "0",
                "x-ratelimit-reset-requests": "20ms",
            },
        )
    if model == "overloaded":
        return JSONResponse(
            {"error": {"message": "The server is overloaded", "type": "server_error"}},
            status_code=503,
            headers={"retry-after": "0"},
        )
    if model == "reasoning":
        if "max_tokens" in body:
            return JSONResponse(UNSUPPORTED_MAX_TOKENS, status_code=400)
        usage = {
            "prompt_tokens": 7,
            "completion_tokens": 60,
            "total_tokens": 67,
            "completion_tokens_details": {"reasoning_tokens": 50},
        }
    if model == "bills" and billed:
        usage = dict(billed)
    if model == "cached":
        usage = {
            "prompt_tokens": 12_000,
            "completion_tokens": 100,
            "total_tokens": 12_100,
            "prompt_tokens_details": {"cached_tokens": 10_000, "cache_write_tokens": 1_500},
        }
    if model == "agent":
        return agent_turn(body, stream)
    if model in ("empty", "empty-billed", "empty-stream-error"):
        # Nothing came back: no output and no finish reason ("empty-billed" reports the input
        # it billed; "empty-stream-error" sends the provider's error event before any output).
        return empty_answer(model, stream)
    if model == "scripted":
        return scripted_turn(body, stream)
    if model == "no-usage-tools":
        return await tool_calls_without_usage(model, stream)
    if model == "no-usage-reasoning" and not stream:
        message = {"role": "assistant", "content": "Four.", "reasoning_content": THOUGHT}
        return JSONResponse(
            {
                "id": "chatcmpl-fake",
                "object": "chat.completion",
                "created": 1700000000,
                "model": model,
                "choices": [{"index": 0, "message": message, "finish_reason": "stop"}],
            }
        )
    if model == "exact-cost":
        await asyncio.sleep(0.5)
        prompt = estimate_messages_tokens(body["messages"])
        words = ["x "] * max_tokens
        usage = {
            "prompt_tokens": prompt,
            "completion_tokens": max_tokens,
            "total_tokens": prompt + max_tokens,
        }
    if model in ("no-usage", "no-usage-reasoning"):
        usage = None

    if not stream:
        return JSONResponse(completion(model, "".join(words), usage))

    async def events():
        if model == "keepalive":  # queued at the provider: only keep-alives for a while
            for _ in range(5):
                yield ": keep-alive\n\n"
                await asyncio.sleep(1)
        if model == "broken-before-first" and attempts[model] == 1:
            raise RuntimeError("upstream died before its first event")
        yield chunk(model, {"role": "assistant", "content": ""})
        if model == "no-usage-reasoning":
            for word in THOUGHT.split(" "):
                yield chunk(model, {"reasoning_content": word + " "})
        if model == "stream-error":
            for _ in range(3):
                yield chunk(model, {"content": "part "})
            yield f"data: {json.dumps(STREAM_ERROR)}\n\n"
            return  # the provider closes the stream after its error event
        if model == "die-midstream":
            for _ in range(5):
                yield chunk(model, {"content": "part "})
            await asyncio.sleep(0.05)
            raise RuntimeError("upstream died")  # the connection breaks mid-body
        count = 200 if model == "slow-stream" else len(words)
        for i in range(count):
            if model == "slow-stream":
                await asyncio.sleep(0.02)
            yield chunk(model, {"content": words[i % len(words)]})
        yield chunk(model, {}, finish="stop")
        include = (body.get("stream_options") or {}).get("include_usage")
        if include and usage:
            yield chunk(model, None, usage=usage, choices=False)
        yield "data: [DONE]\n\n"

    return StreamingResponse(events(), media_type="text/event-stream")


THOUGHT = "The user asks for two plus two, which is four; answer briefly."
STREAM_ERROR = {
    "error": {
        "message": "The model produced invalid content.",
        "type": "server_error",
        "code": "invalid_content",
        "param": None,
    }
}
TOOL_CALLS = [
    {
        "id": "call_1",
        "type": "function",
        "function": {"name": "get_weather", "arguments": '{"city": "Paris", "unit": "celsius"}'},
    },
    {
        "id": "call_2",
        "type": "function",
        "function": {"name": "get_time", "arguments": '{"timezone": "Europe/Paris"}'},
    },
]


async def tool_calls_without_usage(model: str, stream: bool):
    """Two parallel tool calls, no usage anywhere (some providers never report it)."""
    if not stream:
        message = {"role": "assistant", "content": None, "tool_calls": TOOL_CALLS}
        return JSONResponse(
            {
                "id": "chatcmpl-fake",
                "object": "chat.completion",
                "created": 1700000000,
                "model": model,
                "choices": [{"index": 0, "message": message, "finish_reason": "tool_calls"}],
            }
        )

    async def events():
        yield chunk(model, {"role": "assistant", "content": None})
        for index, call in enumerate(TOOL_CALLS):
            head = {**call, "index": index, "function": {"name": call["function"]["name"]}}
            head["function"]["arguments"] = ""
            yield chunk(model, {"tool_calls": [head]})
            arguments = call["function"]["arguments"]
            for start in range(0, len(arguments), 5):  # split across many chunks
                piece = {"index": index, "function": {"arguments": arguments[start : start + 5]}}
                yield chunk(model, {"tool_calls": [piece]})
        yield chunk(model, {}, finish="tool_calls")
        yield "data: [DONE]\n\n"

    return StreamingResponse(events(), media_type="text/event-stream")


AGENT_USAGE = {"prompt_tokens": 1200, "completion_tokens": 30, "total_tokens": 1230}
AGENT_TARGET = re.compile(r"(/\S+/hello\.txt)")
AGENT_CONTENT = "hello from opencodex"


def _text(content) -> str:
    if isinstance(content, list):
        return " ".join(str(p.get("text", "")) for p in content if isinstance(p, dict))
    return str(content or "")


def agent_call(tools: list, path: str):
    """The tool call a coding agent's model would make to write ``path``: Claude Code's Write,
    or Codex's shell / exec_command / apply_patch, whichever the client offered."""
    names = {((t or {}).get("function") or {}).get("name") for t in tools}
    if "Write" in names:
        return "Write", {"file_path": path, "content": AGENT_CONTENT}
    command = f"printf '%s' '{AGENT_CONTENT}' > {path}"
    if "shell" in names:
        return "shell", {"command": ["bash", "-lc", command]}
    if "exec_command" in names:
        return "exec_command", {"cmd": command}
    if "shell_command" in names:
        return "shell_command", {"command": command}
    if "apply_patch" in names:
        patch = f"*** Begin Patch\n*** Add File: {path}\n+{AGENT_CONTENT}\n*** End Patch\n"
        return "apply_patch", {"input": patch}
    return None


def agent_turn(body: dict, stream: bool):
    """A scripted coding agent: asked to create a hello.txt, it calls the client's file-writing
    tool once; given the tool's result, it says it is done. Every call bills AGENT_USAGE."""
    messages = body.get("messages") or []
    everything = " ".join(_text(m.get("content")) for m in messages if isinstance(m, dict))
    target = AGENT_TARGET.search(everything)
    done = any(isinstance(m, dict) and m.get("role") == "tool" for m in messages)
    call = None if done or target is None else agent_call(body.get("tools") or [], target[1])
    usage = dict(AGENT_USAGE)
    if call is None:
        text = "Done: the file is written." if done else "OK."
        message = {"role": "assistant", "content": text}
        finish = "stop"
    else:
        arguments = json.dumps(call[1])
        tool_call = {"id": "call_agent1", "type": "function"}
        tool_call["function"] = {"name": call[0], "arguments": arguments}
        message = {"role": "assistant", "content": None, "tool_calls": [tool_call]}
        finish = "tool_calls"
    if not stream:
        return JSONResponse(
            {
                "id": "chatcmpl-agent",
                "object": "chat.completion",
                "created": 1700000000,
                "model": "agent",
                "choices": [{"index": 0, "message": message, "finish_reason": finish}],
                "usage": usage,
            }
        )

    async def events():
        yield chunk("agent", {"role": "assistant", "content": ""})
        if call is None:
            for word in message["content"].split(" "):
                yield chunk("agent", {"content": word + " "})
        else:
            head = {**tool_call, "index": 0, "function": {"name": call[0], "arguments": ""}}
            yield chunk("agent", {"tool_calls": [head]})
            for start in range(0, len(arguments), 7):
                piece = {"index": 0, "function": {"arguments": arguments[start : start + 7]}}
                yield chunk("agent", {"tool_calls": [piece]})
        yield chunk("agent", {}, finish=finish)
        if (body.get("stream_options") or {}).get("include_usage"):
            yield chunk("agent", None, usage=usage, choices=False)
        yield "data: [DONE]\n\n"

    return StreamingResponse(events(), media_type="text/event-stream")


def scripted_turn(body: dict, stream: bool):
    """The next message of ``scripted`` (a text answer when there is none), plain or streamed
    with each tool call's arguments split across chunks."""
    message = {"role": "assistant", "content": None, **(scripted.pop(0) if scripted else {})}
    if not message["content"] and not message.get("tool_calls"):
        message["content"] = "OK."
    finish = "tool_calls" if message.get("tool_calls") else "stop"
    if not stream:
        return JSONResponse(
            {
                "id": "chatcmpl-scripted",
                "object": "chat.completion",
                "created": 1700000000,
                "model": "scripted",
                "choices": [{"index": 0, "message": message, "finish_reason": finish}],
                "usage": SCRIPTED_USAGE,
            }
        )

    async def events():
        yield chunk("scripted", {"role": "assistant", "content": ""})
        if message["content"]:
            yield chunk("scripted", {"content": message["content"]})
        for index, call in enumerate(message.get("tool_calls") or []):
            function = {"name": call["function"]["name"], "arguments": ""}
            head = {"index": index, "id": call["id"], "type": "function", "function": function}
            yield chunk("scripted", {"tool_calls": [head]})
            arguments = call["function"]["arguments"]
            for start in range(0, len(arguments), 9):
                piece = {"index": index, "function": {"arguments": arguments[start : start + 9]}}
                yield chunk("scripted", {"tool_calls": [piece]})
        yield chunk("scripted", {}, finish=finish)
        if (body.get("stream_options") or {}).get("include_usage"):
            yield chunk("scripted", None, usage=SCRIPTED_USAGE, choices=False)
        yield "data: [DONE]\n\n"

    return StreamingResponse(events(), media_type="text/event-stream")


NATIVE_MESSAGES_USAGE = {
    "input_tokens": 50,
    "cache_read_input_tokens": 1000,
    "cache_creation_input_tokens": 200,
    "output_tokens": 12,
}
NATIVE_RESPONSES_USAGE = {
    "input_tokens": 900,
    "input_tokens_details": {"cached_tokens": 800},
    "output_tokens": 50,
    "output_tokens_details": {"reasoning_tokens": 20},
    "total_tokens": 950,
}


def sse(kind: str, data: dict) -> str:
    return f"event: {kind}\ndata: {json.dumps(data)}\n\n"


URL_DOCUMENT_TOKENS = 150_000  # a 100-page PDF fetched by URL, as the provider bills it


def _blocks(content):
    for block in content if isinstance(content, list) else []:
        if isinstance(block, dict):
            yield block
            yield from _blocks(block.get("content"))


def native_billing(body: dict, usage: dict) -> dict:
    """What a real provider bills on top of the text: documents it fetched by URL (their pages'
    tokens), server tools per call, the priority tier."""
    usage = dict(usage)
    fetched = sum(
        1
        for message in body.get("messages") or []
        for block in _blocks(message.get("content"))
        if block.get("type") == "document" and (block.get("source") or {}).get("type") == "url"
    )
    usage["input_tokens"] += fetched * URL_DOCUMENT_TOKENS
    searches = sum(
        1 for tool in body.get("tools") or [] if str(tool.get("type", "")).startswith("web_search")
    )
    if searches:
        usage["server_tool_use"] = {"web_search_requests": 3 * searches}
    if body.get("service_tier") == "priority":
        usage["service_tier"] = "priority"
    blocks = [b for m in body.get("messages") or [] for b in _blocks(m.get("content"))]
    blocks += body.get("system") if isinstance(body.get("system"), list) else []
    ttls = {
        (b.get("cache_control") or {}).get("ttl", "5m") for b in blocks if b.get("cache_control")
    }
    if ttls:  # Anthropic reports the writes by duration
        long = "1h" in ttls
        written = usage.get("cache_creation_input_tokens", 0)
        usage["cache_creation"] = {
            "ephemeral_5m_input_tokens": 0 if long else written,
            "ephemeral_1h_input_tokens": written if long else 0,
        }
    return usage


async def native_messages(request: Request):
    """Anthropic's own Messages API, as api.anthropic.com answers it."""
    body = json.loads(await request.body())
    received.append({"path": "/v1/messages", **body})
    headers_seen.append(dict(request.headers))
    attempts[body["model"]] += 1
    if body["model"] == "native-limited":
        error = {
            "type": "rate_limit_error",
            "message": "Number of requests has exceeded your rate limit.",
        }
        return JSONResponse({"type": "error", "error": error}, 429, headers={"retry-after": "7"})
    if body["model"] == "native-overloaded":
        error = {"type": "overloaded_error", "message": "Overloaded"}
        return JSONResponse({"type": "error", "error": error}, 529)
    if body["model"] == "native-forbidden":
        error = {
            "type": "permission_error",
            "message": "Your organization does not have access to this model.",
        }
        return JSONResponse({"type": "error", "error": error}, 403)
    message = {
        "id": "msg_native",
        "type": "message",
        "role": "assistant",
        "model": body["model"],
        "content": [{"type": "text", "text": "Native hello"}],
        "stop_reason": "end_turn",
        "stop_sequence": None,
        "usage": native_billing(body, NATIVE_MESSAGES_USAGE),
    }
    if not body.get("stream"):
        return JSONResponse(message)

    async def events():
        start = {**message, "content": [], "stop_reason": None}
        start["usage"] = {**message["usage"], "output_tokens": 1}
        yield sse("message_start", {"type": "message_start", "message": start})
        yield sse("ping", {"type": "ping"})
        block = {"type": "text", "text": ""}
        yield sse(
            "content_block_start",
            {"type": "content_block_start", "index": 0, "content_block": block},
        )
        for piece in ("Native ", "hello"):
            delta = {"type": "text_delta", "text": piece}
            yield sse(
                "content_block_delta", {"type": "content_block_delta", "index": 0, "delta": delta}
            )
        yield sse("content_block_stop", {"type": "content_block_stop", "index": 0})
        delta = {"stop_reason": "end_turn", "stop_sequence": None}
        yield sse(
            "message_delta",
            {"type": "message_delta", "delta": delta, "usage": {"output_tokens": 12}},
        )
        yield sse("message_stop", {"type": "message_stop"})

    return StreamingResponse(events(), media_type="text/event-stream")


async def native_count_tokens(request: Request):
    """Anthropic's free token count: what the model would bill as input."""
    body = json.loads(await request.body())
    received.append({"path": "/v1/messages/count_tokens", **body})
    headers_seen.append(dict(request.headers))
    return JSONResponse({"input_tokens": 4242})


async def native_responses(request: Request):
    """OpenAI's own Responses API."""
    body = json.loads(await request.body())
    received.append({"path": "/v1/responses", **body})
    headers_seen.append(dict(request.headers))
    attempts[body["model"]] += 1
    item = {
        "id": "msg_1",
        "type": "message",
        "role": "assistant",
        "status": "completed",
        "content": [
            {"type": "output_text", "text": "Native hello", "annotations": [], "logprobs": []}
        ],
    }
    response = {
        "id": "resp_native",
        "object": "response",
        "created_at": 1700000000,
        "status": "completed",
        "model": body["model"],
        "output": [item],
        "parallel_tool_calls": True,
        "tool_choice": "auto",
        "tools": [],
        "usage": NATIVE_RESPONSES_USAGE,
    }
    if not body.get("stream"):
        return JSONResponse(response)

    async def events():
        n = iter(range(100))
        pending = {**response, "status": "in_progress", "output": [], "usage": None}
        yield sse(
            "response.created",
            {"type": "response.created", "response": pending, "sequence_number": next(n)},
        )
        yield ": keep-alive\n\n"
        added = {**item, "status": "in_progress", "content": []}
        part = {"type": "output_text", "text": "", "annotations": [], "logprobs": []}
        where = {"item_id": "msg_1", "output_index": 0, "content_index": 0}
        steps = [
            ("response.output_item.added", {"output_index": 0, "item": added}),
            ("response.content_part.added", {**where, "part": part}),
            *(
                ("response.output_text.delta", {**where, "delta": piece, "logprobs": []})
                for piece in ("Native ", "hello")
            ),
            ("response.output_text.done", {**where, "text": "Native hello", "logprobs": []}),
            ("response.content_part.done", {**where, "part": item["content"][0]}),
            ("response.output_item.done", {"output_index": 0, "item": item}),
        ]
        for kind, data in steps:
            yield sse(kind, {"type": kind, **data, "sequence_number": next(n)})
            if body["model"] == "native-error-event" and kind == "response.output_text.delta":
                error = {
                    "code": "server_error",
                    "message": "The server had an error.",
                    "param": None,
                }
                yield sse("error", {"type": "error", **error, "sequence_number": next(n)})
                return
        yield sse(
            "response.completed",
            {"type": "response.completed", "response": response, "sequence_number": next(n)},
        )

    return StreamingResponse(events(), media_type="text/event-stream")


app = Starlette(
    routes=[
        Route("/v1/chat/completions", chat, methods=["POST"]),
        Route("/v1/messages", native_messages, methods=["POST"]),
        Route("/v1/messages/count_tokens", native_count_tokens, methods=["POST"]),
        Route("/v1/responses", native_responses, methods=["POST"]),
    ]
)
