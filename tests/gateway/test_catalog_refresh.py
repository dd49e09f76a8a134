"""The catalog cache of a gateway process: one refresh at a time."""

import asyncio

from apps.gateway import runtime as runtime_module
from apps.gateway.runtime import Runtime
from tests.threads import run_async


def test_requests_during_a_refresh_serve_the_last_copy_and_query_once(settings, monkeypatch):
    settings.GATEWAY_CATALOG_CACHE_SECONDS = 60
    rt = Runtime()
    calls = []

    async def db(fn, **kwargs):
        calls.append(fn)
        await asyncio.sleep(0.05)  # the query, in a worker thread
        return {"fresh": len(calls)}

    monkeypatch.setattr(rt, "db", db)

    async def scenario():
        first = await rt.routes()  # nothing cached yet: loaded
        rt._routes = (0.0, first)  # expired
        many = await asyncio.gather(*(rt.routes() for _ in range(32)))
        return first, many, await rt.routes()

    first, many, after = run_async(scenario())
    assert first == {"fresh": 1}
    assert len(calls) == 2  # one load, one refresh for 32 concurrent requests
    assert many.count({"fresh": 2}) == 1 and many.count({"fresh": 1}) == 31
    assert after == {"fresh": 2}  # cached now
    assert all(fn is runtime_module.catalog_routes for fn in calls)
    rt.executor.shutdown()
    rt.cpu.shutdown()
