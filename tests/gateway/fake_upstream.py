"""A misbehaving OpenAI-compatible upstream for the gateway's tests. The upstream model id
chooses the behaviour."""

import asyncio
import json
from collections import Counter

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, StreamingResponse
from starlette.routing import Route

from apps.catalog.pricing import estimate_prompt_tokens

attempts: Counter = Counter()  # upstream model id -> requests received
received: list[dict] = []  # bodies received by the "record" model


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


async def chat(request: Request):
    body = json.loads(await request.body())
    model = body["model"]
    attempts[model] += 1
    stream = bool(body.get("stream"))
    max_tokens = body.get("max_tokens") or 16
    words = ["word "] * 10
    usage = {"prompt_tokens": 7, "completion_tokens": len(words), "total_tokens": 17}

    if model == "fail-500":
        return JSONResponse({"error": {"message": "boom"}}, status_code=500)
    if model == "flaky" and attempts[model] % 2 == 1:
        return JSONResponse({"error": {"message": "try again"}}, status_code=503)
    if model == "reject-400":
        return JSONResponse({"error": {"message": "context too long"}}, status_code=400)
    if model == "record":
        received.append(body)
    if model == "exact-cost":
        await asyncio.sleep(0.5)
        prompt = estimate_prompt_tokens(body["messages"])
        words = ["x "] * max_tokens
        usage = {
            "prompt_tokens": prompt,
            "completion_tokens": max_tokens,
            "total_tokens": prompt + max_tokens,
        }
    if model == "no-usage":
        usage = None

    if not stream:
        return JSONResponse(completion(model, "".join(words), usage))

    async def events():
        yield chunk(model, {"role": "assistant", "content": ""})
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


app = Starlette(routes=[Route("/v1/chat/completions", chat, methods=["POST"])])
