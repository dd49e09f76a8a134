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
from pathlib import Path

import orjson
from django.conf import settings
from django.db import InterfaceError, OperationalError, connection, connections
from django.utils import timezone
from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response

from apps.catalog.estimate import estimate_request_tokens
from apps.catalog.pricing import (
    Usage,
    count_text_tokens,
    price_per_million_credits,
    price_per_million_dollars,
    tokens_cost,
    usage_cost,
    usage_from_provider,
)
from apps.catalog.selectors import catalog_routes
from apps.core import metrics
from apps.core.logs import request_id_var
from apps.core.money import CREDITS_PER_DOLLAR, MICRO
from apps.credits.errors import AccountSuspended, BudgetReached, InsufficientCredits
from apps.credits.models import month_of
from apps.credits.services import credits_budget_reached
from apps.keys import tokens
from apps.keys.cache import TOMBSTONE
from apps.keys.errors import KeyCreditLimitReached
from apps.keys.selectors import KeyFacts
from apps.keys.services import api_key_mark_used
from apps.usage import services as usage_services
from apps.usage.journal import Journal, journal_recover

from . import services
from .errors import ApiError, bad_request, unauthorized
from .openapi import openapi_document
from .pg import PgMoney, Refused, SettleBatcher
from .protocols import messages as messages_protocol
from .protocols import native as native_protocol
from .protocols import responses as responses_protocol
from .protocols.native import Native
from .state import WINDOW_SECONDS, decode, encode, make_store
from .upstream import DONE, Attempts, Comment, StreamBroken, Upstream, UpstreamError
from .validation import ChatRequest, validate_chat

log = logging.getLogger("opencodex.gateway")
access_log = logging.getLogger("opencodex.gateway.access")
RECENT_SECONDS = 5.0
JSON = "application/json"


def _db_call(fn, kwargs):
    """Run a database step in this worker thread. Django's connection health checks only run
    around its own requests, so a connection the server dropped (a PostgreSQL restart) shows up
    here as an error: the thread reconnects and tries once more (the step's transaction was
    rolled back), then gives up."""
    for attempt in (1, 2):
        try:
            return fn(**kwargs)
        except (InterfaceError, OperationalError):
            connection.close()  # reconnect on the next call
            if attempt == 2:
                raise
    raise AssertionError("unreachable")


def database_unavailable(exc: BaseException) -> bool:
    """Whether an error means the database cannot be reached right now."""
    import psycopg
    from psycopg_pool import PoolTimeout

    return isinstance(
        exc, InterfaceError | OperationalError | PoolTimeout | psycopg.OperationalError
    )


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
    protocol: str = "chat"  # chat, messages or responses: the shape of answers and errors
    ttft_ms: int = 0  # when the first byte of a streamed answer left
    native: Native | None = None  # the pass-through request, when the provider speaks it
    body_bytes: int = 0  # the request body's size
    # The prompt and answer, kept only for users who asked (KeyFacts.store_days).
    keep_prompt: object = None
    keep_answer: object = None

    def __post_init__(self):
        request_id_var.set(self.request_id)  # every log line of this request names it

    def all_headers(self, extra=None) -> dict:
        headers = {"x-request-id": self.request_id, **self.headers, **(extra or {})}
        if self.protocol == "messages":  # Anthropic's SDKs read request-id
            headers["request-id"] = self.request_id
        return headers

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
        # CPU work on large bodies (parsing, translation, estimation) runs here, off the event
        # loop, so one large request never stalls the others this worker serves.
        self.cpu = ThreadPoolExecutor(max_workers=2, thread_name_prefix="gateway-cpu")
        self._routes = (0.0, {})
        self.pending: set[asyncio.Task] = set()
        self.recent: dict[str, tuple[float, KeyFacts]] = {}
        self.local_window, self.local_counts = 0, {}
        engine = settings.DATABASES["default"]["ENGINE"]
        self.pg = PgMoney() if settings.GATEWAY_PG_FASTPATH and "postgresql" in engine else None
        self.batcher = SettleBatcher(self.pg) if self.pg is not None else None
        directory = settings.GATEWAY_JOURNAL_DIR
        self.journal = Journal(Path(directory)) if directory else None
        self.recovery: asyncio.Task | None = None

    # --- plumbing ------------------------------------------------------------------------------
    async def db(self, fn, **kwargs):
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self.executor, partial(_db_call, fn, kwargs))

    async def cpu_bound(self, ctx: "Ctx", fn, *args):
        """``fn(*args)`` inline for an ordinary body, in the CPU threads for a large one."""
        if ctx.body_bytes <= settings.GATEWAY_INLINE_BODY_BYTES:
            return fn(*args)
        return await asyncio.get_running_loop().run_in_executor(self.cpu, partial(fn, *args))

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
        try:
            fresh = await self.db(catalog_routes)
        except Exception as exc:
            if not routes or not database_unavailable(exc):
                raise
            # The last good copy serves while the database is away; try again in a moment.
            log.warning("catalog refresh failed (%s); serving the last good copy", exc)
            self._routes = (time.monotonic() + 2, routes)
            return routes
        self._routes = (time.monotonic() + settings.GATEWAY_CATALOG_CACHE_SECONDS, fresh)
        return fresh

    async def startup(self) -> None:
        if self.journal is not None:
            self.recovery = asyncio.get_running_loop().create_task(self.recover_journals())

    async def recover_journals(self) -> None:
        """Settle, now and every minute, what processes that died had delivered."""
        from apps.usage.journal import RECOVER_AFTER_SECONDS

        while True:
            try:
                found = await self.db(journal_recover, directory=self.journal.directory)
                if found.get("settled"):
                    log.warning("journal recovery settled %d request(s)", found["settled"])
            except Exception:
                log.exception("journal recovery failed; it runs again in a minute")
            await asyncio.sleep(RECOVER_AFTER_SECONDS)

    async def shutdown(self) -> None:
        if self.recovery is not None:
            self.recovery.cancel()
        if self.pending:
            await asyncio.wait(list(self.pending), timeout=15)
        await self.upstream.close()
        if self.journal is not None:
            self.journal.close()
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
        if ctx.protocol == "messages":  # Anthropic's statuses, types and request id
            status = messages_protocol.error_status(exc)
            body = messages_protocol.error_body(exc, request_id=ctx.request_id, status=status)
            return Response(body, status, ctx.all_headers(exc.headers), media_type=JSON)
        return Response(exc.body(), exc.status, ctx.all_headers(exc.headers), media_type=JSON)

    def json_response(self, ctx: Ctx, data, extra=None) -> Response:
        return Response(orjson.dumps(data), 200, ctx.all_headers(extra), media_type=JSON)

    # --- steps ---------------------------------------------------------------------------------
    @staticmethod
    def presented_digest(request: Request) -> str:
        """The digest of the key in the Authorization header, or in ``x-api-key`` (Anthropic's
        SDKs): 401 when there is none, or it is not one of ours by its format and checksum."""
        header = request.headers.get("authorization")
        if not header:
            api_key = request.headers.get("x-api-key", "").strip()
            if not api_key:
                raise unauthorized(
                    "Missing API key. Send it as 'Authorization: Bearer sk-live-…' "
                    "(or 'x-api-key: sk-live-…').",
                    code="missing_api_key",
                )
            header = f"Bearer {api_key}"
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

    async def read_json(self, request: Request, ctx: "Ctx | None" = None):
        limit = settings.GATEWAY_MAX_BODY_BYTES
        too_large = bad_request(
            f"The request body is larger than {limit // 1024} KiB.", code="request_too_large"
        )
        length = request.headers.get("content-length")
        if length and length.isdigit() and int(length) > limit:
            raise too_large
        chunks, size = [], 0
        try:
            async with asyncio.timeout(settings.GATEWAY_BODY_READ_TIMEOUT):
                async for chunk in request.stream():
                    size += len(chunk)
                    if size > limit:
                        raise too_large
                    chunks.append(chunk)
        except TimeoutError:
            raise ApiError(
                408,
                f"The request body did not arrive within {settings.GATEWAY_BODY_READ_TIMEOUT:g} s.",
                code="request_timeout",
            ) from None
        body = b"".join(chunks)
        if ctx is not None:
            ctx.body_bytes = len(body)
            return await self.cpu_bound(ctx, parse_json, body)
        return parse_json(body)

    @staticmethod
    def hold_amount(chat: ChatRequest, prompt_estimate: int, output: int | None = None) -> int:
        """The worst case: the prompt estimate, the request's price, and every token the request
        may produce (``output`` per choice, default its limit)."""
        route = chat.route
        output = chat.max_tokens if output is None else output
        return (
            tokens_cost(prompt_estimate, chat.hold_input_price or route.input_price)
            + route.request_price
            + tokens_cost(output * chat.choices, route.output_price)
        )

    @staticmethod
    def affordable_output(chat: ChatRequest, prompt_estimate: int, left: int) -> int | None:
        """The most output tokens per choice that ``left`` µcr cover beside the prompt, or None
        when that is below the floor (GATEWAY_MIN_OUTPUT_TOKENS, or the request's own limit if
        smaller)."""
        route = chat.route
        prompt = tokens_cost(prompt_estimate, chat.hold_input_price or route.input_price)
        room = left - prompt - route.request_price
        floor = min(settings.GATEWAY_MIN_OUTPUT_TOKENS, chat.max_tokens)
        if room <= 0 or route.output_price <= 0:
            return None
        tokens = min(room * 1_000_000 // (route.output_price * chat.choices), chat.max_tokens)
        return tokens if tokens >= floor else None

    async def hold(self, ctx: Ctx, chat: ChatRequest, prompt_estimate: int) -> bool:
        """Hold the request's worst case. When the balance or the key's credit limit cannot
        cover its full output, the output limit is lowered to what they cover (a header says
        so); 402 only when not even the floor is covered."""
        amount = self.hold_amount(chat, prompt_estimate)
        try:
            for _ in range(3):  # concurrent requests may take what was there meanwhile
                try:
                    return await self.hold_exact(ctx, amount)
                except (InsufficientCredits, KeyCreditLimitReached) as exc:
                    short = exc
                account = isinstance(short, InsufficientCredits)
                budget = isinstance(short, BudgetReached)
                left = short.available if account else short.left
                tokens = self.affordable_output(chat, prompt_estimate, left)
                if tokens is None:
                    floor = min(settings.GATEWAY_MIN_OUTPUT_TOKENS, chat.max_tokens)
                    needed = self.hold_amount(chat, prompt_estimate, floor)
                    if budget:
                        raise BudgetReached(needed=needed, available=left, budget=short.budget)
                    if account:
                        raise InsufficientCredits(needed=needed, available=left)
                    raise KeyCreditLimitReached(needed=needed, left=left)
                reason = "budget" if budget else "balance" if account else "key_credit_limit"
                chat.lower_output(tokens, reason)
                amount = self.hold_amount(chat, prompt_estimate)
            raise short
        except BudgetReached as exc:
            self.spawn(
                self.db(
                    credits_budget_reached,
                    account_id=ctx.facts.account_id,
                    month=month_of(timezone.now()),
                )
            )
            raise ApiError(
                402, exc.message, type="insufficient_credits", code="monthly_budget_reached"
            ) from None
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
        finally:
            if chat.lowered:
                ctx.headers["x-opencodex-max-tokens"] = str(chat.max_tokens)
                ctx.headers["x-opencodex-max-tokens-reason"] = chat.lowered

    async def hold_exact(self, ctx: Ctx, amount: int) -> bool:
        if amount <= 0:
            return False
        if self.pg is not None:
            await self.pg_hold(ctx, amount)
        else:
            await self.db(
                services.request_hold, request_id=ctx.request_id, facts=ctx.facts, amount=amount
            )
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
            if refused.what == "budget":
                raise BudgetReached(
                    needed=amount, available=refused.left, budget=refused.budget
                ) from None
            raise InsufficientCredits(needed=amount, available=refused.left) from None

    async def release(self, ctx: Ctx) -> None:
        """Give back a hold taken for a request that is then refused (401/429)."""
        if self.pg is not None:
            await self.pg.release(ctx.request_id)
        else:
            await self.db(usage_services.request_release, request_id=ctx.request_id)

    @classmethod
    def checked(cls, ctx: Ctx, body, routes) -> tuple[ChatRequest, int]:
        """The request validated and routed, and its prompt's tokens for the hold."""
        chat = validate_chat(body, routes, translated=ctx.protocol != "chat")
        return chat, cls.estimate(ctx, chat)

    @staticmethod
    def estimate(ctx: Ctx, chat: ChatRequest) -> int:
        """The prompt's tokens for the hold. Pass-through content only the provider can size (a
        document by URL, a file by id, a block of a newer type) is held at the model's whole
        context window: the most the provider can bill for a prompt."""
        estimate = estimate_request_tokens(chat.payload)
        route = chat.route
        if ctx.native is not None and ctx.native.cache_ttl:  # cache writes cost more than input
            write = route.long_write_price if ctx.native.cache_ttl == "1h" else route.write_price
            chat.hold_input_price = max(route.input_price, write)
        if ctx.native is not None and ctx.native.unsized:
            estimate = max(estimate, chat.route.context_length)
            ctx.headers["x-opencodex-held-context"] = ctx.native.unsized[:200]
        return estimate

    async def admit_and_hold(self, ctx: Ctx, digest: str, body, recent: KeyFacts | None) -> tuple:
        """Validate and hold (the key was admitted already, unless this process saw it moments
        ago: then the hold starts while the shared key check (revocation, rate) is still in
        flight, and is given back if that check refuses the request)."""
        now = time.time()
        routes = await self.routes()
        if recent is None:
            chat, estimate = await self.cpu_bound(ctx, self.checked, ctx, body, routes)
            return chat, estimate, await self.hold(ctx, chat, estimate)
        try:
            chat, estimate = await self.cpu_bound(ctx, self.checked, ctx, body, routes)
        except ApiError:
            self.admit(ctx, *await self.lookup(digest, now), now)  # 401/429 come first
            raise
        check = asyncio.get_running_loop().create_task(self.lookup(digest, now))
        ctx.facts = recent
        refused = None
        try:
            held = await self.hold(ctx, chat, estimate)
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
            request_id_var.set(ctx.request_id)
            return chat, estimate, await self.hold(ctx, chat, estimate)
        if refused is not None:
            raise refused
        return chat, estimate, held

    def finish_usage(self, ctx: Ctx, route, usage: Usage, **fields) -> None:
        """Settle a request that used the model: what the provider billed at the model's prices
        (in full, also beyond the hold)."""
        self.finish(
            ctx,
            prompt_tokens=usage.prompt,
            completion_tokens=usage.completion,
            cached_tokens=usage.cached,
            cache_write_tokens=usage.cache_write,
            reasoning_tokens=usage.reasoning,
            cost=usage_cost(route, usage),
            **fields,
        )

    def finish(self, ctx: Ctx, *, status: int, held: bool, **fields) -> None:
        """Settle and record the request in the background (once per request)."""
        if ctx.facts is None or ctx.finished:
            return
        ctx.finished = True
        known = ctx.model in self._routes[1]
        metrics.REQUESTS.labels(str(status), ctx.model if known else "other", ctx.protocol).inc()
        outcome = usage_services.RequestOutcome(
            request_id=ctx.request_id,
            protocol=ctx.protocol,
            user_id=ctx.facts.user_id,
            api_key_id=ctx.facts.id,
            model=ctx.model[:100],
            status=status,
            created_at=ctx.created_at,
            latency_ms=(latency := ctx.latency_ms),
            ttft_ms=ctx.ttft_ms or (latency if status == 200 else 0),
            held=held,
            **fields,
        )
        if settings.GATEWAY_ACCESS_LOG:
            access_log.info(
                "%s %s %s %d",
                ctx.protocol,
                outcome.model,
                status,
                outcome.latency_ms,
                extra={
                    "key_id": outcome.api_key_id,
                    "user_id": outcome.user_id,
                    "model": outcome.model,
                    "protocol": outcome.protocol,
                    "status": status,
                    "error_code": outcome.error_code,
                    "prompt_tokens": outcome.prompt_tokens,
                    "completion_tokens": outcome.completion_tokens,
                    "cost": outcome.cost,
                    "latency_ms": outcome.latency_ms,
                    "ttft_ms": outcome.ttft_ms,
                    "stream": outcome.stream,
                },
            )
        if ctx.keep_prompt is not None:  # the user keeps prompts and answers: off the hot path
            self.spawn(
                self.db(
                    usage_services.content_store,
                    request_id=ctx.request_id,
                    user_id=ctx.facts.user_id,
                    created_at=ctx.created_at,
                    request=ctx.keep_prompt,
                    response=ctx.keep_answer,
                    cost=outcome.cost,
                )
            )
        if self.journal is not None:
            try:  # durable before the response completes: a process that dies is settled from it
                self.journal.write(outcome)
            except OSError:
                log.exception("could not journal %s", outcome.request_id)
        self.spawn(self.settle(outcome, time.perf_counter()))

    async def settle(self, outcome, ended: float | None = None) -> None:
        for attempt in range(3):
            try:
                if self.pg is not None and attempt == 0:
                    await self.batcher.settle(outcome)
                elif self.pg is not None:  # a failed batch: retry this request on its own
                    await self.pg.settle(outcome, timezone.now())
                else:
                    await self.db(usage_services.request_settle, outcome=outcome)
                if ended is not None:
                    metrics.SETTLEMENT_LAG.observe(time.perf_counter() - ended)
                return
            except Exception:
                metrics.SETTLEMENT_FAILURES.inc()
                log.exception("settling %s failed (attempt %d)", outcome.request_id, attempt + 1)
                if self.pg is not None:
                    with contextlib.suppress(Exception):
                        await self.pg.recover()
                await asyncio.sleep(0.2 * 4**attempt)
        try:  # the durable fallback: a Celery task that keeps retrying
            metrics.SETTLEMENT_HANDOFFS.inc()
            await self.db(enqueue_settlement, outcome=outcome)
        except Exception:
            log.critical("settlement could not be queued, outcome=%r", outcome, exc_info=True)

    # --- endpoints -----------------------------------------------------------------------------
    async def chat_completions(self, request: Request) -> Response:
        return await self.serve(request, Ctx())

    async def messages(self, request: Request) -> Response:
        """The Anthropic Messages API (Claude Code), translated to chat completions."""
        ctx = Ctx(protocol="messages")
        ctx.headers["request-id"] = ctx.request_id  # where Anthropic's SDKs look for it
        return await self.serve(request, ctx)

    async def responses(self, request: Request) -> Response:
        """The OpenAI Responses API (Codex), translated to chat completions."""
        return await self.serve(request, Ctx(protocol="responses"))

    @staticmethod
    def translate(ctx: Ctx, body):
        """The request as chat completions (as it came, for the chat endpoint)."""
        if ctx.protocol == "messages":
            return messages_protocol.to_chat(body)
        if ctx.protocol == "responses":
            return responses_protocol.to_chat(body)
        return body

    async def serve(self, request: Request, ctx: Ctx) -> Response:
        """One pipeline for every protocol: key, limits, validation, hold, upstream, relay,
        settlement; answers and errors in the protocol's own shape."""
        held = False
        try:
            digest = self.presented_digest(request)
            # The key is checked before the body is read: by the shared check, or, for a key
            # this process admitted moments ago, by that (the shared check then runs alongside
            # the hold).
            recent = self.recently_seen(digest)
            if recent is None:
                now = time.time()
                self.admit(ctx, *await self.lookup(digest, now), now)
            try:
                original = await self.read_json(request, ctx)
                if isinstance(original, dict) and isinstance(original.get("model"), str):
                    ctx.model = original["model"]
                route = (await self.routes()).get(ctx.model) if ctx.protocol != "chat" else None
                if route is not None and ctx.protocol in route.protocols:
                    # The provider speaks it: forward only what can be priced, size the rest.
                    ctx.native = await self.cpu_bound(
                        ctx, native_protocol.plan, ctx.protocol, original, request.headers
                    )
                    body = ctx.native.chat
                    if ctx.native.ignored:
                        ctx.headers["x-opencodex-ignored"] = ",".join(ctx.native.ignored)[:1000]
                else:
                    body = await self.cpu_bound(ctx, self.translate, ctx, original)
            except ApiError:
                if recent is not None:
                    await self.authenticate(request, ctx)  # a bad key is told so first
                raise
            chat, prompt_estimate, held = await self.admit_and_hold(ctx, digest, body, recent)
            chat.original = original
            if ctx.facts is not None and ctx.facts.store_days:
                ctx.keep_prompt = original
            upstream_header = {
                "x-opencodex-upstream": "demo" if chat.route.demo else chat.route.provider
            }
            if ctx.native is not None:  # the provider speaks it: pass through
                return await self.pass_through(
                    request, ctx, chat, prompt_estimate, held, upstream_header
                )
            if chat.stream:
                return await self.start_stream(
                    request, ctx, chat, prompt_estimate, held, upstream_header
                )
            return await self.complete(request, ctx, chat, prompt_estimate, held, upstream_header)
        except ApiError as exc:
            if ctx.facts is not None and exc.status != 429:
                self.finish(ctx, status=exc.status, held=held, error_code=exc.code or "")
            return self.error_response(ctx, exc)
        except ClientDisconnect:  # the client left while sending its request
            self.finish(ctx, status=499, held=held, error_code="client_disconnected")
            return Response(status_code=499)
        except Exception as exc:
            if database_unavailable(exc):  # fail fast and say when to come back
                log.warning("request %s: database unavailable (%s)", ctx.request_id, exc)
                self.finish(ctx, status=503, held=held, error_code="database_unavailable")
                return self.error_response(
                    ctx,
                    ApiError(
                        503,
                        "The service is briefly unavailable; please retry in a few seconds.",
                        type="api_error",
                        code="service_unavailable",
                        headers={"retry-after": "2"},
                    ),
                )
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

    @staticmethod
    def attempts_for(request: Request) -> Attempts:
        """The retry policy of one request: the gateway's retries, unless the client says this
        is already its own retry (the openai and anthropic SDKs send their retry count), so the
        two add up instead of multiplying."""
        retries = settings.GATEWAY_UPSTREAM_RETRIES
        count = request.headers.get("x-stainless-retry-count")
        if count and count.strip() not in ("", "0"):
            retries = 0
        return Attempts(retries)

    async def call_upstream(self, ctx, chat, held, call, attempts: Attempts):
        started = time.perf_counter()
        try:
            answer = await call
        except UpstreamError as exc:
            metrics.UPSTREAM_ERRORS.labels(chat.route.provider, str(exc.status)).inc()
            if exc.upstream_status in (401, 403):
                log.error(
                    "upstream %s refused our credentials (HTTP %s)",
                    chat.route.provider,
                    exc.upstream_status,
                )
            self.finish(ctx, status=exc.status, held=held, error_code=exc.code or "")
            raise ApiError(
                exc.status,
                exc.message,
                type=exc.type,
                code=exc.code,
                param=exc.param,
                headers={**exc.headers, "x-opencodex-upstream-attempts": str(attempts.made)},
                upstream_status=exc.upstream_status,
            ) from None
        except asyncio.CancelledError:
            self.finish(ctx, status=499, held=held, error_code="client_disconnected")
            raise
        metrics.UPSTREAM_SECONDS.labels(chat.route.provider).observe(time.perf_counter() - started)
        return answer

    async def complete(
        self, request, ctx, chat: ChatRequest, prompt_estimate, held, extra
    ) -> Response:
        route = chat.route
        attempts = self.attempts_for(request)
        data = await self.call_upstream(
            ctx,
            chat,
            held,
            self.upstream.complete(route, chat.payload, ctx.request_id, attempts),
            attempts,
        )
        usage = usage_from_provider(data.get("usage"))
        counted = usage is None
        if counted:  # count what was produced: every choice's text, reasoning and tool calls
            completion = reasoning = 0
            for choice in data.get("choices") or []:
                message = (choice or {}).get("message") if isinstance(choice, dict) else None
                if isinstance(message, dict):
                    completion += count_output(output_text(message), 1)
                    reasoning += count_text_tokens(reasoning_text(message))
            usage = Usage(prompt=prompt_estimate, completion=completion, reasoning=reasoning)
        data["model"] = route.public_id
        if ctx.protocol == "messages":
            data = messages_protocol.from_chat(data, model=route.public_id)
        elif ctx.protocol == "responses":
            data = responses_protocol.from_chat(data, model=route.public_id, request=chat.original)
        response = self.json_response(ctx, data, extra)
        if ctx.keep_prompt is not None:
            ctx.keep_answer = data
        self.finish_usage(ctx, route, usage, status=200, held=held, usage_counted=counted)
        return response

    async def start_stream(self, request, ctx, chat: ChatRequest, prompt_estimate, held, extra):
        attempts = self.attempts_for(request)
        stream = await self.call_upstream(
            ctx,
            chat,
            held,
            self.upstream.open_stream(chat.route, chat.payload, ctx.request_id, attempts),
            attempts,
        )
        translator = None
        if ctx.protocol == "messages":
            translator = messages_protocol.MessagesStream(
                model=chat.route.public_id, input_tokens=prompt_estimate
            )
        elif ctx.protocol == "responses":
            translator = responses_protocol.ResponsesStream(
                model=chat.route.public_id, request=chat.original
            )
        return StreamRelay(self, ctx, chat, prompt_estimate, held, stream, extra, translator)

    @staticmethod
    def native_request(request: Request, ctx: Ctx, chat: ChatRequest) -> tuple[str, dict, dict]:
        """(path, body, headers) of the request in the provider's own protocol: the client's
        body with the upstream's model id and the output limit the hold covers."""
        route = chat.route
        body = dict(ctx.native.body)  # only what can be priced (protocols/native.py)
        body["model"] = route.upstream_id
        if ctx.protocol == "messages":
            native_protocol.messages_limit(body, chat.max_tokens)
            headers = {
                "Content-Type": "application/json",
                "User-Agent": "OpenCodex-Gateway",
                "X-Request-Id": ctx.request_id,
                **ctx.native.headers,
            }
            if route.api_key:
                headers["x-api-key"] = route.api_key
            return "/messages", body, headers
        body["max_output_tokens"] = chat.max_tokens  # always the limit the hold covers
        body["store"] = False  # nothing is kept at the provider under our account
        return "/responses", body, Upstream._headers(route, ctx.request_id)

    async def pass_through(self, request, ctx, chat: ChatRequest, prompt_estimate, held, extra):
        """A provider that speaks the request's protocol natively gets it untranslated; usage is
        read from its own answer or events."""
        route = chat.route
        path, body, headers = self.native_request(request, ctx, chat)
        attempts = self.attempts_for(request)
        if chat.stream:
            stream = await self.call_upstream(
                ctx,
                chat,
                held,
                self.upstream.open_stream(
                    route, body, ctx.request_id, attempts, path=path, headers=headers
                ),
                attempts,
            )
            relay = StreamRelay(self, ctx, chat, prompt_estimate, held, stream, extra)
            relay.native = True
            return relay
        data = await self.call_upstream(
            ctx,
            chat,
            held,
            self.upstream.complete(
                route, body, ctx.request_id, attempts, path=path, headers=headers
            ),
            attempts,
        )
        usage = usage_from_provider(data.get("usage"))
        counted = usage is None
        if counted:
            text = native_text(data.get("content") or data.get("output"))
            usage = Usage(prompt=prompt_estimate, completion=count_output(text, 1))
        data["model"] = route.public_id
        response = self.json_response(ctx, data, extra)
        if ctx.keep_prompt is not None:
            ctx.keep_answer = data
        self.finish_usage(ctx, route, usage, status=200, held=held, usage_counted=counted)
        return response

    async def model(self, request: Request, model_id: str) -> Response:
        anthropic = bool(request.headers.get("anthropic-version"))  # Anthropic's SDKs
        ctx = Ctx(protocol="messages" if anthropic else "chat")
        try:
            await self.authenticate(request, ctx)
            route = (await self.routes()).get(model_id)
        except ApiError as exc:
            return self.error_response(ctx, exc)
        if route is None:
            return self.error_response(
                ctx,
                ApiError(
                    404,
                    f"The model '{model_id}' does not exist or is not available. "
                    "GET /v1/models lists the models you can use.",
                    code="model_not_found",
                    param="model",
                ),
            )
        if anthropic:
            return self.json_response(
                ctx, messages_protocol.models_list([model_json(route)])["data"][0]
            )
        return self.json_response(ctx, model_json(route))

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
        if request.headers.get("anthropic-version"):  # Anthropic's SDKs and Claude Code
            return self.json_response(ctx, messages_protocol.models_list(data))
        return self.json_response(ctx, {"object": "list", "data": data})

    async def count_tokens(self, request: Request) -> Response:
        """POST /messages/count_tokens: a provider that speaks Messages counts (Anthropic's
        count is free and exact); otherwise the prompt estimate the gateway would hold for."""
        ctx = Ctx(protocol="messages")
        try:
            await self.authenticate(request, ctx)
            original = await self.read_json(request, ctx)
            model = original.get("model") if isinstance(original, dict) else None
            route = (await self.routes()).get(model) if isinstance(model, str) else None
            if route is None:
                raise ApiError(
                    404,
                    f"The model '{model}' does not exist or is not available.",
                    code="model_not_found",
                    param="model",
                )
            if "messages" in route.protocols:
                counted = await self.provider_count(request, ctx, route, original)
                if counted is not None:
                    return self.json_response(ctx, counted)
            body = messages_protocol.to_chat(original, require_max_tokens=False)
        except ApiError as exc:
            return self.error_response(ctx, exc)
        return self.json_response(ctx, {"input_tokens": estimate_request_tokens(body)})

    async def provider_count(self, request, ctx: Ctx, route, original: dict) -> dict | None:
        """The provider's own count of a Messages request (what it would bill as input), or
        None when it cannot say (the estimate answers then)."""
        native = native_protocol.plan_messages(original, request.headers, count_only=True)
        body = {k: v for k, v in native.body.items() if k not in native_protocol.NOT_COUNTED}
        body["model"] = route.upstream_id
        headers = {"Content-Type": "application/json", "X-Request-Id": ctx.request_id}
        headers.update(native.headers)
        if route.api_key:
            headers["x-api-key"] = route.api_key
        try:
            answer = await self.upstream.complete(
                route, body, ctx.request_id, Attempts(0), path="/messages/count_tokens",
                headers=headers,
            )  # fmt: skip
        except UpstreamError as exc:
            if exc.status < 500 and exc.upstream_status is not None:  # the provider refused it
                raise ApiError(exc.status, exc.message, type=exc.type, param=exc.param) from None
            return None
        tokens = answer.get("input_tokens") if isinstance(answer, dict) else None
        return {"input_tokens": tokens} if isinstance(tokens, int) else None

    async def root(self, request: Request) -> Response:
        """GET or HEAD on /api and /api/v1 (Claude Code checks the base URL answers)."""
        return self.json_response(
            Ctx(),
            {
                "object": "api",
                "name": "OpenCodex",
                "endpoints": ["/chat/completions", "/messages", "/responses", "/models"],
            },
        )

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


def parse_json(body: bytes):
    """A request body as JSON, refused with a 400 when it is empty, not JSON, nested too deep, or
    holds more items than one request may (the work on it stays linear and bounded)."""
    if not body.strip():
        raise bad_request("The request body is empty; send a JSON object.", code="invalid_json")
    try:
        data = orjson.loads(body)
    except ValueError:
        raise bad_request("The request body is not valid JSON.", code="invalid_json") from None
    if too_deep(data, settings.GATEWAY_MAX_JSON_DEPTH):
        raise bad_request(
            f"The request body nests deeper than {settings.GATEWAY_MAX_JSON_DEPTH} levels.",
            code="invalid_json",
        )
    limit = settings.GATEWAY_MAX_ITEMS
    if isinstance(data, dict):
        for name in ("messages", "input"):
            items = data.get(name)
            if not isinstance(items, list):
                continue
            count = len(items) + sum(
                len(item["content"])
                for item in items
                if isinstance(item, dict) and isinstance(item.get("content"), list)
            )
            if count > limit:
                raise bad_request(
                    f"'{name}' holds {count:,} messages, items and content blocks; one request "
                    f"may hold at most {limit:,}.",
                    param=name,
                    code="request_too_large",
                )
    return data


def too_deep(value, limit: int) -> bool:
    """Whether JSON ``value`` nests more than ``limit`` levels (checked without recursion)."""
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if depth > limit:
            return True
        if isinstance(item, dict):
            stack.extend((v, depth + 1) for v in item.values() if isinstance(v, dict | list))
        elif isinstance(item, list):
            stack.extend((v, depth + 1) for v in item if isinstance(v, dict | list))
    return False


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


def native_error_event(protocol: str, chat, error: ApiError) -> bytes:
    """The end of a broken native stream, as that protocol tells its clients of an error."""
    if protocol == "messages":
        return messages_protocol.MessagesStream(model=chat.route.public_id).error(
            error.status, error.message
        )
    stream = responses_protocol.ResponsesStream(model=chat.route.public_id, request=chat.original)
    return stream.failed(error.status, error.message)


NATIVE_TERMINAL = {"message_stop", "response.completed", "response.incomplete", "response.failed"}
NATIVE_ERRORS = {"error", "response.failed"}


def model_json(route) -> dict:
    def both(micro):
        return {
            "credits": float(price_per_million_credits(micro)),
            "usd": float(price_per_million_dollars(micro)),
        }

    cached, write = both(route.cached_price), both(route.write_price)
    request = both(route.request_price)
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
            "cached_input_credits": cached["credits"],
            "cache_write_credits": write["credits"],
            "input_usd": float(price_per_million_dollars(route.input_price)),
            "output_usd": float(price_per_million_dollars(route.output_price)),
            "cached_input_usd": cached["usd"],
            "cache_write_usd": write["usd"],
            # Prices per request, not per 1M tokens (0 for most models).
            "request_credits": request["credits"],
            "request_usd": request["usd"],
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
    """Relays the upstream's SSE events one by one as they arrive — headers as soon as the
    upstream answered, keep-alive comments and the provider's own error events as they are —
    and settles for what was delivered when the stream ends, breaks, or the client goes away."""

    media_type = "text/event-stream"

    def __init__(self, gateway, ctx, chat, prompt_estimate, held, stream, extra, translator=None):
        self.gateway, self.ctx, self.chat = gateway, ctx, chat
        self.translator = translator  # renders another protocol's events from the chunks
        self.prompt_estimate, self.held = prompt_estimate, held
        self.stream = stream
        self.status_code = 200
        self.background = None
        self.init_headers(
            ctx.all_headers({**extra, "cache-control": "no-cache", "x-accel-buffering": "no"})
        )
        self.delivered_text: list[str] = []
        self.delivered_reasoning: list[str] = []
        self.delivered_chunks = 0
        self.usage = None
        self.provider_error = None
        self.native = False  # the provider's own protocol, relayed as it is
        self.ended = False  # a native stream's last event arrived

    def encode_native(self, event) -> tuple[bytes | None, str, int]:
        """An event of the provider's own protocol (Messages or Responses), relayed as it is
        but for the model id; usage and output are read from it."""
        if isinstance(event, Comment):
            return bytes(event) + b"\n\n", "", 0
        if not isinstance(event, dict) or not isinstance(event.get("type"), str):
            return None, "", 0
        kind = event["type"]
        public = self.chat.route.public_id
        inner = event.get("message") or event.get("response")
        inner = inner if isinstance(inner, dict) else None  # Responses' error: message is text
        if inner is not None:
            if "model" in inner:
                inner["model"] = public
            if isinstance(inner.get("usage"), dict):
                self.usage = {**(self.usage or {}), **inner["usage"]}
        if kind == "message_delta" and isinstance(event.get("usage"), dict):
            self.usage = {**(self.usage or {}), **event["usage"]}
        ending = b""
        if kind in NATIVE_ERRORS:
            error = event.get("error") or (inner or {}).get("error")
            if error is None and kind == "error":  # Responses: code, message, param at the top
                error = {k: event.get(k) for k in ("code", "message", "param") if event.get(k)}
            self.provider_error = error if isinstance(error, dict) else {"message": str(error)}
            if kind == "error" and self.ctx.protocol == "responses":
                # The stream ends here: its clients learn of it as a failed response too.
                failed = responses_protocol.ResponsesStream(
                    model=public, request=self.chat.original
                )
                failed.started = True  # the provider's response.created went out already
                ending = failed.failed(
                    502,
                    str(self.provider_error.get("message") or "The provider failed."),
                    code=self.provider_error.get("code"),
                )
        if kind in NATIVE_TERMINAL or kind == "error":
            self.ended = True
        delta = event.get("delta")
        text = delta if isinstance(delta, str) else native_text(delta)
        body = b"event: " + kind.encode() + b"\ndata: " + orjson.dumps(event) + b"\n\n"
        return body + ending, text, 1 if text else 0

    def encode(self, event) -> tuple[bytes | None, str, int]:
        """The bytes to send for one upstream event (None to drop it), and its output."""
        if self.native:
            return self.encode_native(event)
        translator = self.translator
        if isinstance(event, Comment):
            return (translator.ping() if translator else bytes(event) + b"\n\n"), "", 0
        if not isinstance(event, dict):
            return (None if translator else b"data: " + orjson.dumps(event) + b"\n\n"), "", 0
        if "error" in event and not event.get("choices"):
            # The provider's own error event: relayed unchanged; the stream ends after it.
            self.provider_error = event["error"]
            if translator:
                error = event["error"] if isinstance(event["error"], dict) else {}
                message = str(error.get("message") or event["error"])
                return translator.error(502, message), "", 0
            return b"data: " + orjson.dumps(event) + b"\n\n", "", 0
        usage = event.get("usage")
        if isinstance(usage, dict):
            self.usage = usage
        choices = event.get("choices") or []
        text, chunks = [], 0
        for choice in choices:
            delta = (choice or {}).get("delta") or {}
            content = delta.get("content")
            if content:
                text.append(content)
                chunks += 1
            reasoning = delta.get("reasoning_content") or delta.get("reasoning")
            if reasoning and isinstance(reasoning, str):
                text.append(reasoning)
                self.delivered_reasoning.append(reasoning)
                chunks += 1
            if delta.get("tool_calls") or delta.get("refusal") or delta.get("function_call"):
                text.append(output_text({k: v for k, v in delta.items() if k != "content"}))
                chunks += 1
        if translator:
            return translator.feed(event) or None, " ".join(text), chunks
        if "model" in event:
            event["model"] = self.chat.route.public_id
        if not self.chat.include_usage:
            event.pop("usage", None)
            if not choices:
                return None, "", 0
        return b"data: " + orjson.dumps(event) + b"\n\n", " ".join(text), chunks

    async def __call__(self, scope, receive, send) -> None:
        status, error_code, completed = 200, "", False
        first_sent = False
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
            if self.translator is not None:
                opening = self.translator.start()
                await send({"type": "http.response.body", "body": opening, "more_body": True})
            done = False
            while not done:
                batch = await self.stream.next_batch()
                out = []
                texts, chunks = [], 0
                for event in batch:
                    if event is DONE:
                        done = True
                        break
                    body, text, count = self.encode(event)
                    if body is not None:
                        out.append(body)
                    # Counted also when a translator holds it back for now (a parallel tool
                    # call written after the one streaming): the provider produced it.
                    texts.append(text)
                    chunks += count
                done = done or self.ended
                if done:
                    # The outcome is journalled before the last byte goes out, so it counts
                    # what this last batch delivers.
                    self.delivered_text.extend(texts)
                    self.delivered_chunks += chunks
                    texts, chunks = [], 0
                    if self.provider_error is None:
                        self.settle(200, "", True)
                    else:
                        self.settle(502, self.provider_error_code(), True)
                    if self.native:
                        pass  # the provider's own last event ends its protocol's stream
                    elif self.translator is None:
                        out.append(b"data: [DONE]\n\n")
                    else:
                        out.append(self.translator.finish(self.usage))
                if out:
                    if gone.is_set():
                        raise ClientGone
                    if not first_sent:
                        first_sent = True
                        elapsed = time.perf_counter() - self.ctx.started
                        self.ctx.ttft_ms = max(int(elapsed * 1000), 1)
                        metrics.FIRST_BYTE_SECONDS.labels(self.ctx.protocol).observe(elapsed)
                    await send(
                        {"type": "http.response.body", "body": b"".join(out), "more_body": True}
                    )
                    self.delivered_text.extend(texts)
                    self.delivered_chunks += chunks
                elif texts:  # held back by the translator: written with a later batch
                    self.delivered_text.extend(texts)
                    self.delivered_chunks += chunks
            await send({"type": "http.response.body", "body": b"", "more_body": False})
            completed = True
            if self.provider_error is not None:
                status, error_code = 502, self.provider_error_code()
        except (StreamBroken, UpstreamError) as exc:
            status = exc.status if isinstance(exc, UpstreamError) else 502
            if self.provider_error is not None:  # the provider said why; its event was relayed
                error_code, ending = self.provider_error_code(), b""
            else:
                log.warning("request %s: %s", self.ctx.request_id, exc)
                if isinstance(exc, UpstreamError):
                    error = ApiError(status, exc.message, type=exc.type, code=exc.code)
                else:
                    error = ApiError(
                        502,
                        "The upstream provider stopped mid-stream; you are charged only for "
                        "the output you received.",
                        type="upstream_error",
                        code="upstream_stream_broken",
                    )
                error_code, ending = error.code or "", b"data: " + error.body() + b"\n\n"
                if self.translator is not None:
                    ending = self.translator.error(error.status, error.message)
                elif self.native:
                    ending = native_error_event(self.ctx.protocol, self.chat, error)
            with contextlib.suppress(OSError):
                await send({"type": "http.response.body", "body": ending, "more_body": False})
        except (OSError, ClientGone, asyncio.CancelledError) as exc:  # the client went away
            status, error_code = 499, "client_disconnected"
            if isinstance(exc, asyncio.CancelledError):
                raise
        finally:
            watcher.cancel()
            self.stream.close()
            self.settle(status, error_code, completed)

    def provider_error_code(self) -> str:
        error = self.provider_error
        code = error.get("code") or error.get("type") if isinstance(error, dict) else None
        return str(code or "upstream_error")[:50]

    def settle(self, status: int, error_code: str, completed: bool) -> None:
        if self.ctx.keep_prompt is not None:
            self.ctx.keep_answer = {
                "text": "".join(self.delivered_text),
                "reasoning": "".join(self.delivered_reasoning),
                "streamed": True,
            }
        usage = None
        if completed and self.provider_error is None:
            usage = usage_from_provider(self.usage)
        counted = usage is None
        if counted:
            usage = Usage(
                # An upstream failure costs only the output that arrived; a client that left
                # pays for its prompt too.
                prompt=0 if status >= 500 else self.prompt_estimate,
                completion=count_output(" ".join(self.delivered_text), self.delivered_chunks),
                reasoning=count_text_tokens("".join(self.delivered_reasoning)),
            )
        self.gateway.finish_usage(
            self.ctx,
            self.chat.route,
            usage,
            status=status,
            held=self.held,
            error_code=error_code,
            stream=True,
            usage_counted=counted,
        )


class GatewayApp:
    """The ASGI application: a few routes dispatched directly (Starlette's router and middleware
    stack cost more than the routing they would do here), errors in the OpenAI shape."""

    def __init__(self):
        self.gateway = Gateway()
        gateway = self.gateway
        self.routes = {
            "/chat/completions": (("POST",), gateway.chat_completions),
            "/messages": (("POST",), gateway.messages),
            "/messages/count_tokens": (("POST",), gateway.count_tokens),
            "/responses": (("POST",), gateway.responses),
            "/models": (("GET",), gateway.models),
            "/balance": (("GET",), gateway.balance),
            "/openapi.json": (("GET",), self.openapi),
            "": (("GET", "HEAD"), gateway.root),
            "/": (("GET", "HEAD"), gateway.root),
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
        if route is None and path.startswith("/models/") and len(path) > len("/models/"):
            model_id = path[len("/models/") :]
            route = (("GET",), partial(self.gateway.model, model_id=model_id))
        anthropic = path.startswith("/messages") or "anthropic-version" in request.headers
        if route is None:
            response = self.gateway.error_response(
                Ctx(protocol="messages" if anthropic else "chat"),
                ApiError(
                    404,
                    f"Unknown endpoint {scope['path']}. See the API documentation.",
                    code="unknown_endpoint",
                ),
            )
        elif scope["method"] not in route[0]:
            response = self.gateway.error_response(
                Ctx(protocol="messages" if anthropic else "chat"),
                ApiError(
                    405,
                    f"Method {scope['method']} is not allowed here; use {route[0][0]}.",
                    code="method_not_allowed",
                    headers={"allow": ", ".join(route[0])},
                ),
            )
        else:
            response = await route[1](request)
        await response(scope, receive, send)

    async def lifespan(self, receive, send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await self.gateway.startup()
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await self.gateway.shutdown()
                await send({"type": "lifespan.shutdown.complete"})
                return


def build_app() -> GatewayApp:
    return GatewayApp()
