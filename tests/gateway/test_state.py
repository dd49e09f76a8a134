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


def test_a_keys_tokens_reach_every_process_with_its_next_check_or_within_a_second():
    """Tokens of a finished request ride on the key's next check from the same process (no
    round trip of their own); another process sees them within TOKENS_FLUSH_SECONDS; tokens of a
    minute that is over count no more."""
    import time
    import uuid

    from apps.gateway.state import TOKENS_FLUSH_SECONDS, WINDOW_SECONDS

    if time.time() % WINDOW_SECONDS > WINDOW_SECONDS - 5:  # all of it in one minute
        time.sleep(WINDOW_SECONDS - time.time() % WINDOW_SECONDS + 0.1)
    digest, past = uuid.uuid4().hex * 2, uuid.uuid4().hex * 2
    window = int(time.time() // WINDOW_SECONDS)

    async def scenario():
        here, there = RedisStore(settings.REDIS_URL), RedisStore(settings.REDIS_URL)
        try:
            here.add_tokens(digest, window, 17)
            here.add_tokens(digest, window, 3)
            assert (await there.check(digest, window))[3] == 0  # not flushed yet
            assert (await here.check(digest, window))[3] == 20  # carried by this check
            here.add_tokens(digest, window, 5)
            here.add_tokens(past, window - 1, 1000)  # a minute that is over: dropped
            await asyncio.sleep(TOKENS_FLUSH_SECONDS + 0.3)
            seen = (await there.check(digest, window))[3], (await there.check(past, window))[3]
            return seen, here.tokens
        finally:
            await here.close()
            await there.close()

    with ThreadPoolExecutor(1) as pool:
        seen, left = pool.submit(asyncio.run, scenario()).result()
    assert seen == (25, 0) and left == {}
