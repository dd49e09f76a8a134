"""The API hot path: /api/v1 (and /v1) as a small Starlette app beside Django.

parse bearer → verify key → rate limit → validate body → resolve model → hold → upstream →
relay (JSON, or SSE chunk by chunk ending with data: [DONE]) → settle and record, after the
response, off the client's critical path.
"""

import asyncio
import contextlib
import logging
import math
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from datetime import timedelta
from functools import partial

import orjson
from django.conf import settings
from django.db import InterfaceError, OperationalError, connection, connections
from django.utils import timezone
from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response

from apps.catalog.pricing import (
    count_text_tokens,
    estimate_request_tokens,
    price_per_million_credits,
    price_per_million_dollars,
    request_cost,
)
from apps.catalog.selectors import catalog_routes
from apps.core.money import CREDITS_PER_DOLLAR, MICRO
from apps.credits.errors import AccountSuspended, InsufficientCredits
from apps.keys import tokens
from apps.keys.cache import TOMBSTONE
from apps.keys.errors import KeyCreditLimitReached
from apps.keys.selectors import KeyFacts
from apps.keys.services import api_key_mark_used
from apps.usage import services as usage_services

from . import services
from .errors import ApiError, bad_request, unauthorized
from .openapi import openapi_document
from .pg import PgMoney, Refused, SettleBatcher
from .state import WINDOW_SECONDS, decode, encode, make_store
from .upstream import DONE, StreamBroken, Upstream, UpstreamError
from .validation import ChatRequest, validate_chat

log = logging.getLogger("opencodex.gateway")
RECENT_SECONDS = 5.0
JSON = "application/json"


def _db_call(fn, kwargs):
    try:
        return fn(**kwargs)
    except (InterfaceError, OperationalError):
        connection.close()  # this worker thread reconnects on its next call
        raise


def new_request_id() -> str:
    return f"req_{uuid.uuid4().hex}"


def credits_number(micro: int) -> float:
    return round(micro / MICRO, 6)


@dataclass
class Ctx:
    request_id: str = field(default_factory=new_request_id)
    started: float = field(default_factory=time.perf_counter)
    created_at: object = field(default_factory=timezone.now)
    headers: dict = field(default_factory=dict)
    facts: KeyFacts | None = None
    model: str = ""
    finished: bool = False

    def all_headers(self, extra=None) -> dict:
        return {"x-request-id": self.request_id, **self.headers, **(extra or {})}

    @property
    def latency_ms(self) -> int:
        return int((time.perf_counter() - self.started) * 1000)


class Gateway:
    def __init__(self):
        self.upstream = Upstream()
        self.store = None
        self.executor = ThreadPoolExecutor(
            max_workers=settings.GATEWAY_DB_THREADS, thread_name_prefix="gateway-db"
        )
        self._routes = (0.0, {})
        self.pending: set[asyncio.Task] = set()
        self.recent: dict[str, tuple[float, KeyFacts]] = {}
        self.local_window, self.local_counts = 0, {}
        engine = settings.DATABASES["default"]["ENGINE"]
        self.pg = PgMoney() if settings.GATEWAY_PG_FASTPATH and "postgresql" in engine else None
        self.batcher = SettleBatcher(self.pg) if self.pg is not None else None

    # --- plumbing ------------------------------------------------------------------------------
    async def db(self, fn, **kwargs):
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self.executor, partial(_db_call, fn, kwargs))

    def spawn(self, coro) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self.pending.add(task)
        task.add_done_callback(self.pending.discard)

    def get_store(self):
        if self.store is None:
            self.store = make_store()
        return self.store

    async def routes(self) -> dict:
        expires, routes = self._routes
        if expires > time.monotonic():
            return routes
        routes = await self.db(catalog_routes)
        self._routes = (time.monotonic() + settings.GATEWAY_CATALOG_CACHE_SECONDS, routes)
        return routes

    async def shutdown(self) -> None:
        if self.pending:
            await asyncio.wait(list(self.pending), timeout=15)
        await self.upstream.close()
        if self.store is not None:
            await self.store.close()
        if self.pg is not None:
            await self.batcher.close()
            await self.pg.close()
        await asyncio.get_running_loop().run_in_executor(None, self.close_db_connections)

    def close_db_connections(self) -> None:
        """Each worker thread holds its own database connection: close every one of them."""
        threads = len(getattr(self.executor, "_threads", ())) or 1
        barrier = threading.Barrier(threads, timeout=5)

        def close():
            with contextlib.suppress(threading.BrokenBarrierError):
                barrier.wait()  # one task per thread
            connections.close_all()

        futures = [self.executor.submit(close) for _ in range(threads)]
        for future in futures:
            future.result(timeout=10)

    def error_response(self, ctx: Ctx, exc: ApiError) -> Response:
        return Response(exc.body(), exc.status, ctx.all_headers(exc.headers), media_type=JSON)

    def json_response(self, ctx: Ctx, data, extra=None) -> Response:
        return Response(orjson.dumps(data), 200, ctx.all_headers(extra), media_type=JSON)

    # --- steps ---------------------------------------------------------------------------------
    @staticmethod
    def presented_digest(request: Request) -> str:
        """The digest of the key in the Authorization header (401 when there is none, or it is
        not one of ours by its format and checksum)."""
        header = request.headers.get("authorization")
        if not header:
            raise unauthorized(
                "Missing API key. Send it as 'Authorization: Bearer sk-live-…'.",
                code="missing_api_key",
            )
        scheme, _, presented = header.partition(" ")
        presented = presented.strip()
        if scheme.lower() != "bearer" or not presented:
            raise unauthorized(
                "The Authorization header must be 'Bearer sk-live-…'.",
                code="invalid_authorization",
            )
        try:
            tokens.check_format(presented)
        except tokens.FormatError as exc:
            raise unauthorized(exc.message) from None
        return tokens.digest(presented)

    async def lookup(self, digest: str, now: float):
        """(key facts or None, requests in this minute, last-used write due): one Redis round
        trip, and one indexed query when the facts are not cached."""
        store = self.get_store()
        cached, count, touch = await store.check(digest, int(now // WINDOW_SECONDS))
        if cached in (None, TOMBSTONE, TOMBSTONE.encode()):
            facts = await self.db(services.key_facts_load, digest=digest)
            await store.remember(digest, encode(facts), settings.GATEWAY_KEY_CACHE_SECONDS)
        else:
            facts = decode(cached)
        if facts is not None:
            if len(self.recent) > 100_000:
                self.recent.clear()
            self.recent[digest] = (time.monotonic() + RECENT_SECONDS, facts)
        else:
            self.recent.pop(digest, None)
        return facts, count, touch

    def admit(self, ctx: Ctx, facts: KeyFacts | None, count: int, touch: bool, now: float):
        """Refuse a missing, revoked or expired key (401) or one over its rate (429)."""
        if facts is None:
            raise unauthorized("Invalid API key: no such key.")
        problem = facts.problem_at(now)
        if problem is not None:
            raise unauthorized(problem[1], code=f"api_key_{problem[0]}")
        limit = facts.rpm_limit or settings.API_DEFAULT_RPM
        reset = math.ceil(WINDOW_SECONDS - now % WINDOW_SECONDS)
        ctx.headers.update(
            {
                "x-ratelimit-limit-requests": str(limit),
                "x-ratelimit-remaining-requests": str(max(limit - count, 0)),
                "x-ratelimit-reset-requests": f"{reset}s",
            }
        )
        if count > limit:
            raise ApiError(
                429,
                f"Rate limit reached: this key may make {limit} requests per minute. "
                f"Retry in {reset} s.",
                type="rate_limit_error",
                code="rate_limit_exceeded",
                headers={"retry-after": str(reset)},
            )
        if touch:
            self.spawn(self.db(api_key_mark_used, key_id=facts.id, at=timezone.now()))
        ctx.facts = facts

    async def authenticate(self, request: Request, ctx: Ctx) -> KeyFacts:
        digest = self.presented_digest(request)
        now = time.time()
        self.admit(ctx, *await self.lookup(digest, now), now)
        return ctx.facts

    def recently_seen(self, digest: str) -> KeyFacts | None:
        """Facts this process saw for the key in the last seconds, if the key is not near its
        rate limit here: enough to start the hold while the shared check is in flight."""
        item = self.recent.get(digest)
        if item is None or item[0] < time.monotonic():
            return None
        facts = item[1]
        window = int(time.time() // WINDOW_SECONDS)
        if self.local_window != window:
            self.local_window, self.local_counts = window, {}
        count = self.local_counts[digest] = self.local_counts.get(digest, 0) + 1
        limit = facts.rpm_limit or settings.API_DEFAULT_RPM
        return facts if count * 4 < limit else None

    async def read_json(self, request: Request):
        limit = settings.GATEWAY_MAX_BODY_BYTES
        too_large = bad_request(
            f"The request body is larger than {limit // 1024} KiB.", code="request_too_large"
        )
        length = request.headers.get("content-length")
        if length and length.isdigit() and int(length) > limit:
            raise too_large
        chunks, size = [], 0
        async for chunk in request.stream():
            size += len(chunk)
            if size > limit:
                raise too_large
            chunks.append(chunk)
        body = b"".join(chunks)
        if not body.strip():
            raise bad_request("The request body is empty; send a JSON object.", code="invalid_json")
        try:
            return orjson.loads(body)
        except ValueError:
            raise bad_request("The request body is not valid JSON.", code="invalid_json") from None

    @staticmethod
    def hold_amount(chat: ChatRequest, prompt_estimate: int) -> int:
        """The worst case: the prompt estimate and every token the request may produce."""
        route = chat.route
        return request_cost(
            prompt_tokens=prompt_estimate,
            completion_tokens=chat.max_tokens * chat.choices,
            input_price=route.input_price,
            output_price=route.output_price,
        )

    async def hold(self, ctx: Ctx, amount: int) -> bool:
        if amount <= 0:
            return False
        try:
            if self.pg is not None:
                await self.pg_hold(ctx, amount)
            else:
                await self.db(
                    services.request_hold, request_id=ctx.request_id, facts=ctx.facts, amount=amount
                )
        except InsufficientCredits as exc:
            raise ApiError(
                402, exc.message, type="insufficient_credits", code="insufficient_credits"
            ) from None
        except KeyCreditLimitReached as exc:
            raise ApiError(
                402, exc.message, type="insufficient_credits", code="key_credit_limit_reached"
            ) from None
        except AccountSuspended as exc:
            raise ApiError(
                402, exc.message, type="account_suspended", code="account_suspended"
            ) from None
        return True

    async def pg_hold(self, ctx: Ctx, amount: int) -> None:
        facts = ctx.facts
        now = timezone.now()
        try:
            await self.pg.hold(
                request_id=ctx.request_id,
                account_id=facts.account_id,
                key_id=facts.budget_id,
                limited=facts.credit_limit is not None,
                amount=amount,
                now=now,
                expires_at=now + timedelta(seconds=settings.HOLD_TTL_SECONDS),
            )
        except Refused as refused:
            if refused.what == "key":
                raise KeyCreditLimitReached(needed=amount, left=refused.left) from None
            if refused.what == "suspended":
                raise AccountSuspended() from None
            raise InsufficientCredits(needed=amount, available=refused.left) from None

    async def release(self, ctx: Ctx) -> None:
        """Give back a hold taken for a request that is then refused (401/429)."""
        if self.pg is not None:
            await self.pg.release(ctx.request_id)
        else:
            await self.db(usage_services.request_release, request_id=ctx.request_id)

    async def admit_and_hold(self, request: Request, ctx: Ctx, digest: str, body) -> tuple:
        """Authenticate, validate and hold. When this process saw the key moments ago, the
        hold starts while the shared key check (revocation, rate) is still in flight, and is
        given back if that check refuses the request."""
        recent = self.recently_seen(digest)
        now = time.time()
        if recent is None:
            self.admit(ctx, *await self.lookup(digest, now), now)
            chat = validate_chat(body, await self.routes())
            estimate = estimate_request_tokens(chat.payload, chat.messages)
            return chat, estimate, await self.hold(ctx, self.hold_amount(chat, estimate))
        try:
            chat = validate_chat(body, await self.routes())
        except ApiError:
            self.admit(ctx, *await self.lookup(digest, now), now)  # 401/429 come first
            raise
        estimate = estimate_request_tokens(chat.payload, chat.messages)
        amount = self.hold_amount(chat, estimate)
        check = asyncio.get_running_loop().create_task(self.lookup(digest, now))
        ctx.facts = recent
        refused = None
        try:
            held = await self.hold(ctx, amount)
        except ApiError as exc:
            held, refused = False, exc
        except BaseException:
            check.cancel()
            raise
        try:
            facts, count, touch = await check
            self.admit(ctx, facts, count, touch, now)
        except BaseException:
            ctx.facts = None  # refused (401/429) or failed: no usage to record
            if held:
                await self.release(ctx)
            raise
        if facts.credit_limit is not None and recent.credit_limit is None:
            # The key got a credit limit meanwhile: the hold must also reserve on the key. (The
            # other changes need nothing: the hold checked the limits as the database has them.)
            if held:
                await self.release(ctx)
            ctx.request_id = new_request_id()
            return chat, estimate, await self.hold(ctx, amount)
        if refused is not None:
            raise refused
        return chat, estimate, held

    def finish_usage(self, ctx: Ctx, route, *, prompt: int, completion: int, **fields) -> None:
        """Settle a request that used the model: the tokens at the model's prices."""
        cost = request_cost(
            prompt_tokens=prompt,
            completion_tokens=completion,
            input_price=route.input_price,
            output_price=route.output_price,
        )
        self.finish(ctx, prompt_tokens=prompt, completion_tokens=completion, cost=cost, **fields)

    def finish(self, ctx: Ctx, *, status: int, held: bool, **fields) -> None:
        """Settle and record the request in the background (once per request)."""
        if ctx.facts is None or ctx.finished:
            return
        ctx.finished = True
        outcome = usage_services.RequestOutcome(
            request_id=ctx.request_id,
            user_id=ctx.facts.user_id,
            api_key_id=ctx.facts.id,
            model=ctx.model[:100],
            status=status,
            created_at=ctx.created_at,
            latency_ms=ctx.latency_ms,
            held=held,
            **fields,
        )
        self.spawn(self.settle(outcome))

    async def settle(self, outcome) -> None:
        for attempt in range(3):
            try:
                if self.pg is not None and attempt == 0:
                    await self.batcher.settle(outcome)
                elif self.pg is not None:  # a failed batch: retry this request on its own
                    await self.pg.settle(outcome, timezone.now())
                else:
                    await self.db(usage_services.request_settle, outcome=outcome)
                return
            except Exception:
                log.exception("settling %s failed (attempt %d)", outcome.request_id, attempt + 1)
                await asyncio.sleep(0.2 * 4**attempt)
        try:  # the durable fallback: a Celery task that keeps retrying
            await self.db(enqueue_settlement, outcome=outcome)
        except Exception:
            log.critical("settlement could not be queued, outcome=%r", outcome, exc_info=True)

    # --- endpoints -----------------------------------------------------------------------------
    async def chat_completions(self, request: Request) -> Response:
        ctx = Ctx()
        held = False
        try:
            digest = self.presented_digest(request)
            try:
                body = await self.read_json(request)
            except ApiError:
                await self.authenticate(request, ctx)  # a bad key is told so first
                raise
            if isinstance(body, dict) and isinstance(body.get("model"), str):
                ctx.model = body["model"]
            chat, prompt_estimate, held = await self.admit_and_hold(request, ctx, digest, body)
            upstream_header = {
                "x-opencodex-upstream": "demo" if chat.route.demo else chat.route.provider
            }
            if chat.stream:
                return await self.start_stream(ctx, chat, prompt_estimate, held, upstream_header)
            return await self.complete(ctx, chat, prompt_estimate, held, upstream_header)
        except ApiError as exc:
            if ctx.facts is not None and exc.status != 429:
                self.finish(ctx, status=exc.status, held=held, error_code=exc.code or "")
            return self.error_response(ctx, exc)
        except ClientDisconnect:  # the client left while sending its request
            self.finish(ctx, status=499, held=held, error_code="client_disconnected")
            return Response(status_code=499)
        except Exception:
            log.exception("request %s failed", ctx.request_id)
            self.finish(ctx, status=500, held=held, error_code="internal_error")
            return self.error_response(
                ctx,
                ApiError(
                    500,
                    f"Internal error; please retry or contact support with {ctx.request_id}.",
                    type="api_error",
                    code="internal_error",
                ),
            )

    async def call_upstream(self, ctx, chat, held, call):
        try:
            return await call
        except UpstreamError as exc:
            self.finish(ctx, status=exc.status, held=held, error_code=exc.code)
            raise ApiError(exc.status, exc.message, type="upstream_error", code=exc.code) from None
        except asyncio.CancelledError:
            self.finish(ctx, status=499, held=held, error_code="client_disconnected")
            raise

    async def complete(self, ctx, chat: ChatRequest, prompt_estimate, held, extra) -> Response:
        route = chat.route
        data = await self.call_upstream(
            ctx, chat, held, self.upstream.complete(route, chat.payload, ctx.request_id)
        )
        usage = data.get("usage") if isinstance(data.get("usage"), dict) else None
        if usage:
            prompt = int(usage.get("prompt_tokens") or 0)
            completion = int(usage.get("completion_tokens") or 0)
        else:
            prompt = prompt_estimate
            completion = sum(
                count_output(((c or {}).get("message") or {}).get("content") or "", 1)
                for c in data.get("choices") or []
            )
        data["model"] = route.public_id
        response = self.json_response(ctx, data, extra)
        self.finish_usage(
            ctx,
            route,
            status=200,
            held=held,
            prompt=prompt,
            completion=completion,
            usage_counted=usage is None,
        )
        return response

    async def start_stream(self, ctx, chat: ChatRequest, prompt_estimate, held, extra):
        first, events, upstream_response = await self.call_upstream(
            ctx, chat, held, self.upstream.open_stream(chat.route, chat.payload, ctx.request_id)
        )
        return StreamRelay(
            self, ctx, chat, prompt_estimate, held, first, events, upstream_response, extra
        )

    async def models(self, request: Request) -> Response:
        ctx = Ctx()
        try:
            await self.authenticate(request, ctx)
            routes = await self.routes()
        except ApiError as exc:
            return self.error_response(ctx, exc)
        data = [
            model_json(route)
            for route in sorted(routes.values(), key=lambda r: (r.family, r.public_id))
        ]
        return self.json_response(ctx, {"object": "list", "data": data})

    async def balance(self, request: Request) -> Response:
        ctx = Ctx()
        try:
            facts = await self.authenticate(request, ctx)
        except ApiError as exc:
            return self.error_response(ctx, exc)
        found = await self.db(
            services.balance_for_key, key_id=facts.id, account_id=facts.account_id
        )

        def credits(micro):
            return None if micro is None else credits_number(micro)

        return self.json_response(
            ctx,
            {
                "object": "balance",
                "unit": "credits",
                "credits_per_usd": CREDITS_PER_DOLLAR,
                "balance": credits(found["balance"]),
                "held": credits(found["held"]),
                "available": credits(found["available"]),
                "key": {
                    "name": found["key_name"],
                    "credit_limit": credits(found["key_limit"]),
                    "spent": credits(found["key_spent"]),
                    "remaining": credits(found["key_left"]),
                },
            },
        )


def count_output(text: str, chunks: int) -> int:
    """Output tokens when the upstream reports none: one per streamed chunk at least (providers
    stream about a token a chunk), or the words and marks of the text if that is more."""
    return max(chunks, count_text_tokens(text))


def model_json(route) -> dict:
    return {
        "id": route.public_id,
        "object": "model",
        "created": route.created,
        "owned_by": route.provider,
        "family": route.family,
        "context_length": route.context_length,
        "max_output_tokens": route.max_output,
        "pricing": {
            "unit": "per 1M tokens",
            "input_credits": float(price_per_million_credits(route.input_price)),
            "output_credits": float(price_per_million_credits(route.output_price)),
            "input_usd": float(price_per_million_dollars(route.input_price)),
            "output_usd": float(price_per_million_dollars(route.output_price)),
        },
        "demo": route.demo,
    }


def enqueue_settlement(*, outcome) -> None:
    from apps.usage.tasks import settle_request

    payload = asdict(outcome)
    payload["created_at"] = outcome.created_at.isoformat()
    settle_request.delay(payload)


class ClientGone(Exception):
    pass


class StreamRelay(Response):
    """Relays the upstream's SSE events one by one as they arrive, and settles for what was
    delivered when the stream ends, breaks, or the client goes away."""

    media_type = "text/event-stream"

    def __init__(self, gateway, ctx, chat, prompt_estimate, held, first, events, upstream, extra):
        self.gateway, self.ctx, self.chat = gateway, ctx, chat
        self.prompt_estimate, self.held = prompt_estimate, held
        self.first, self.events, self.upstream = first, events, upstream
        self.status_code = 200
        self.background = None
        self.init_headers(
            ctx.all_headers({**extra, "cache-control": "no-cache", "x-accel-buffering": "no"})
        )
        self.delivered_text: list[str] = []
        self.delivered_chunks = 0
        self.usage = None

    def encode(self, event) -> tuple[bytes | None, str, int]:
        """The bytes to send for one upstream event (None to drop it), and its output."""
        event["model"] = self.chat.route.public_id
        usage = event.get("usage")
        if isinstance(usage, dict):
            self.usage = usage
        choices = event.get("choices") or []
        if not self.chat.include_usage:
            event.pop("usage", None)
            if not choices:
                return None, "", 0
        text, chunks = [], 0
        for choice in choices:
            delta = (choice or {}).get("delta") or {}
            content = delta.get("content")
            if content:
                text.append(content)
                chunks += 1
            for call in delta.get("tool_calls") or []:
                arguments = ((call or {}).get("function") or {}).get("arguments")
                if arguments:
                    text.append(arguments)
                    chunks += 1
        return b"data: " + orjson.dumps(event) + b"\n\n", "".join(text), chunks

    async def __call__(self, scope, receive, send) -> None:
        status, error_code, completed = 200, "", False
        gone = asyncio.Event()

        async def watch_for_disconnect():
            # ASGI servers before spec 2.4 (uvicorn) drop sends to a closed connection silently;
            # the disconnect only shows up on receive().
            while (await receive())["type"] != "http.disconnect":
                pass
            gone.set()

        watcher = asyncio.get_running_loop().create_task(watch_for_disconnect())
        try:
            await send({"type": "http.response.start", "status": 200, "headers": self.raw_headers})
            batch, done = self.first, False
            while not done:
                out = []
                texts, chunks = [], 0
                for event in batch:
                    if event is DONE:
                        done = True
                        break
                    body, text, count = self.encode(event)
                    if body is not None:
                        out.append(body)
                        texts.append(text)
                        chunks += count
                if done:
                    out.append(b"data: [DONE]\n\n")
                if out:
                    if gone.is_set():
                        raise ClientGone
                    await send(
                        {"type": "http.response.body", "body": b"".join(out), "more_body": True}
                    )
                    self.delivered_text.extend(texts)
                    self.delivered_chunks += chunks
                if not done:
                    batch = await anext(self.events)
            await send({"type": "http.response.body", "body": b"", "more_body": False})
            completed = True
        except StreamBroken as exc:
            status, error_code = 502, "upstream_stream_broken"
            log.warning("request %s: %s", self.ctx.request_id, exc)
            error = ApiError(
                502,
                "The upstream provider stopped mid-stream; you are charged only for the "
                "output you received.",
                type="upstream_error",
                code=error_code,
            )
            with contextlib.suppress(OSError):
                await send(
                    {
                        "type": "http.response.body",
                        "body": b"data: " + error.body() + b"\n\n",
                        "more_body": False,
                    }
                )
        except (OSError, ClientGone, asyncio.CancelledError) as exc:  # the client went away
            status, error_code = 499, "client_disconnected"
            if isinstance(exc, asyncio.CancelledError):
                raise
        finally:
            watcher.cancel()
            self.upstream.close()
            self.settle(status, error_code, completed)

    def settle(self, status: int, error_code: str, completed: bool) -> None:
        route = self.chat.route
        text = "".join(self.delivered_text)
        if completed and self.usage:
            prompt = int(self.usage.get("prompt_tokens") or 0)
            completion = int(self.usage.get("completion_tokens") or 0)
            counted = False
        else:
            prompt = self.prompt_estimate
            completion = count_output(text, self.delivered_chunks)
            counted = True
        if status == 502:
            prompt = 0  # the upstream failed us: pay only for the output that arrived
        self.gateway.finish_usage(
            self.ctx,
            route,
            status=status,
            held=self.held,
            prompt=prompt,
            completion=completion,
            error_code=error_code,
            stream=True,
            usage_counted=counted,
        )


class GatewayApp:
    """The ASGI application: three routes dispatched directly (Starlette's router and middleware
    stack cost more than the routing they would do here), errors in the OpenAI shape."""

    def __init__(self):
        self.gateway = Gateway()
        self.routes = {
            "/chat/completions": ("POST", self.gateway.chat_completions),
            "/models": ("GET", self.gateway.models),
            "/balance": ("GET", self.gateway.balance),
            "/openapi.json": ("GET", self.openapi),
        }

    async def openapi(self, request: Request) -> Response:
        return self.gateway.json_response(Ctx(), openapi_document())

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] == "lifespan":
            return await self.lifespan(receive, send)
        if scope["type"] != "http":
            return None
        path, root = scope["path"], scope.get("root_path", "")
        if root and path.startswith(root):
            path = path[len(root) :]
        route = self.routes.get(path)
        request = Request(scope, receive)
        if route is None:
            response = self.gateway.error_response(
                Ctx(),
                ApiError(
                    404,
                    f"Unknown endpoint {scope['path']}. See the API documentation.",
                    code="unknown_endpoint",
                ),
            )
        elif route[0] != scope["method"]:
            response = self.gateway.error_response(
                Ctx(),
                ApiError(
                    405,
                    f"Method {scope['method']} is not allowed here; use {route[0]}.",
                    code="method_not_allowed",
                    headers={"allow": route[0]},
                ),
            )
        else:
            response = await route[1](request)
        await response(scope, receive, send)

    async def lifespan(self, receive, send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await self.gateway.shutdown()
                await send({"type": "lifespan.shutdown.complete"})
                return


def build_app() -> GatewayApp:
    return GatewayApp()
