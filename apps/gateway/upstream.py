"""One pooled async HTTP client per process for the OpenAI-compatible upstreams.

Failures are retried only before any byte has reached our client: a whole non-streamed response,
or a stream up to its first event. After that a broken stream ends the relay.
"""

import asyncio
import contextlib
import json
import logging
from collections.abc import AsyncIterator

import aiohttp
import orjson
from django.conf import settings

from apps.catalog.selectors import Route

log = logging.getLogger("opencodex.gateway.upstream")
RETRYABLE_STATUS = {408, 425, 429, 500, 502, 503, 504}


class UpstreamError(Exception):
    def __init__(self, status: int, code: str, message: str, *, retryable: bool):
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.retryable = retryable


def _error_from_status(status: int, text: str) -> UpstreamError:
    detail = ""
    with contextlib.suppress(ValueError, AttributeError):
        detail = json.loads(text).get("error", {}).get("message", "")
    if status in (401, 403):
        return UpstreamError(
            502, "upstream_auth", "The upstream provider refused our credentials.", retryable=False
        )
    if status in RETRYABLE_STATUS:
        return UpstreamError(
            503 if status == 429 else 502,
            "upstream_unavailable" if status == 429 else "upstream_error",
            f"The upstream provider failed (HTTP {status}). Please retry.",
            retryable=True,
        )
    # The provider rejected the request itself (too long a context, a bad parameter...).
    return UpstreamError(
        400,
        "upstream_rejected",
        detail or f"The upstream provider rejected the request (HTTP {status}).",
        retryable=False,
    )


class Upstream:
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

    async def _attempts(self, call):
        retries = settings.GATEWAY_UPSTREAM_RETRIES
        for attempt in range(retries + 1):
            try:
                return await call()
            except UpstreamError as exc:
                error = exc
            except TimeoutError:
                error = UpstreamError(
                    504, "upstream_timeout", "The upstream provider timed out.", retryable=True
                )
            except aiohttp.ClientError as exc:
                error = UpstreamError(
                    502,
                    "upstream_error",
                    f"Could not reach the upstream provider ({type(exc).__name__}).",
                    retryable=True,
                )
            if not error.retryable or attempt == retries:
                raise error
            log.warning("upstream attempt %d failed: %s; retrying", attempt + 1, error.message)
            await asyncio.sleep(0.05 * 2**attempt)
        raise AssertionError("unreachable")

    async def complete(self, route: Route, payload: dict, request_id: str) -> dict:
        url = f"{route.base_url}/chat/completions"
        body = orjson.dumps(payload)

        async def call():
            async with self.session().post(
                url, data=body, headers=self._headers(route, request_id)
            ) as response:
                raw = await response.read()
                if response.status != 200:
                    raise _error_from_status(response.status, raw.decode("utf-8", "replace"))
                try:
                    data = orjson.loads(raw)
                except ValueError as exc:
                    raise UpstreamError(
                        502, "upstream_error", "The upstream sent invalid JSON.", retryable=True
                    ) from exc
                if not isinstance(data, dict) or "choices" not in data:
                    raise UpstreamError(
                        502, "upstream_error", "The upstream sent no choices.", retryable=True
                    )
                return data

        return await self._attempts(call)

    async def open_stream(self, route: Route, payload: dict, request_id: str):
        """Start a streamed completion; returns (first events, the rest, response).
        Retries until the first events arrived, never after."""
        url = f"{route.base_url}/chat/completions"
        body = orjson.dumps(payload)

        async def call():
            response = await self.session().post(
                url, data=body, headers=self._headers(route, request_id)
            )
            try:
                if response.status != 200:
                    raise _error_from_status(response.status, await response.text())
                events = sse_events(response)
                first = await anext(events, None)
                if not first:
                    raise UpstreamError(
                        502, "upstream_error", "The upstream stream was empty.", retryable=True
                    )
                return first, events, response
            except BaseException:
                response.release()
                raise

        return await self._attempts(call)


class StreamBroken(Exception):
    """The upstream stream ended without its final ``[DONE]``."""


DONE = object()


def _parse_event(block: bytes):
    """One SSE event block → its JSON, DONE, or None (comments, keep-alives, no data)."""
    data = [line[5:].lstrip() for line in block.split(b"\n") if line.startswith(b"data:")]
    if not data:
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
    then ``DONE``), so events that arrive together are relayed together and none waits for
    another. Raises ``StreamBroken`` when the connection ends or fails before ``data: [DONE]``."""
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
