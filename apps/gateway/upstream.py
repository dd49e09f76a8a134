"""One pooled async HTTP client per process for the OpenAI-compatible upstreams.

The provider's own answers pass through faithfully: a 4xx keeps its status, type, code, param
and message; a 429 stays a 429 with the provider's ``Retry-After`` and ``x-ratelimit-*``
headers. Only connection errors, timeouts and 5xx are retried, only before anything of the
answer reached our client, honouring ``Retry-After``, within one time budget per request, and
not at all when the client says it is itself retrying (the SDKs' retry-count headers): the
client's retries and ours then add up instead of multiplying.
"""

import asyncio
import contextlib
import logging
import random
import time
from collections.abc import AsyncIterator

import aiohttp
import orjson
from django.conf import settings

from apps.catalog.selectors import Route
from apps.core import metrics

log = logging.getLogger("opencodex.gateway.upstream")
# Headers of an upstream error answer that the client needs to see as they are.
RELAYED_ERROR_HEADERS = ("retry-after", "retry-after-ms")
RELAYED_ERROR_PREFIXES = ("x-ratelimit-",)
OVERLOADED = {503, 529}


class UpstreamError(Exception):
    """An upstream failure, as the client will see it."""

    def __init__(
        self,
        status: int,
        code: str | None,
        message: str,
        *,
        retryable: bool,
        type: str = "upstream_error",
        param: str | None = None,
        headers: dict[str, str] | None = None,
        retry_after: float | None = None,
        upstream_status: int | None = None,
    ):
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.retryable = retryable
        self.type = type
        self.param = param
        self.headers = headers or {}
        self.retry_after = retry_after
        self.upstream_status = upstream_status


def retry_after_seconds(headers) -> float | None:
    """The wait an upstream asked for, from ``retry-after-ms`` or ``retry-after`` (seconds; an
    HTTP date is treated as unknown)."""
    for name, scale in (("retry-after-ms", 1000.0), ("retry-after", 1.0)):
        value = headers.get(name)
        if value:
            with contextlib.suppress(ValueError):
                seconds = float(value) / scale
                if seconds >= 0:
                    return seconds
    return None


def relayed_headers(headers) -> dict[str, str]:
    return {
        name.lower(): value
        for name, value in headers.items()
        if name.lower() in RELAYED_ERROR_HEADERS or name.lower().startswith(RELAYED_ERROR_PREFIXES)
    }


def _provider_error(text: str) -> dict:
    """The provider's error object: OpenAI's ``{"error": {...}}``, Anthropic's
    ``{"type": "error", "error": {...}}``, a bare ``{"error": "text"}`` or ``{"message": ...}``."""
    try:
        data = orjson.loads(text)
    except (orjson.JSONDecodeError, TypeError):
        return {"message": text.strip()[:500]} if text.strip() else {}
    if isinstance(data, list) and data and isinstance(data[0], dict):  # Gemini wraps in a list
        data = data[0]
    if not isinstance(data, dict):
        return {}
    error = data.get("error", data)
    if isinstance(error, str):
        return {"message": error}
    return error if isinstance(error, dict) else {}


def _str_or_none(value) -> str | None:
    return None if value is None else str(value)


def error_from_response(status: int, text: str, headers) -> UpstreamError:
    error = _provider_error(text)
    message = str(error.get("message") or "").strip()
    relayed = relayed_headers(headers)
    retry_after = retry_after_seconds(headers)
    if status == 401:
        # Our credentials at the provider: ours to fix, not the client's.
        return UpstreamError(
            502,
            "upstream_auth",
            "The upstream provider refused the gateway's credentials; this is on our side and "
            "has been logged.",
            retryable=False,
            upstream_status=status,
        )
    if status >= 500:
        overloaded = status in OVERLOADED
        detail = f": {message}" if message else ""
        return UpstreamError(
            503 if overloaded else 502,
            "upstream_overloaded" if overloaded else "upstream_error",
            f"The upstream provider failed (HTTP {status}){detail}. Please retry.",
            retryable=True,
            headers=relayed,
            retry_after=retry_after,
            upstream_status=status,
        )
    # A 4xx is the provider's answer to this request: relayed as it is, never retried.
    default_type = "rate_limit_error" if status == 429 else "invalid_request_error"
    return UpstreamError(
        status,
        _str_or_none(error.get("code")) or ("rate_limit_exceeded" if status == 429 else None),
        message or f"The upstream provider rejected the request (HTTP {status}).",
        retryable=False,
        type=str(error.get("type") or default_type),
        param=_str_or_none(error.get("param")),
        headers=relayed,
        retry_after=retry_after,
        upstream_status=status,
    )


QUOTA_CODES = {"insufficient_quota", "billing_hard_limit_reached", "billing_not_active"}


def failover_worthy(error: UpstreamError) -> bool:
    """Whether another deployment may succeed where this one failed: it could not be reached,
    timed out, failed (5xx), was rate limited, or refused our key or quota. A client's request
    error (any other 4xx) would fail anywhere, and is never retried."""
    status = error.upstream_status or error.status
    return error.retryable or status in (401, 403, 429) or (error.code or "") in QUOTA_CODES


def most_meaningful(errors: list[UpstreamError]) -> UpstreamError:
    """What the client is told when every deployment failed: if all were rate limited, the 429
    with the soonest Retry-After; otherwise the last answer."""
    limited = [e for e in errors if (e.upstream_status or e.status) == 429]
    if limited and len(limited) == len(errors):
        return min(limited, key=lambda e: e.retry_after if e.retry_after is not None else 1e9)
    return errors[-1]


class Attempts:
    """The retry policy of one request: how many more attempts it may make, and until when; and
    what each attempt did (deployment, status, milliseconds), for the usage record."""

    def __init__(self, retries: int):
        self.left = max(retries, 0)
        self.deadline = time.monotonic() + settings.GATEWAY_UPSTREAM_RETRY_BUDGET
        self.made = 0
        self.chain: list[tuple[str, int, int]] = []
        self.served = None  # the deployment that answered

    def note(self, target, status: int, started: float) -> None:
        name = getattr(target, "name", "") or ""
        seconds = time.perf_counter() - started
        self.chain.append((name, status, int(seconds * 1000)))
        if name:
            metrics.UPSTREAM_ATTEMPTS.labels(name, str(status)).inc()
            metrics.UPSTREAM_ATTEMPT_SECONDS.labels(name).observe(seconds)

    def next_delay(self, error: UpstreamError, attempt: int) -> float | None:
        """Seconds to wait before retrying after ``error``, or None to give up."""
        if not error.retryable or self.left <= 0:
            return None
        delay = error.retry_after
        if delay is None:
            delay = 0.05 * 2**attempt * (1 + random.random() / 2)  # noqa: S311 (jitter)
        if time.monotonic() + delay > self.deadline:
            return None
        self.left -= 1
        return delay


def _transport_error(exc: BaseException) -> UpstreamError:
    if isinstance(exc, TimeoutError):
        return UpstreamError(
            504, "upstream_timeout", "The upstream provider timed out.", retryable=True
        )
    return UpstreamError(
        502,
        "upstream_error",
        f"Could not reach the upstream provider ({type(exc).__name__}).",
        retryable=True,
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

    async def _attempts(self, call, attempts: Attempts, plan=None, report=None):
        """``call(target)`` until one answers. With a plan of several deployments, a failure
        another may not have (``failover_worthy``) moves to the next one at once, each tried
        once per request within its time budget; the request's retry policy then applies to
        the last. ``report(target, error or None)`` tells the router each outcome."""
        plan = plan or [None]
        index = attempt = 0
        errors: list[UpstreamError] = []
        while True:
            target = plan[index]
            attempts.made += 1
            started = time.perf_counter()
            try:
                result = await call(target)
            except UpstreamError as exc:
                error = exc
            except (TimeoutError, aiohttp.ClientError) as exc:
                error = _transport_error(exc)
            else:
                attempts.note(target, 200, started)
                attempts.served = target
                if report is not None:
                    report(target, None)
                return result
            attempts.note(target, error.upstream_status or error.status, started)
            if report is not None:
                report(target, error)
            errors.append(error)
            if (
                index + 1 < len(plan)
                and failover_worthy(error)
                and time.monotonic() < attempts.deadline
            ):
                log.warning(
                    "deployment %s failed (%s); trying %s",
                    getattr(target, "name", "?"), error.message, plan[index + 1].name,
                )  # fmt: skip
                index += 1
                continue
            delay = attempts.next_delay(error, attempt)
            if delay is None:
                raise most_meaningful(errors)
            log.warning("upstream attempt %d failed: %s; retrying", attempt + 1, error.message)
            await asyncio.sleep(delay)
            attempt += 1

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

        return await self._attempts(call, attempts, plan, report)

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

        self.response = await self.upstream._attempts(call, self.attempts, self.plan, self.report)
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
