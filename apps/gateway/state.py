"""Per-request shared state of the gateway: cached key facts, rate-limit windows and the
"last used" marker, in one Redis round trip (or in process memory on the embedded default)."""

import json
import time
from dataclasses import asdict

from django.conf import settings

from apps.keys import cache as key_cache
from apps.keys.selectors import KeyFacts

RATE_PREFIX = "ocx:rl:"
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
    """For one process without Redis (the embedded default)."""

    def __init__(self):
        self.windows: dict[str, int] = {}
        self.window = 0
        self.touched: dict[str, float] = {}

    async def check(self, digest: str, window: int):
        if window != self.window:
            self.window, self.windows = window, {}
        count = self.windows[digest] = self.windows.get(digest, 0) + 1
        now = time.monotonic()
        touch = self.touched.get(digest, 0) <= now
        if touch:
            if len(self.touched) > 100_000:
                self.touched.clear()
            self.touched[digest] = now + WINDOW_SECONDS
        return key_cache.memory_get(digest), count, touch

    async def remember(self, digest: str, value: str, ttl: int) -> None:
        key_cache.memory_set(digest, value, ttl)

    async def close(self) -> None:
        return None


class RedisStore:
    def __init__(self, url: str):
        import redis.asyncio as aioredis

        self.redis = aioredis.Redis.from_url(url, max_connections=256)

    async def check(self, digest: str, window: int):
        rate_key = f"{RATE_PREFIX}{digest}:{window}"
        pipe = self.redis.pipeline(transaction=False)
        pipe.get(key_cache.KEY_PREFIX + digest)
        pipe.incr(rate_key)
        pipe.expire(rate_key, WINDOW_SECONDS + 10, nx=True)
        pipe.set(TOUCH_PREFIX + digest, 1, nx=True, ex=WINDOW_SECONDS)
        cached, count, _, touch = await pipe.execute()
        return cached, count, bool(touch)

    async def remember(self, digest: str, value: str, ttl: int) -> None:
        await self.redis.set(key_cache.KEY_PREFIX + digest, value, ex=ttl)

    async def close(self) -> None:
        await self.redis.aclose()


def make_store():
    return RedisStore(settings.REDIS_URL) if settings.REDIS_URL else MemoryStore()
