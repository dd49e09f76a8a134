"""The gateway's cache of key facts, keyed by the key's digest.

Redis when ``REDIS_URL`` is set (shared by every web process), else a dict in this process (the
embedded default runs the portal and the gateway in one process). The portal invalidates an entry
whenever a key's state changes, so a revoked key is refused on the very next request.
"""

import time

from django.conf import settings

KEY_PREFIX = "ocx:key:"
# Written over a key's entry when its state changes. While it lives the gateway reads the key
# from the database and may not cache it (its cache writes only fill empty entries), so a read
# that raced the change cannot put the old state back.
TOMBSTONE = "~"
TOMBSTONE_SECONDS = 5
# digest -> (monotonic deadline, value); only used without Redis.
memory: dict[str, tuple[float, str]] = {}
_redis = None


def sync_redis():
    global _redis
    if _redis is None:
        import redis

        _redis = redis.Redis.from_url(settings.REDIS_URL)
    return _redis


def redis_ping() -> None:
    """The readiness probe of the shared cache (nothing to check without REDIS_URL)."""
    if settings.REDIS_URL:
        sync_redis().ping()


def memory_get(digest: str) -> str | None:
    item = memory.get(digest)
    if item is None:
        return None
    if item[0] < time.monotonic():
        memory.pop(digest, None)
        return None
    return item[1]


def memory_set(digest: str, value: str, ttl: float) -> None:
    if len(memory) > 100_000:
        memory.clear()
    memory[digest] = (time.monotonic() + ttl, value)


def invalidate(*digests: str) -> None:
    for digest in digests:
        memory[digest] = (time.monotonic() + TOMBSTONE_SECONDS, TOMBSTONE)
    if settings.REDIS_URL and digests:
        pipe = sync_redis().pipeline(transaction=False)
        for digest in digests:
            pipe.set(KEY_PREFIX + digest, TOMBSTONE, ex=TOMBSTONE_SECONDS)
        pipe.execute()
