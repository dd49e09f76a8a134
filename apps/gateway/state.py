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
        if key_cache.memory_get(digest) is None:  # never over a tombstone
            key_cache.memory_set(digest, value, ttl)

    async def close(self) -> None:
        return None


# One round trip and one command for the three per-request facts: the cached key facts, this
# minute's request count, and whether "last used" is due for a write.
CHECK_SCRIPT = """
local facts = redis.call('GET', KEYS[1])
local count = redis.call('INCR', KEYS[2])
if count == 1 then redis.call('EXPIRE', KEYS[2], ARGV[1]) end
local touch = redis.call('SET', KEYS[3], 1, 'NX', 'EX', ARGV[2])
return {facts or '', count, touch and 1 or 0}
"""


class RedisStore:
    def __init__(self, url: str):
        import redis.asyncio as aioredis

        self.redis = aioredis.Redis.from_url(url, max_connections=256)
        self.script = self.redis.register_script(CHECK_SCRIPT)

    async def check(self, digest: str, window: int):
        keys = [
            key_cache.KEY_PREFIX + digest,
            f"{RATE_PREFIX}{digest}:{window}",
            TOUCH_PREFIX + digest,
        ]
        cached, count, touch = await self.script(
            keys=keys, args=[WINDOW_SECONDS + 10, WINDOW_SECONDS]
        )
        return cached or None, count, bool(touch)

    async def remember(self, digest: str, value: str, ttl: int) -> None:
        await self.redis.set(key_cache.KEY_PREFIX + digest, value, ex=ttl, nx=True)

    async def close(self) -> None:
        await self.redis.aclose()


def make_store():
    return RedisStore(settings.REDIS_URL) if settings.REDIS_URL else MemoryStore()
