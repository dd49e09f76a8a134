"""Per-request shared state of the gateway: cached key facts, rate-limit windows and the
"last used" marker, in one Redis round trip (or in process memory on the embedded default).

Its rule: a store answers the same calls in Redis (every process) or in memory (one process,
and the fallback of every process while Redis is down); Redis's store is composed of the key
check (``key_check.py``), the tokens counter (``token_counter.py``) and the outage rule
(``outage.py``)."""

import json
import time
from dataclasses import asdict

from django.conf import settings
from redis.exceptions import RedisError

from apps.keys import cache as key_cache
from apps.keys.selectors import KeyFacts

from .key_check import CHECK_SCRIPT, CHECK_SHA, RATE_PREFIX, TOUCH_PREFIX, KeyCheck
from .lean_redis import LeanRedis
from .outage import OUTAGE_KEY_CACHE_SECONDS, Outage
from .token_counter import TOKENS_FLUSH_SECONDS, TOKENS_PREFIX, WINDOW_SECONDS, TokenCounter

__all__ = [  # the names callers import from here
    "CHECK_SCRIPT", "CHECK_SHA", "RATE_PREFIX", "TOKENS_FLUSH_SECONDS", "TOKENS_PREFIX",
    "TOUCH_PREFIX", "WINDOW_SECONDS", "MemoryStore", "RedisStore", "make_store",
]  # fmt: skip
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


class RedisStore:
    """Redis, shared by every process. When it cannot be reached the gateway keeps serving:
    key facts come from PostgreSQL (cached a few seconds in this process) and rate limits are
    counted per process, with one warning per interval instead of an error per request
    (``outage.py``).

    It composes the per-request key check (``key_check.py``, over a lean connection of its own)
    and the tokens-per-minute counter (``token_counter.py``); the key facts cache and the
    routing state shared by every process (cooldowns, sticky sessions, minute counters) are
    here, over redis-py."""

    def __init__(self, url: str):
        import redis.asyncio as aioredis

        self.redis = aioredis.Redis.from_url(
            url, max_connections=256, socket_connect_timeout=0.5, socket_timeout=1.0
        )
        self.lean = LeanRedis.from_url(url)
        self.fallback = MemoryStore(max_ttl=OUTAGE_KEY_CACHE_SECONDS)
        self.outage = Outage()
        self.counter = TokenCounter(self.redis, self.outage, self.fallback)
        self.keys = KeyCheck(self.redis, self.lean, self.outage, self.fallback, self.counter)
        # The per-request calls, bound once: the hot path pays no extra call for the split.
        self.check_begin = self.keys.begin
        self.check = self.keys.check
        self.add_tokens = self.counter.add

    @property
    def down(self) -> bool:
        return self.outage.down

    @property
    def tokens(self) -> dict[str, tuple[int, int]]:
        """Tokens of finished requests not in Redis yet: digest -> (minute, tokens)."""
        return self.counter.pending

    async def remember(self, digest: str, value: str, ttl: int) -> None:
        if self.down:
            return await self.fallback.remember(digest, value, ttl)
        try:
            await self.redis.set(key_cache.KEY_PREFIX + digest, value, ex=ttl, nx=True)
        except (RedisError, OSError) as exc:
            self.outage.note(exc)

    # Routing state shared by every process (router.py): plain values with a TTL, counters.
    async def get_many(self, keys: list[str]) -> list:
        """Values shared by every process (routing state), None for each while Redis is down."""
        if self.down or not keys:
            return [None] * len(keys)
        try:
            return await self.redis.mget(keys)
        except (RedisError, OSError) as exc:
            self.outage.note(exc)
            return [None] * len(keys)

    async def put(self, key: str, value: str, ttl_ms: int) -> None:
        if self.down:
            return
        try:
            await self.redis.set(key, value, px=max(int(ttl_ms), 1))
        except (RedisError, OSError) as exc:
            self.outage.note(exc)

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
            self.outage.note(exc)
            return None
        return int(total)

    async def close(self) -> None:
        self.counter.close()
        if self.lean is not None:
            self.lean.close()
        await self.redis.aclose()


def make_store():
    return RedisStore(settings.REDIS_URL) if settings.REDIS_URL else MemoryStore()
