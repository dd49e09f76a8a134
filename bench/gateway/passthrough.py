"""The baseline: a bare Starlette pass-through to the same upstream with the same pooled aiohttp
client, served the same way as the gateway. Whatever the gateway adds is measured against it."""

import os

import aiohttp
from starlette.applications import Starlette
from starlette.responses import Response, StreamingResponse
from starlette.routing import Route

UPSTREAM = os.environ.get("BENCH_UPSTREAM", "http://127.0.0.1:8901")
session: aiohttp.ClientSession | None = None


def get_session() -> aiohttp.ClientSession:
    global session
    if session is None:
        session = aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(limit=0, limit_per_host=512, keepalive_timeout=60)
        )
    return session


async def passthrough(request):
    body = await request.body()
    kind = "stream" if b'"stream":true' in body else "plain"
    response = await get_session().post(
        f"{UPSTREAM}/{kind}/v1/chat/completions",
        data=body,
        headers={"Content-Type": "application/json"},
    )
    if kind == "plain":
        data = await response.read()
        response.release()
        return Response(data, media_type="application/json")

    async def relay():
        try:
            async for chunk in response.content.iter_any():
                yield chunk
        finally:
            response.release()

    return StreamingResponse(relay(), media_type="text/event-stream")


app = Starlette(routes=[Route("/v1/chat/completions", passthrough, methods=["POST"])])
