"""The per-request key check over the lean Redis connection: the same answers as redis-py, the
check written before it is awaited, and every way it can fail falling back as any Redis error
does (a restart that forgets the script, a server that goes away, one that does not answer)."""

import asyncio
import socket
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from redis import Redis

from apps.gateway import lean_redis
from apps.gateway.lean_redis import LeanRedis
from apps.gateway.state import RedisStore
from apps.keys import cache as key_cache

from .test_outages import private_redis  # noqa: F401 (a fixture)


def run(coroutine_function):
    with ThreadPoolExecutor(1) as own_loop:  # another test's loop may be running here
        return own_loop.submit(asyncio.run, coroutine_function()).result()


def test_the_lean_check_answers_as_redis_py_does_and_counts_each_request_once(
    private_redis,  # noqa: F811
):
    url = f"redis://127.0.0.1:{private_redis['port']}/3"
    server = Redis.from_url(url)
    server.set(key_cache.KEY_PREFIX + "d1", b'{"x": 1}')

    async def scenario():
        store = RedisStore(url)
        first = await store.check("d1", 7)  # connects, then sends
        assert store.lean.ready
        pending = store.check_begin("d1", 7)  # on the wire before it is awaited
        assert pending is not None
        second = await store.check("d1", 7, pending)
        unknown = await store.check("nope", 7)
        await store.close()
        return first, second, unknown

    first, second, unknown = run(scenario)
    assert first == (b'{"x": 1}', 1, True, 0)
    assert second == (b'{"x": 1}', 2, False, 0)  # the same window: counted, "last used" not due
    assert unknown == (None, 1, True, 0)
    assert int(server.get("ocx:rl:d1:7")) == 2


def test_a_restarted_redis_without_the_script_and_a_lost_connection_fall_back(
    private_redis,  # noqa: F811
):
    url = f"redis://127.0.0.1:{private_redis['port']}/0"

    async def scenario():
        store = RedisStore(url)
        assert (await store.check("d2", 1))[1] == 1
        store.add_tokens("d2", 1, 40)  # a finished request's tokens ride on the next check
        Redis.from_url(url).script_flush()  # as after a restart: NOSCRIPT
        again = await store.check("d2", 1)  # redis-py loads it again, tokens and all
        assert again[1] == 2 and again[3] == 40
        assert (await store.check("d2", 1))[1:] == (3, False, 40)  # the lean path again
        private_redis["process"].terminate()
        private_redis["process"].wait(timeout=10)
        await asyncio.sleep(0.1)
        _, count, _, _ = await store.check("d2", 1)  # Redis away: this process counts
        assert store.down and count == 1
        await store.close()

    run(scenario)


def test_a_redis_that_does_not_answer_times_out_and_the_connection_starts_afresh(monkeypatch):
    monkeypatch.setattr(lean_redis, "TIMEOUT_SECONDS", 0.2)
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    accepted = []
    threading.Thread(target=lambda: accepted.append(listener.accept()), daemon=True).start()

    async def scenario():
        lean = LeanRedis("127.0.0.1", listener.getsockname()[1])
        await lean.connect()
        reply = lean.send(b"PING")
        with pytest.raises(TimeoutError):
            await reply
        return lean.ready

    try:
        assert run(scenario) is False  # closed: the next command reconnects
    finally:
        listener.close()
