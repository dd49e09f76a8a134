"""The gateway's runtime: the request context, the process's shared resources, and the
answers every stage writes (JSON, and errors in each protocol's shape)."""

import asyncio
import contextlib
import logging
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

import orjson
from django.conf import settings
from django.db import connections
from django.utils import timezone
from starlette.requests import Request
from starlette.responses import Response

from apps.catalog.selectors import catalog_routes
from apps.core.logs import request_id_var
from apps.keys.selectors import KeyFacts
from apps.usage.journal import Journal

from .db_steps import _db_call, database_unavailable
from .errors import ApiError, bad_request
from .journal_recovery import recover_journals
from .pg import PgMoney, SettleBatcher
from .protocols.faces import FACES
from .protocols.native import Native
from .router import Router
from .state import make_store
from .upstream import Upstream

log = logging.getLogger("opencodex.gateway")
JSON = "application/json"


def new_request_id() -> str:
    return f"req_{uuid.uuid4().hex}"


@dataclass
class Ctx:
    request_id: str = field(default_factory=new_request_id)
    started: float = field(default_factory=time.perf_counter)
    created_at: object = field(default_factory=timezone.now)
    headers: dict = field(default_factory=dict)
    facts: KeyFacts | None = None
    digest: str = ""  # the presented key's
    client_ip: str | None = None  # the client's address, as the trusted proxies define it
    model: str = ""
    finished: bool = False
    protocol: str = "chat"  # chat, messages or responses: the shape of answers and errors
    ttft_ms: int = 0  # when the first byte of a streamed answer left
    native: Native | None = None  # the pass-through request, when the provider speaks it
    body_bytes: int = 0  # the request body's size
    session: str | None = None  # the client's session identity (sticky routing)
    deployment: str = ""  # the deployment that answered
    target: object = None  # its catalog Target (its cost prices price upstream_cost)
    attempts: list = field(default_factory=list)  # (deployment, status, ms) of each attempt
    owners: dict = field(default_factory=dict)  # id(target) → the fallback model it serves
    # The prompt and answer, kept only for users who asked (KeyFacts.store_days).
    keep_prompt: object = None
    keep_answer: object = None

    def __post_init__(self):
        request_id_var.set(self.request_id)  # every log line of this request names it

    def all_headers(self, extra=None) -> dict:
        return {
            "x-request-id": self.request_id,
            **self.face.headers(self.request_id),
            **self.headers,
            **(extra or {}),
        }

    @property
    def face(self):
        """The protocol's face (protocols/faces.py): what differs between protocols."""
        return FACES[self.protocol]

    @property
    def latency_ms(self) -> int:
        return int((time.perf_counter() - self.started) * 1000)


def json_response(ctx: Ctx, data, extra=None) -> Response:
    return Response(orjson.dumps(data), 200, ctx.all_headers(extra), media_type=JSON)


def error_response(ctx: Ctx, exc: ApiError) -> Response:
    """An error in the request's protocol's own shape (and status, where it names one)."""
    status, body = ctx.face.error(exc, ctx.request_id)
    return Response(body, status, ctx.all_headers(exc.headers), media_type=JSON)


class Runtime:
    """The resources one gateway process shares between requests: worker threads for the
    database and for CPU work on large bodies, background tasks, the upstream client, the Redis
    state, the PostgreSQL fast path and its settlement batcher, the journal, the catalog."""

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
        self._refreshing = False  # a catalog refresh is under way
        self.pending: set[asyncio.Task] = set()
        engine = settings.DATABASES["default"]["ENGINE"]
        self.pg = PgMoney() if settings.GATEWAY_PG_FASTPATH and "postgresql" in engine else None
        self.batcher = SettleBatcher(self.pg) if self.pg is not None else None
        directory = settings.GATEWAY_JOURNAL_DIR
        self.journal = Journal(Path(directory)) if directory else None
        self.recovery: asyncio.Task | None = None
        self.router = Router(self.get_store, self.spawn)

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
        if routes and self._refreshing:
            # One refresh at a time: meanwhile the others serve the copy it replaces (without
            # this, every request arriving during a refresh ran the catalog query again).
            return routes
        self._refreshing = True
        try:
            fresh = await self.db(catalog_routes)
        except Exception as exc:
            if not routes or not database_unavailable(exc):
                raise
            # The last good copy serves while the database is away; try again in a moment.
            log.warning("catalog refresh failed (%s); serving the last good copy", exc)
            self._routes = (time.monotonic() + 2, routes)
            return routes
        finally:
            self._refreshing = False
        self._routes = (time.monotonic() + settings.GATEWAY_CATALOG_CACHE_SECONDS, fresh)
        return fresh

    async def startup(self) -> None:
        if self.journal is not None:
            loop = asyncio.get_running_loop()
            self.recovery = loop.create_task(recover_journals(self.db, self.journal))

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
