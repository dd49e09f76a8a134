"""Router benchmark: what choosing a deployment costs per request, in process.

    .venv/bin/python bench/gateway/router.py [--n 200000]

Times ``Router.plan`` for a model with one deployment (the baseline: today's catalogs) and for
pools of 2 and 5 deployments in two tiers, with and without a session (sticky lookup), and a
``report`` of a success; prints µs per call and the difference to the baseline, all measured in
the same run. No server, database or Redis is needed (the router's shared state is written in
the background; here it goes nowhere).
"""

import argparse
import asyncio
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.test")

import django

django.setup()

from apps.catalog.selectors import Route, Target  # noqa: E402
from apps.gateway.router import Router  # noqa: E402
from apps.gateway.state import MemoryStore  # noqa: E402


def route(n: int) -> Route:
    targets = tuple(
        Target(
            name=f"p{i}:KEY_{i}:model",
            provider=f"p{i}",
            base_url="http://127.0.0.1:1/v1",
            api_key="k",
            upstream_id="model",
            priority=0 if i < 3 else 1,
            weight=1 + i,
        )
        for i in range(n)
    )
    first = targets[0]
    return Route(
        public_id=f"bench-{n}",
        upstream_id=first.upstream_id,
        base_url=first.base_url,
        api_key=first.api_key,
        provider=first.provider,
        family="",
        input_price=1,
        output_price=1,
        context_length=1000,
        max_output=100,
        created=0,
        deployments=targets,
    )


def per_call(fn, n: int) -> float:
    best = float("inf")
    for _ in range(3):
        started = time.perf_counter()
        for _ in range(n):
            fn()
        best = min(best, (time.perf_counter() - started) / n)
    return best * 1e6


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=200_000)
    n = parser.parse_args().n
    store = MemoryStore()
    loop = asyncio.new_event_loop()
    router = Router(lambda: store, lambda coro: coro.close())
    one, two, five = route(1), route(2), route(5)
    for r in (two, five):  # the once-a-second background read has happened
        router.synced[r.public_id] = time.monotonic() + 1e9
    router.report(five, five.deployments[0], None, session="s")
    rows = [
        ("1 deployment (baseline)", lambda: router.plan(one)),
        ("2 deployments", lambda: router.plan(two)),
        ("5 deployments, 2 tiers", lambda: router.plan(five)),
        ("5 deployments + sticky session", lambda: router.plan(five, "s")),
        (
            "report a success (5, session)",
            lambda: router.report(five, five.deployments[0], None, "s"),
        ),
    ]
    baseline = None
    print(f"{'':34} {'µs/call':>9} {'vs baseline':>12}")
    for label, fn in rows:
        us = per_call(fn, n)
        baseline = us if baseline is None else baseline
        print(f"{label:34} {us:9.2f} {us - baseline:+11.2f}")
    loop.close()


if __name__ == "__main__":
    main()
