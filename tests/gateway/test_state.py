import asyncio
from concurrent.futures import ThreadPoolExecutor

import pytest
from django.conf import settings

from apps.gateway.state import MemoryStore, RedisStore
from apps.keys import cache as key_cache


@pytest.mark.parametrize("kind", ["redis", "memory"])
def test_a_read_that_raced_a_revocation_cannot_cache_the_old_state(kind, monkeypatch):
    digest = "d" * 64
    if kind == "memory":
        monkeypatch.setattr(settings, "REDIS_URL", "")
        store = MemoryStore()
    else:
        store = RedisStore(settings.REDIS_URL)

    async def scenario():
        await store.remember(digest, "old-facts", 60)
        key_cache.invalidate(digest)  # the revocation commits
        await store.remember(digest, "stale-read", 60)  # a read from before the commit
        cached, count, _, _ = await store.check(digest, 1)
        if kind == "redis":
            await store.close()
        return cached, count

    with ThreadPoolExecutor(1) as pool:  # its own event loop, whatever runs in this thread
        cached, count = pool.submit(asyncio.run, scenario()).result()
    assert cached in (key_cache.TOMBSTONE, key_cache.TOMBSTONE.encode())
    assert count == 1
