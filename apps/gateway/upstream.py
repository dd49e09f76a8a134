"""One pooled async HTTP client per process for the OpenAI-compatible upstreams.

Its rule: one call is one request at one deployment (``render(target)`` says where and what);
the attempts over a plan of deployments are ``attempts.py``'s, what a failure means is
``upstream_errors.py``'s (both re-exported here), and a streamed answer's events are read as they
arrive (``UpstreamStream``, ``sse_events``).
"""

import asyncio
import logging
from collections.abc import AsyncIterator

import aiohttp
import orjson
from django.conf import settings

from apps.catalog.selectors import Route

from .attempts import Attempts, try_plan
from .upstream_errors import (  # noqa: F401 (the names callers import from here)
    QUOTA_CODES,
    UpstreamError,
    error_from_response,
    failover_worthy,
    most_meaningful,
    relayed_headers,
    retry_after_seconds,
)

log = logging.getLogger("opencodex.gateway.upstream")

__all__ = ["QUOTA_CODES", "Attempts", "Upstream", "UpstreamError", "UpstreamStream"]


class Upstream:
    """The process's HTTP client for upstreams: one call per deployment, over ``try_plan``."""

    def __init__(self):
        self._session: aiohttp.ClientSession | None = None

    def session(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(
                    limit=0, limit_per_host=512, keepalive_timeout=60, ttl_dns_cache=300
                ),
                timeout=aiohttp.ClientTimeout(
                    total=settings.GATEWAY_UPSTREAM_TOTAL_TIMEOUT,
                    connect=settings.GATEWAY_UPSTREAM_CONNECT_TIMEOUT,
                    sock_read=settings.GATEWAY_UPSTREAM_FIRST_BYTE_TIMEOUT,
                ),
                skip_auto_headers=("User-Agent",),
            )
        return self._session

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()

    @staticmethod
    def _headers(route: Route, request_id: str) -> dict[str, str]:
        headers = {
            "Content-Type": "application/json",
            "User-Agent": "OpenCodex-Gateway",
            "X-Request-Id": request_id,
        }
        if route.api_key:
            headers["Authorization"] = f"Bearer {route.api_key}"
        return headers

    async def complete(
        self,
        route: Route,
        payload: dict,
        request_id: str,
        attempts: Attempts,
        *,
        path: str = "/chat/completions",
        headers: dict | None = None,
        plan: list | None = None,
        report=None,
        render=None,
    ) -> dict:
        """A non-streamed call: chat completions, or a protocol the provider speaks natively
        (``path`` and its own ``headers``); over ``plan``'s deployments (``render(target)``:
        the url, headers and body for one of them)."""
        render = render or self.renderer(route, payload, request_id, path=path, headers=headers)
        chat = path == "/chat/completions"

        async def call(target):
            url, headers, body = render(target)
            async with self.session().post(url, data=body, headers=headers) as response:
                raw = await response.read()
                if response.status != 200:
                    raise error_from_response(
                        response.status, raw.decode("utf-8", "replace"), response.headers
                    )
                try:
                    data = orjson.loads(raw)
                except ValueError as exc:
                    raise UpstreamError(
                        502, "upstream_error", "The upstream sent invalid JSON.", retryable=True
                    ) from exc
                if not isinstance(data, dict) or (chat and "choices" not in data):
                    raise UpstreamError(
                        502, "upstream_error", "The upstream sent no choices.", retryable=True
                    )
                return data

        return await try_plan(call, attempts, plan, report)

    async def open_stream(
        self,
        route: Route,
        payload: dict,
        request_id: str,
        attempts: Attempts,
        *,
        path: str = "/chat/completions",
        headers: dict | None = None,
        plan: list | None = None,
        report=None,
        render=None,
    ) -> "UpstreamStream":
        """Start a streamed completion: returns as soon as an upstream answered 200 (its
        events are read by the relay), failing over and retrying until then."""
        render = render or self.renderer(route, payload, request_id, path=path, headers=headers)
        stream = UpstreamStream(self, render, attempts, plan, report)
        await stream.connect()
        return stream

    def renderer(self, route, payload: dict, request_id: str, *, path: str, headers=None):
        """(url, headers, body) for one deployment: its endpoint, its key, its model id. One
        body is serialised per model id, not per attempt."""
        bodies: dict[str, bytes] = {}

        def render(target):
            target = target or route
            body = bodies.get(target.upstream_id)
            if body is None:
                model = {"model": target.upstream_id} if "model" in payload else {}
                body = bodies[target.upstream_id] = orjson.dumps({**payload, **model})
            sent = headers if headers is not None else self._headers(target, request_id)
            return f"{target.base_url}{path}", sent, body

        return render


class UpstreamStream:
    """The events of one streamed completion. A stream that breaks before its first data event
    is opened again (nothing of it reached the client but headers and keep-alives), within the
    request's retry policy; after that a break ends the relay."""

    def __init__(self, upstream: Upstream, render, attempts, plan=None, report=None):
        self.upstream, self.render = upstream, render
        self.attempts, self.plan, self.report = attempts, plan, report
        self.response: aiohttp.ClientResponse | None = None
        self.events: AsyncIterator[list] | None = None
        self.data_seen = False

    async def connect(self) -> None:
        async def call(target):
            url, headers, body = self.render(target)
            response = await self.upstream.session().post(url, data=body, headers=headers)
            if response.status != 200:
                try:
                    text = await response.text()
                finally:
                    response.release()
                raise error_from_response(response.status, text, response.headers)
            return response

        self.response = await try_plan(call, self.attempts, self.plan, self.report)
        self.events = sse_events(self.response)

    async def next_batch(self) -> list:
        attempt = 0
        while True:
            try:
                batch = await anext(self.events)
            except StreamBroken as exc:
                if self.data_seen:
                    raise
                error = UpstreamError(502, "upstream_stream_broken", str(exc), retryable=True)
                delay = self.attempts.next_delay(error, attempt)
                if delay is None:
                    raise
                log.warning("upstream stream broke before its first event (%s); retrying", exc)
                self.close()
                await asyncio.sleep(delay)
                attempt += 1
                await self.connect()  # raises UpstreamError when it cannot
                continue
            if not self.data_seen and any(not isinstance(e, Comment) for e in batch):
                self.data_seen = True
            return batch

    def close(self) -> None:
        if self.response is not None:
            self.response.release()


class StreamBroken(Exception):
    """The upstream stream ended without its final ``[DONE]``."""


class Comment(bytes):
    """An SSE comment line (``: ping``, ``: OPENROUTER PROCESSING``): relayed as it is."""


DONE = object()


def _parse_event(block: bytes):
    """One SSE event block → its JSON, DONE, a Comment, or None (no data)."""
    data = [line[5:].lstrip() for line in block.split(b"\n") if line.startswith(b"data:")]
    if not data:
        if block.startswith(b":"):
            return Comment(block)
        return None
    payload = b"\n".join(data)
    if payload == b"[DONE]":
        return DONE
    try:
        return orjson.loads(payload)
    except orjson.JSONDecodeError as exc:
        raise StreamBroken("invalid JSON in the upstream stream") from exc


async def sse_events(response: aiohttp.ClientResponse) -> AsyncIterator[list]:
    """The upstream's SSE events, as lists of what each network read completed (JSON events,
    comments, then ``DONE``), so events that arrive together are relayed together and none waits
    for another. Raises ``StreamBroken`` when the connection ends or fails before
    ``data: [DONE]``."""
    buffer = b""
    try:
        async for chunk in response.content.iter_any():
            buffer += chunk.replace(b"\r\n", b"\n")
            *blocks, buffer = buffer.split(b"\n\n")
            batch = []
            for block in blocks:
                event = _parse_event(block)
                if event is not None:
                    batch.append(event)
                if event is DONE:
                    yield batch
                    return
            if batch:
                yield batch
    except (aiohttp.ClientError, TimeoutError) as exc:
        raise StreamBroken(f"upstream stream failed: {type(exc).__name__}") from exc
    raise StreamBroken("upstream stream ended before [DONE]")
