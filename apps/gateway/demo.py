"""The built-in demo upstream: an OpenAI-compatible model served by the project itself over HTTP,
so the embedded default works without any network and the gateway uses its real upstream path.

The reply is deterministic and starts with "[demo]"; usage numbers are the tokens it really
produced (one word, with its trailing space, per token) and a count of the prompt.
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


def _text(content) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return " ".join(str(p.get("text", "")) for p in content if isinstance(p, dict))
    return ""


def prompt_tokens(messages: list) -> int:
    """About four bytes a token, four tokens of framing a message."""
    total = 3
    for message in messages:
        total += 4 + -(-len(_text(message.get("content")).encode()) // 4)
    return total


def reply_words(model: str, messages: list) -> list[str]:
    last_user = next(
        (_text(m.get("content")) for m in reversed(messages) if m.get("role") == "user"), ""
    )
    said = " ".join(last_user.split())
    text = (
        f"[demo] Hello from {model}, OpenCodex's built-in demo model. "
        f"You said: {said} "
        "This reply is generated locally, so it is the same every time."
    )
    return WORD.findall(text)


def _error(status: int, message: str) -> JSONResponse:
    return JSONResponse(
        {"error": {"message": message, "type": "invalid_request_error", "code": None}},
        status_code=status,
    )


async def chat_completions(request: Request) -> Response:
    try:
        body = json.loads(await request.body())
        model = str(body["model"])
        messages = list(body["messages"])
    except (ValueError, KeyError, TypeError):
        return _error(400, "model and messages are required")
    max_tokens = body.get("max_tokens") or body.get("max_completion_tokens") or 4096
    words = reply_words(model, messages)
    finish = "stop"
    if len(words) > max_tokens:
        words, finish = words[:max_tokens], "length"
    usage = {
        "prompt_tokens": prompt_tokens(messages),
        "completion_tokens": len(words),
        "total_tokens": prompt_tokens(messages) + len(words),
    }
    completion_id = f"chatcmpl-demo{uuid.uuid4().hex[:20]}"
    created = int(time.time())
    if not body.get("stream"):
        return JSONResponse(
            {
                "id": completion_id,
                "object": "chat.completion",
                "created": created,
                "model": model,
                "choices": [
                    {
                        "index": 0,
                        "message": {"role": "assistant", "content": "".join(words)},
                        "finish_reason": finish,
                    }
                ],
                "usage": usage,
            }
        )
    include_usage = bool((body.get("stream_options") or {}).get("include_usage"))

    def chunk(delta, finish_reason=None, **extra):
        event = {
            "id": completion_id,
            "object": "chat.completion.chunk",
            "created": created,
            "model": model,
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish_reason}]
            if delta is not None
            else [],
            **extra,
        }
        return f"data: {json.dumps(event, ensure_ascii=False)}\n\n"

    async def events():
        yield chunk({"role": "assistant", "content": ""})
        for word in words:
            yield chunk({"content": word})
        yield chunk({}, finish)
        if include_usage:
            yield chunk(None, usage=usage)
        yield "data: [DONE]\n\n"

    return StreamingResponse(events(), media_type="text/event-stream")


app = Starlette(routes=[Route("/v1/chat/completions", chat_completions, methods=["POST"])])
