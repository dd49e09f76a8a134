"""Per-request shared state of the gateway: cached key facts, rate-limit windows and the
"last used" marker, in one Redis round trip (or in process memory on the embedded default)."""

import asyncio
import contextlib
import hashlib
import json
import logging
import time
from dataclasses import asdict

from django.conf import settings
from redis.exceptions import RedisError

from apps.keys import cache as key_cache
from apps.keys.selectors import KeyFacts

from .lean_redis import LeanRedis, ReplyError

log = logging.getLogger("opencodex.gateway.state")
RATE_PREFIX = "ocx:rl:"
# While Redis is unreachable: how long this process's own key-facts cache may hold an entry (a
# revocation cannot reach it through Redis), how often Redis is tried again, and how often the
# outage is logged.
OUTAGE_KEY_CACHE_SECONDS = 5
OUTAGE_RETRY_SECONDS = 1.0
OUTAGE_LOG_SECONDS = 30.0
TOUCH_PREFIX = "ocx:used:"
WINDOW_SECONDS = 60
UNKNOWN = "-"  # cached "no such key", so a flood of made-up keys does not reach the database


def encode(facts: KeyFacts | None) -> str:
    return UNKNOWN if facts is None else json.dumps(asdict(facts), separators=(",", ":"))


def decode(value) -> KeyFacts | None:
    if isinstance(value, bytes):
        value = value.decode()
    return None if value == UNKNOWN else KeyFacts(**json.loads(value))


class MemoryStore:
    """For one process without Redis (the embedded default), and the fallback of every process
    while Redis is down."""

    def __init__(self, max_ttl: float | None = None):
        self.max_ttl = max_ttl
        self.windows: dict[str, int] = {}
        self.window = 0
        self.tokens: dict[str, int] = {}  # the tokens of this minute's finished requests
        self.tokens_window = 0
        self.touched: dict[str, float] = {}

    def check_begin(self, digest: str, window: int):
        return None  # nothing to put on a wire

    async def check(self, digest: str, window: int, pending=None):
        if window != self.window:
            self.window, self.windows = window, {}
        count = self.windows[digest] = self.windows.get(digest, 0) + 1
        now = time.monotonic()
        touch = self.touched.get(digest, 0) <= now
        if touch:
            if len(self.touched) > 100_000:
                self.touched.clear()
            self.touched[digest] = now + WINDOW_SECONDS
        tokens = self.tokens.get(digest, 0) if window == self.tokens_window else 0
        return key_cache.memory_get(digest), count, touch, tokens

    def add_tokens(self, digest: str, window: int, tokens: int) -> None:
        """Count a finished request's tokens in the key's minute (``window``)."""
        if window != self.tokens_window:
            self.tokens_window, self.tokens = window, {}
        self.tokens[digest] = self.tokens.get(digest, 0) + tokens

    async def remember(self, digest: str, value: str, ttl: int) -> None:
        if key_cache.memory_get(digest) is None:  # never over a tombstone
            key_cache.memory_set(digest, value, min(ttl, self.max_ttl or ttl))

    # Routing state (cooldowns, sticky sessions): one process has nothing to share, its router
    # keeps its own copy.
    async def get_many(self, keys: list[str]) -> list:
        return [None] * len(keys)

    async def put(self, key: str, value: str, ttl_ms: int) -> None:
        return None

    async def add(self, key: str, amount: int, ttl_ms: int) -> int | None:
        return None

    async def close(self) -> None:
        return None


# One round trip and one command for the four per-request facts: the cached key facts, this
# minute's request count, whether "last used" is due for a write, and the tokens this minute's
# finished requests used (a key's tokens-per-minute limit).
# The tokens this process counted since (ARGV[3]) are added on the way: a key's finished
# requests reach Redis with its next request here, or within TOKENS_FLUSH_SECONDS.
CHECK_SCRIPT = """
local facts = redis.call('GET', KEYS[1])
local count = redis.call('INCR', KEYS[2])
if count == 1 then redis.call('EXPIRE', KEYS[2], ARGV[1]) end
local touch = redis.call('SET', KEYS[3], 1, 'NX', 'EX', ARGV[2])
local tokens
if tonumber(ARGV[3]) > 0 then
    tokens = redis.call('INCRBY', KEYS[4], ARGV[3])
    redis.call('EXPIRE', KEYS[4], ARGV[1])
else
    tokens = tonumber(redis.call('GET', KEYS[4]) or '0')
end
return {facts or '', count, touch and 1 or 0, tokens}
"""
TOKENS_PREFIX = "ocx:tpm:"
TOKENS_FLUSH_SECONDS = 1.0
CHECK_SHA = hashlib.sha1(CHECK_SCRIPT.encode()).hexdigest()  # noqa: S324 (Redis's script id)


def _retrieved(future) -> None:
    if not future.cancelled():
        future.exception()  # read, so an unread failure is not reported as lost


class RedisStore:
    """Redis, shared by every process. When it cannot be reached the gateway keeps serving:
    key facts come from PostgreSQL (cached a few seconds in this process) and rate limits are
    counted per process, with one warning per interval instead of an error per request.

    The per-request check goes over a lean connection of its own (``lean_redis.py``), written
    as soon as the key is parsed (``check_begin``); everything else over redis-py."""

    def __init__(self, url: str):
        import redis.asyncio as aioredis

        self.redis = aioredis.Redis.from_url(
            url, max_connections=256, socket_connect_timeout=0.5, socket_timeout=1.0
        )
        self.script = self.redis.register_script(CHECK_SCRIPT)
        self.lean = LeanRedis.from_url(url)
        self.fallback = MemoryStore(max_ttl=OUTAGE_KEY_CACHE_SECONDS)
        # Tokens of finished requests not in Redis yet: digest -> (minute, tokens).
        self.tokens: dict[str, tuple[int, int]] = {}
        self.flusher: asyncio.Task | None = None
        self.down_until = 0.0
        self.logged_at = -OUTAGE_LOG_SECONDS
        self.failures = 0

    @property
    def down(self) -> bool:
        return time.monotonic() < self.down_until

    def outage(self, exc: Exception) -> None:
        now = time.monotonic()
        self.down_until = now + OUTAGE_RETRY_SECONDS
        self.failures += 1
        if now - self.logged_at >= OUTAGE_LOG_SECONDS:
            self.logged_at = now
            log.warning(
                "Redis is unreachable (%s: %s): serving with keys from PostgreSQL and rate "
                "limits per process (%d failed calls so far)",
                type(exc).__name__,
                exc,
                self.failures,
            )

    def _request(self, digest: str, window: int) -> tuple[list[str], int]:
        """The check's keys, and the tokens this process counted for the key since (taken)."""
        keys = [
            key_cache.KEY_PREFIX + digest,
            f"{RATE_PREFIX}{digest}:{window}",
            TOUCH_PREFIX + digest,
            f"{TOKENS_PREFIX}{digest}:{window}",
        ]
        pending = self.tokens.pop(digest, None) if self.tokens else None
        return keys, pending[1] if pending is not None and pending[0] == window else 0

    def check_begin(self, digest: str, window: int):
        """Put the check on the wire now, when the lean connection is up: what ``check`` needs
        to read its reply, or None."""
        lean = self.lean
        if lean is None or not lean.ready or self.down:
            return None
        keys, add = self._request(digest, window)
        args = (WINDOW_SECONDS + 10, WINDOW_SECONDS, add)
        reply = lean.send(b"EVALSHA", CHECK_SHA, len(keys), *keys, *args)
        reply.add_done_callback(_retrieved)  # also when a refusal leaves it unread
        return reply, keys, add

    async def check(self, digest: str, window: int, pending=None):
        if self.down:
            if pending is not None:
                pending[0].cancel()
                self._keep_tokens(digest, window, pending[2])
            return await self.fallback.check(digest, window)
        if pending is None and self.lean is not None:
            if not self.lean.ready:
                with contextlib.suppress(ConnectionError, OSError):
                    await self.lean.connect()
            pending = self.check_begin(digest, window)
        if pending is not None:
            reply, keys, add = pending
            try:
                cached, count, touch, tokens = await reply
                return cached or None, count, bool(touch), tokens
            except ReplyError:
                pass  # NOSCRIPT (Redis restarted): redis-py loads the script again, below
            except (ConnectionError, TimeoutError, OSError) as exc:
                self.outage(exc)
                self._keep_tokens(digest, window, add)
                return await self.fallback.check(digest, window)
        else:
            keys, add = self._request(digest, window)
        try:
            cached, count, touch, tokens = await self.script(
                keys=keys, args=[WINDOW_SECONDS + 10, WINDOW_SECONDS, add]
            )
        except (RedisError, OSError) as exc:
            self.outage(exc)
            self._keep_tokens(digest, window, add)
            return await self.fallback.check(digest, window)
        return cached or None, count, bool(touch), tokens

    def _keep_tokens(self, digest: str, window: int, tokens: int) -> None:
        if tokens:  # Redis did not take them: counted here while it is away
            self.fallback.add_tokens(digest, window, tokens)

    def add_tokens(self, digest: str, window: int, tokens: int) -> None:
        """Count a finished request's tokens in the key's minute (``window``), for every
        process: with the key's next check from this process, or within a second (tokens of a
        minute that is over count no more); in this process alone while Redis is down."""
        if self.down:
            return self.fallback.add_tokens(digest, window, tokens)
        pending = self.tokens.get(digest)
        if pending is not None and pending[0] == window:
            tokens += pending[1]
        self.tokens[digest] = (window, tokens)
        if self.flusher is None:
            self.flusher = asyncio.get_running_loop().create_task(self.flush_tokens())

    async def flush_tokens(self) -> None:
        await asyncio.sleep(TOKENS_FLUSH_SECONDS)
        self.flusher = None
        pending, self.tokens = self.tokens, {}
        window = int(time.time() // WINDOW_SECONDS)
        pending = {digest: t for digest, (w, t) in pending.items() if w == window}
        if not pending:
            return
        if self.down:
            for digest, tokens in pending.items():
                self.fallback.add_tokens(digest, window, tokens)
            return
        try:
            async with self.redis.pipeline(transaction=False) as pipe:
                for digest, tokens in pending.items():
                    pipe.incrby(f"{TOKENS_PREFIX}{digest}:{window}", tokens)
                    pipe.expire(f"{TOKENS_PREFIX}{digest}:{window}", WINDOW_SECONDS + 10)
                await pipe.execute()
        except (RedisError, OSError) as exc:
            self.outage(exc)
            for digest, tokens in pending.items():
                self.fallback.add_tokens(digest, window, tokens)

    async def remember(self, digest: str, value: str, ttl: int) -> None:
        if self.down:
            return await self.fallback.remember(digest, value, ttl)
        try:
            await self.redis.set(key_cache.KEY_PREFIX + digest, value, ex=ttl, nx=True)
        except (RedisError, OSError) as exc:
            self.outage(exc)

    async def get_many(self, keys: list[str]) -> list:
        """Values shared by every process (routing state), None for each while Redis is down."""
        if self.down or not keys:
            return [None] * len(keys)
        try:
            return await self.redis.mget(keys)
        except (RedisError, OSError) as exc:
            self.outage(exc)
            return [None] * len(keys)

    async def put(self, key: str, value: str, ttl_ms: int) -> None:
        if self.down:
            return
        try:
            await self.redis.set(key, value, px=max(int(ttl_ms), 1))
        except (RedisError, OSError) as exc:
            self.outage(exc)

    async def add(self, key: str, amount: int, ttl_ms: int) -> int | None:
        """Add to a counter shared by every process; its new value (None while Redis is down)."""
        if self.down:
            return None
        try:
            async with self.redis.pipeline(transaction=False) as pipe:
                pipe.incrby(key, amount)
                pipe.pexpire(key, max(int(ttl_ms), 1))
                total, _ = await pipe.execute()
        except (RedisError, OSError) as exc:
            self.outage(exc)
            return None
        return int(total)

    async def close(self) -> None:
        if self.flusher is not None:
            self.flusher.cancel()
        if self.lean is not None:
            self.lean.close()
        await self.redis.aclose()


def make_store():
    return RedisStore(settings.REDIS_URL) if settings.REDIS_URL else MemoryStore()
